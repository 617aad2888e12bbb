#!/usr/bin/env bash
# The allocation gate (after Garnet's BDNPerfTests): runs the benchmarks that have a budget in
# bench/allocation-budgets.json with a short job and fails when any allocates more bytes per operation
# than its budget. Time is not judged here (CI machines are noisy); allocations are exact.
set -euo pipefail
cd "$(dirname "$0")/.."
budgets=bench/allocation-budgets.json
out=BenchmarkDotNet.Artifacts/gate
rm -rf "$out" && mkdir -p "$out"
filters=$(python3 -c "import json; print(' '.join(json.load(open('$budgets'))['budgets'].keys()))")
dotnet run -c Release --project bench/Appliance.Benchmarks -- \
  --filter $filters --memory --inProcess --exporters json --artifacts "$out" \
  --warmupCount 2 --iterationCount 3 --launchCount 1 --strategy Throughput >"$out.log" 2>&1 || { tail -50 "$out.log"; exit 1; }
python3 scripts/check-allocations.py "$budgets" "$out/results"
