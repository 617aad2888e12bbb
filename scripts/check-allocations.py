#!/usr/bin/env python3
"""Compares BenchmarkDotNet JSON results with per-benchmark allocation budgets (bytes per operation)."""
import fnmatch, glob, json, os, sys

budgets = json.load(open(sys.argv[1]))["budgets"]
results = []
for path in glob.glob(os.path.join(sys.argv[2], "*.json")):
    for b in json.load(open(path)).get("Benchmarks", []):
        name = f'{b["Namespace"]}.{b["Type"]}.{b["Method"]}'
        allocated = (b.get("Memory") or {}).get("BytesAllocatedPerOperation")
        results.append((name, b.get("Parameters") or "", allocated))

if not results:
    sys.exit("allocation gate: no benchmark results found")
failed = 0
for pattern in budgets:
    if not any(fnmatch.fnmatch(name, pattern) for name, _, _ in results):
        print(f"MISSING  {pattern}: no benchmark ran for this budget"); failed += 1
for name, params, allocated in sorted(results):
    budget = next((budgets[p] for p in budgets if fnmatch.fnmatch(name, p)), None)
    label = f"{name}({params})" if params else name
    if allocated is None:
        print(f"FAIL     {label}: no allocation figure (MemoryDiagnoser off?)"); failed += 1
    elif budget is None:
        print(f"FAIL     {label}: ran but has no budget"); failed += 1
    elif allocated > budget:
        print(f"FAIL     {label}: {allocated} B/op > budget {budget} B/op"); failed += 1
    else:
        print(f"ok       {label}: {allocated} B/op (budget {budget})")
print(f"allocation gate: {len(results)} benchmarks, {failed} failures")
sys.exit(1 if failed else 0)
