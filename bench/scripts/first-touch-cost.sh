#!/usr/bin/env bash
# What a copy of page-cache pages costs the CPU right after the disk read them, against the same copy a second time
# (issue 15: cold serving is CPU-bound on the 2026-12-03 machine, with most of the seeder's time in the kernel's copy).
# Each sample drops the page cache, lets the memory it freed sit for SETTLE seconds, advises a region of FILE not read
# since (POSIX_FADV_WILLNEED in 128 KiB calls), waits WAIT seconds (0: the copy runs while the reads are still in
# flight, as a seeder's send does when read-ahead has only just brought a block in), then copies the region twice with
# pread into one 1 MiB buffer and prints the process's CPU-seconds per GB of each pass, with the bytes that pass read
# from disk itself. On a VM with free page reporting (/sys/module/page_reporting) it also prints how much free memory
# the guest reported to the host while it settled: the host takes such memory back, and the guest's first touch of a
# page allocated from it (here: the copy out of a page the disk just filled) waits for the host to supply it again.
#
# usage: bench/scripts/first-touch-cost.sh [--file PATH] [--gib 1] [--samples 4] [--settles "2"] [--waits "0 5"]
# FILE must be on a disk (not tmpfs) and hold samples x (number of waits) x gib GiB; the default is cold-cache.sh's
# sample. Needs root (drop_caches). Reads only; prints a markdown table and the load average.
set -euo pipefail
FILE=/var/tmp/appliance-cold-cache/content/sample.bin; GIB=1; SAMPLES=4; SETTLES="2"; WAITS="0 5"
while [ $# -gt 0 ]; do
  case $1 in
    --file) FILE=$2; shift 2 ;;
    --gib) GIB=$2; shift 2 ;;
    --samples) SAMPLES=$2; shift 2 ;;
    --settles) SETTLES=$2; shift 2 ;;
    --waits) WAITS=$2; shift 2 ;;
    -h|--help) sed -n 2,15p "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "needs root: the page cache is dropped" >&2; exit 2; }
[ -s "$FILE" ] || { echo "no file at $FILE (run bench/scripts/cold-cache.sh once, or --file)" >&2; exit 2; }
[ "$(stat -f -c %T "$FILE")" != tmpfs ] || { echo "$FILE is on tmpfs: its pages cannot be dropped" >&2; exit 2; }
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| settle (s) | reported to the host meanwhile (MiB) | wait (s) | sample | first copy, CPU-s per GB | its own disk reads (MB) | second copy, CPU-s per GB | first / second |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
region=0
for s in $(seq "$SAMPLES"); do
  for settle in $SETTLES; do
  for wait in $WAITS; do
    python3 - "$FILE" "$region" "$GIB" "$wait" "$s" "$settle" <<'PY'
import os, resource, sys, time
path, region, gib, wait, sample = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
settle = float(sys.argv[6])
REPORTED = "/sys/module/page_reporting/parameters/reported_kib"
def reported_kib():
    try:
        return int(open(REPORTED).read())
    except (OSError, ValueError):
        return None
size = gib << 30
offset = region * size
if offset + size > os.path.getsize(path):
    sys.exit(f"{path} is too small for {region + 1} regions of {gib} GiB")
fd = os.open(path, os.O_RDONLY)
buffer = memoryview(bytearray(1 << 20))
def copy():
    before = resource.getrusage(resource.RUSAGE_SELF)
    for at in range(offset, offset + size, len(buffer)):
        os.preadv(fd, [buffer], at)
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return cpu / (size / 1e9), (after.ru_inblock - before.ru_inblock) * 512 / 1e6
os.sync()
with open("/proc/sys/vm/drop_caches", "w") as drop:
    drop.write("3\n")
before = reported_kib()
time.sleep(settle)
after = reported_kib()
reported = f"{(after - before) / 1024:.0f}" if before is not None and after is not None else "n/a"
for at in range(offset, offset + size, 128 << 10):
    os.posix_fadvise(fd, at, 128 << 10, os.POSIX_FADV_WILLNEED)
time.sleep(wait)
(first, read), (second, _) = copy(), copy()
print(f"| {settle:g} | {reported} | {wait:g} | {sample} | {first:.2f} | {read:.0f} | {second:.2f} | {first / second:.1f}x |")
PY
    region=$((region + 1))
  done
  done
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
