#include "daemon/status_text.hpp"

#include <cstdio>
#include <string_view>

#include "kqfs/codec/codec.hpp"
#include "kqfs/filter_table.hpp"

namespace kqfsd {
namespace {

void add_line(std::string& text, std::string_view key, const std::string& value) {
  text.append(key).append(": ").append(value).append("\n");
}

std::string mode_text(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", mode & 07777);
  return text;
}

}  // namespace

std::string knotes_by_filter(const kqfs::Kqueue& engine) {
  std::string text;
  kqfs::for_each_available_filter([&](const kqfs::FilterRow& row) {
    add_line(text, "knotes." + std::string(row.short_name),
             std::to_string(engine.knote_count(row.id)));
  });
  return text;
}

std::string status_text(const QueueNode& queue, bool with_knotes,
                        const kqfs::SignalTracer& signals) {
  const kqfs::Kqueue& engine = *queue.engine;
  std::string text;
  auto line = [&text](std::string_view key, const std::string& value) {
    add_line(text, key, value);
  };
  line("name", queue.name);
  line("owner", std::to_string(queue.uid) + ":" + std::to_string(queue.gid));
  line("mode", mode_text(queue.mode));
  line("anonymous", queue.anonymous ? "yes" : "no");
  line("tied-to", tied_to_text(queue));
  line("knotes", std::to_string(engine.knote_count()));
  text += knotes_by_filter(engine);
  line("pending", std::to_string(engine.pending()));
  line("readers", std::to_string(queue.waiters.size()));
  line("delivered", std::to_string(queue.events_delivered));
  line("changes", std::to_string(queue.changes_applied));
  const bool rejected = queue.last_error && !queue.last_error->reason.empty();
  line("last-error", rejected ? queue.last_error->reason : "none");
  line("last-fragment", queue.last_fragment.empty() ? "none" : queue.last_fragment);
  // Lost signals are not known by queue: every queue counting signals
  // since before the loss may be short of some.
  if (engine.knote_count(EVFILT_SIGNAL) > 0) {
    line("signals-lost", std::to_string(signals.lost() - queue.signals_lost_before));
  }
  line("knotes-dropped", std::to_string(queue.lost_knotes.total()));
  // Knotes and their udata: only for those who may change them.
  if (!with_knotes) return text;
  const LostKnotes& lost = queue.lost_knotes;
  for (size_t index = 0; index < lost.recent_count(); ++index) {
    line("dropped", describe(lost.recent(index)));
  }
  // The registered knotes as text change records, a bounded number of them:
  // status is read whole at open.
  constexpr size_t kListed = 1000;
  for (const auto& [change, pid] : engine.registrations(kListed)) {
    std::string record = kqfs::codec::format_text_change(change, pid);
    record.pop_back();  // its newline
    line("knote", record);
  }
  if (engine.knote_count() > kListed) {
    line("knotes-unlisted", std::to_string(engine.knote_count() - kListed));
  }
  return text;
}

}  // namespace kqfsd
