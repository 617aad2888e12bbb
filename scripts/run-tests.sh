#!/usr/bin/env bash
# Runs every test project and ends with the failed tests (name and the start of their message), then one
# plain summary line ("N passed, N failed, N skipped"). The failures come last because a CI log is often
# read from its tail.
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
counts = {"Passed": 0, "Failed": 0, "Skipped": 0}
failures = []          # (test name, first lines of its message and stack)
current = None
for line in open(sys.argv[1], errors="replace"):
    line = line.rstrip("\n")
    # Each test project ends with a block: "Total tests: N", "     Passed: N", "     Failed: N", "    Skipped: N".
    m = re.match(r"^\s+(Passed|Failed|Skipped):\s+(\d+)\s*$", line)
    if m:
        counts[m.group(1)] += int(m.group(2))
        current = None
        continue
    m = re.search(r"(Passed|Failed)!\s+-\s+Failed:\s+(\d+),\s+Passed:\s+(\d+),\s+Skipped:\s+(\d+)", line)
    if m:
        counts["Failed"] += int(m.group(2)); counts["Passed"] += int(m.group(3)); counts["Skipped"] += int(m.group(4))
        current = None
        continue
    m = re.match(r"^\s+Failed (\S.*?)( \[[^\]]*\])?\s*$", line)
    if m:
        current = [m.group(1), []]
        failures.append(current)
        continue
    if current is not None:
        if re.match(r"^\s+(Passed|Skipped) ", line) or line.startswith("[xUnit.net"):
            current = None
        elif len(current[1]) < 14 and line.strip() and line.strip()[:300] not in current[1]:
            current[1].append(line.strip()[:300])
if failures:
    print()
    print(f"=== {len(failures)} failed test(s) ===")
    for name, detail in failures:
        print(f"FAILED {name}")
        for d in detail:
            print(f"    {d}")
print(f"{counts['Passed']} passed, {counts['Failed']} failed, {counts['Skipped']} skipped")
PY
rm -f "$log"
exit "$status"
