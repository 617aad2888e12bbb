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
counts = {"Passed": 0, "Failed": 0, "Skipped": 0}
for line in open(sys.argv[1], errors="replace"):
    # Each test project ends with a block: "Total tests: N", "     Passed: N", "     Failed: N", "    Skipped: N".
    m = re.match(r"^\s+(Passed|Failed|Skipped):\s+(\d+)\s*$", line)
    if m:
        counts[m.group(1)] += int(m.group(2))
        continue
    m = re.search(r"(Passed|Failed)!\s+-\s+Failed:\s+(\d+),\s+Passed:\s+(\d+),\s+Skipped:\s+(\d+)", line)
    if m:
        counts["Failed"] += int(m.group(2)); counts["Passed"] += int(m.group(3)); counts["Skipped"] += int(m.group(4))
passed, failed, skipped = counts["Passed"], counts["Failed"], counts["Skipped"]
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
rm -f "$log"
exit "$status"
