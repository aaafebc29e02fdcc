// A few descriptors held back from everyday use, so that a daemon whose
// clients took every other one can still log, reopen its log and unmount.
// Everyday work runs under a soft RLIMIT_NOFILE that is the hard limit less
// the reserve: running out there is EMFILE for one request, never a crash.
#pragma once

#include <sys/resource.h>

#include <utility>

namespace kqfsd {

class DescriptorReserve {
 public:
  // Raises the soft limit to the hard one, less the reserve.
  DescriptorReserve();

  rlim_t everyday_limit() const { return everyday_; }
  rlim_t reserve() const { return hard_ - everyday_; }

  // Runs `use` with the reserve open to it.
  template <class Use>
  decltype(auto) with_reserve(Use&& use) const {
    const Lift lift(*this);
    return std::forward<Use>(use)();
  }

 private:
  struct Lift {
    explicit Lift(const DescriptorReserve& reserve);
    ~Lift();
    Lift(const Lift&) = delete;
    Lift& operator=(const Lift&) = delete;
    const DescriptorReserve& reserve;
  };
  void set_soft(rlim_t soft) const;

  rlim_t hard_ = 0;
  rlim_t everyday_ = 0;
};

}  // namespace kqfsd
