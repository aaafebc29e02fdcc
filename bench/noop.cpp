// The noop case: what a request costs kqfsd before any kqueue work, against
// the FUSE floor. kqfsd gets a write of "#\n" (a comment-only line, no
// change) to a queue's text changes file; the floor gets the same write to
// its file `f`, answered at once. Client and daemon pinned to one CPU, then
// to two.
#include <fcntl.h>

#include <string>
#include <vector>

#include "bench/cases.hpp"
#include "bench/floor_file.hpp"
#include "bench/pinned_calls.hpp"
#include "bench/queue.hpp"

namespace kqfs::bench {
namespace {

constexpr std::string_view kCommentLine = "#\n";

}  // namespace

void run_noop(Context& context) {
  const int count = context.size(4000, 400);
  const int repetitions = context.settings.repetitions;
  Report& report = context.report;

  const MountView mount = context.mounts.shared();
  const MountView floor = context.mounts.floor();
  const MountQueue queue(mount.path, "bench-noop");
  const UniqueFd changes = queue.open("changes", O_WRONLY);
  const UniqueFd floor_file = open_floor_file(floor, O_WRONLY);
  const PinnedCalls measured(
      {
          {"kqfsd", "kqfsd, \"#\\n\" to changes", mount.daemon,
           [&] { write_exactly(changes.get(), kCommentLine, "changes"); }},
          {"floor", "floor, \"#\\n\" to f", floor.daemon,
           [&] { write_exactly(floor_file.get(), kCommentLine, "f"); }},
      },
      count, repetitions);

  report.begin_case(
      "7. No-op request: kqfsd against the FUSE floor",
      "One write of \"#\\n\" (a comment, no change) to a queue's text changes file, against the\n"
      "same write to the file of kqfs-fuse-floor (a libfuse low-level daemon that answers\n"
      "every write at once, one thread).\n" +
          std::string(PinnedCalls::kSetupText) + std::to_string(count) +
          " writes per repetition, " + std::to_string(repetitions) +
          " repetitions, interleaved. Time per request.");
  measured.report_rows(report, false, "request");
  measured.report_ratios(report, "noop", 0, 1, Target{Better::lower, 1.2});
  measured.note_placement(report, mount.daemon);
  report.end_case();
}

}  // namespace kqfs::bench
