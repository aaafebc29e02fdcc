#include "daemon/lost_knotes.hpp"

#include "kqfs/names.hpp"

namespace kqfsd {

void LostKnotes::record(const kqfs::Kqueue::LostKnote& knote) {
  Entry& entry = ring_[total_ % kRecent];
  entry.knote = knote;
  ::clock_gettime(CLOCK_REALTIME, &entry.when);
  ++total_;
}

const LostKnotes::Entry& LostKnotes::recent(size_t index) const {
  const uint64_t oldest = total_ - recent_count();
  return ring_[(oldest + index) % kRecent];
}

std::string describe(const LostKnotes::Entry& entry) {
  tm utc{};
  char when[32] = "?";
  if (::gmtime_r(&entry.when.tv_sec, &utc) != nullptr) {
    ::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &utc);
  }
  const kqfs::Kqueue::LostKnote& knote = entry.knote;
  const std::string_view filter = kqfs::names::filter_name(knote.filter);
  const bool exited = knote.cause == kqfs::Kqueue::LostKnote::Cause::exited;
  return std::string(when) + " " + std::to_string(knote.ident) + " " +
         (filter.empty() ? std::to_string(knote.filter) : std::string(filter)) + " of pid " +
         std::to_string(knote.pid) +
         (exited ? ": the process exited" : ": its descriptor was closed or names another file");
}

}  // namespace kqfsd
