#!/usr/bin/env bash
# The README's first command: installs dependencies, builds kqfs and shows
# it working. Until the filesystem lands, this runs the engine in process.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
[[ -f build/build.ninja ]] || meson setup build >/dev/null
ninja -C build >/dev/null

echo "A periodic timer (ident 1), a pipe and a user event (ident 42) on one queue:"
./build/examples/kqfs-in-process-example
