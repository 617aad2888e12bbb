#!/usr/bin/env bash
# Runs every test project and ends with one plain summary line ("N passed, N failed, N skipped").
set -uo pipefail
config=${1:-Release}
filter=${2:-}
log=$(mktemp)
args=(test Appliance.sln -c "$config" --no-build --logger "console;verbosity=normal")
[ -n "$filter" ] && args+=(--filter "$filter")
# Interop tests start real servers and clients; one test project at a time keeps ports and CPU calm.
dotnet "${args[@]}" -m:1 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
python3 - "$log" <<'PY'
import re, sys
passed = failed = skipped = 0
for line in open(sys.argv[1], errors="replace"):
    m = re.search(r"(Passed|Failed)!\s+-\s+Failed:\s+(\d+),\s+Passed:\s+(\d+),\s+Skipped:\s+(\d+)", line)
    if m:
        failed += int(m.group(2)); passed += int(m.group(3)); skipped += int(m.group(4))
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
rm -f "$log"
exit "$status"
