// What every case is given: the run's settings, where kqfs is mounted, and
// the report to print into.
#pragma once

#include "bench/mount.hpp"
#include "bench/report.hpp"

namespace kqfs::bench {

struct Settings {
  bool quick = false;  // small sizes, for a CI smoke run
  int repetitions = 5;
};

struct Context {
  Settings settings;
  Mounts& mounts;
  Report& report;

  // `full` normally, `small` with --quick.
  template <class T>
  T size(T full, T small) const {
    return settings.quick ? small : full;
  }
};

}  // namespace kqfs::bench
