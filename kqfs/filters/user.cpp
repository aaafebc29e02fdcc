// EVFILT_USER: events triggered by the program itself. The trigger and the
// 24 user flag bits live in the knote; no kernel object is involved.
#include "kqfs/filter_table.hpp"

namespace kqfs {
namespace {

struct UserKnote final : Knote {
  using Knote::Knote;
  bool triggered = false;
};

class UserFilter final : public Filter {
 public:
  explicit UserFilter(FilterHost& host) : host_(host) {}

  // As FreeBSD, NOTE_TRIGGER in the change that creates the knote does not
  // trigger it; only the flag bits are kept (never the control bits).
  Result<std::unique_ptr<Knote>> attach(const Kevent& change, const Caller&) override {
    auto kn = std::make_unique<UserKnote>(change);
    kn->sfflags = change.fflags & NOTE_FFLAGSMASK;
    return std::unique_ptr<Knote>(std::move(kn));
  }

  void detach(Knote&) override {}

  int touch(Knote& kn, const Kevent& change) override {
    UserKnote& u = user(kn);
    if (change.fflags & NOTE_TRIGGER) u.triggered = true;
    const uint32_t bits = change.fflags & NOTE_FFLAGSMASK;
    switch (change.fflags & NOTE_FFCTRLMASK) {
      case NOTE_FFAND:
        u.sfflags &= bits;
        break;
      case NOTE_FFOR:
        u.sfflags |= bits;
        break;
      case NOTE_FFCOPY:
        u.sfflags = bits;
        break;
      default:  // NOTE_FFNOP
        break;
    }
    u.sdata = change.data;
    if (change.flags & EV_CLEAR) {
      u.triggered = false;
      host_.deactivate(u);
    }
    return 0;
  }

  bool event(Knote& kn) override { return user(kn).triggered; }

  Kevent deliver(Knote& kn) override {
    UserKnote& u = user(kn);
    Kevent out = u.as_event();
    out.fflags = u.sfflags;
    out.data = u.sdata;
    if (u.flags & EV_CLEAR) u.triggered = false;
    return out;
  }

 private:
  static UserKnote& user(Knote& kn) { return static_cast<UserKnote&>(kn); }

  FilterHost& host_;
};

}  // namespace

std::unique_ptr<Filter> make_user_filter(FilterObjects& objects) {
  return std::make_unique<UserFilter>(objects.host);
}

}  // namespace kqfs
