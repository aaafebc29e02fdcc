#include "daemon/descriptor_reserve.hpp"

#include <algorithm>

namespace kqfsd {
namespace {

// Enough to open a log, read /proc and run fusermount3, with room to spare.
constexpr rlim_t kReserve = 32;

}  // namespace

DescriptorReserve::DescriptorReserve() {
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  hard_ = limit.rlim_max;
  // A tiny hard limit still leaves most of it for everyday use.
  everyday_ = hard_ - std::min(kReserve, hard_ / 4);
  set_soft(everyday_);
}

void DescriptorReserve::set_soft(rlim_t soft) const {
  const rlimit limit{soft, hard_};
  ::setrlimit(RLIMIT_NOFILE, &limit);
}

DescriptorReserve::Lift::Lift(const DescriptorReserve& reserve) : reserve(reserve) {
  reserve.set_soft(reserve.hard_);
}

DescriptorReserve::Lift::~Lift() {
  reserve.set_soft(reserve.everyday_);
}

}  // namespace kqfsd
