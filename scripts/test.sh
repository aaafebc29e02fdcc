#!/usr/bin/env bash
# The README's test command: installs dependencies, builds kqfs twice (plain,
# and with AddressSanitizer + UndefinedBehaviorSanitizer), runs every test
# in both, and ends with one line: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh || exit 1

status=0
for variant in plain sanitize; do
  dir="build-ci-$variant"
  # The sanitized build at -O1, the level the sanitizers' documentation
  # suggests: it compiles in much less time than -O2 and keeps the reports'
  # stacks exact.
  if [[ $variant == sanitize ]]; then
    options=(-Ddebug=true -Doptimization=1 -Db_sanitize=address,undefined -Db_lundef=false)
  else
    options=(--buildtype=debugoptimized)
  fi
  options+=(--werror -Dman=enabled)
  if [[ -f $dir/build.ninja ]]; then
    meson setup --reconfigure "$dir" "${options[@]}" >/dev/null || exit 1
  else
    meson setup "$dir" "${options[@]}" >/dev/null || exit 1
  fi
  echo "=== build ($variant)"
  ninja -C "$dir" || exit 1
  echo "=== tests ($variant)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    meson test -C "$dir" --print-errorlogs --num-processes 2 || status=1
done

python3 - build-ci-plain build-ci-sanitize <<'PY'
import json, sys
passed = failed = 0
for build in sys.argv[1:]:
    try:
        lines = open(f"{build}/meson-logs/testlog.json").read().splitlines()
    except OSError:
        failed += 1
        continue
    for line in lines:
        result = json.loads(line)["result"]
        # A skipped test proves nothing: it counts as failed.
        if result in ("OK", "EXPECTEDFAIL"):
            passed += 1
        else:
            failed += 1
print(f"{passed} passed, {failed} failed")
PY
exit $status
