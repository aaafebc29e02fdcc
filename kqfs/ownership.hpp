// Who a knote belongs to, apart from the filterops. BSD ties a descriptor's
// knotes to the descriptor (closing it drops them) and a signal knote to the
// process that registered it; the queue asks these rules, not the filters'
// operations, when a change names an existing knote and when it collects.
#pragma once

#include <cstdint>

#include "kqfs/knote.hpp"
#include "kqfs/linux/resolver.hpp"

namespace kqfs {

class Ownership {
 public:
  // True when the ident is a descriptor of the process writing the change.
  virtual bool takes_descriptor() const { return false; }
  // Before attach or touch: EBADF unless the caller has the descriptor open.
  virtual int check(uint64_t /*ident*/, const Caller& /*caller*/) { return 0; }
  // Whether an existing knote still stands for what `caller` names now (the
  // file its descriptor names, the process it is).
  virtual bool current(Knote& kn, const Caller& caller) = 0;
  // Whether the registrant still holds what the knote stands for; a knote
  // that is not alive is dropped, as BSD drops knotes of a closed descriptor.
  virtual bool alive(Knote& /*kn*/) { return true; }
  // Whether `kn` was registered through `caller`.
  virtual bool registered_by(const Knote& kn, const DescriptorResolver& caller) const = 0;
  // The process whose descriptor (or signals) the knote stands for.
  virtual int owner_pid(const Knote& kn) const = 0;

 protected:
  ~Ownership() = default;
};

// EBADF unless `ident` is a descriptor `caller` has open.
int check_caller_descriptor(uint64_t ident, const Caller& caller);

// Knotes whose ident is a descriptor of their registrant (read, write, vnode).
class DescriptorOwnership : public Ownership {
 public:
  bool takes_descriptor() const override { return true; }
  int check(uint64_t ident, const Caller& caller) override {
    return check_caller_descriptor(ident, caller);
  }
  bool current(Knote& kn, const Caller& caller) override { return names_same_file(kn, caller); }
  bool alive(Knote& kn) override { return names_same_file(kn, registrant(kn)); }
  bool registered_by(const Knote& kn, const DescriptorResolver& caller) const override {
    return registrant(kn).get() == &caller;
  }
  int owner_pid(const Knote& kn) const override { return registrant(kn)->process_id(); }

 protected:
  ~DescriptorOwnership() = default;
  // The caller the knote was registered through.
  virtual const Caller& registrant(const Knote& kn) const = 0;
  // Whether `caller`'s descriptor numbered kn.ident names the knote's file.
  virtual bool names_same_file(Knote& kn, const Caller& caller) = 0;
};

}  // namespace kqfs
