#!/usr/bin/env bash
# Serving content that is not in memory (issue 15): the disk's own limit, then the appliance and libtorrent, each
# started on fast resume (no re-read of the data) with the page cache dropped just before, under the same LoadGen load.
#
# 1. A single-file torrent of SIZE MiB (256 KiB pieces), made once and reused, on a real disk (not tmpfs).
# 2. fio: random 16 KiB reads, O_DIRECT, libaio, iodepth 1 and 32, FIO_SECONDS each, on that file.
# 3. ROUNDS rounds, the two seeders alternately: `sync; echo 3 > /proc/sys/vm/drop_caches`, start the seeder (the
#    appliance with its fast-resume state, libtorrent_seed.py with its resume file; both written by one first start),
#    then LoadGen with PEERS peers for WARMUP + DURATION seconds.
# LoadGen checks every block it receives against a CRC-32C made from the content before anything else runs
# (`--make-digests`, which also checks every piece's SHA-1; redone when the torrent changes), so that during the runs
# the client neither hashes (SHA-1 of every piece took most of a core of this 2-core box, leaving the seeder about one)
# nor reads the content (which would warm the page cache the test just dropped). `--verify sha1` hashes every piece
# instead, as before; `--verify reference` falls back to sha1 above 1 GiB.
# --page-cache-mib N models a box whose library is larger than its memory: a process holds all but N MiB of the
# available memory (anonymous, touched) for the whole script, and after each drop a filler file of N MiB (outside the
# content folder) is read, so the page cache is already full when a seeder starts and every page it reads evicts an
# older one, instead of filling free memory. Both ways are reported in perf-reports/2026-12-03-cold-library.md.
# Prints medians of MB/s, the appliance as a percentage of fio's QD32 figure and as a ratio to libtorrent (issue
# targets: >= 70% of fio QD32, >= 2x libtorrent), the bytes each seeder read from disk per byte served (from
# /proc/PID/io: below 1 means part of the run was served from pages read earlier in the same run, so keep
# (WARMUP + DURATION) x rate under the torrent's size; above 1 is read amplification), and the load average.
#
# usage: bench/scripts/cold-cache.sh [--appliance BIN] [--loadgen BIN] [--size-mib 4096] [--peers 64] [--rounds 3]
#                                    [--duration 5] [--warmup 1] [--pipeline 128] [--fio-seconds 10]
#                                    [--appliance-flags "--read-ahead 16"] [--verify digests|sha1|reference] [--work DIR]
#                                    [--page-cache-mib N]
# The table gives each seeder's LoadGen CPU (median cores) and verification failures; any failure makes the script exit 1.
# Needs root (drop_caches), fio (installed with apt-get when missing), mktorrent, python3-libtorrent, and
# dist/appliance (make publish) or --appliance. Every process it starts is stopped on exit; nothing leaves 127.0.0.0/8.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SCRIPTS="$ROOT/bench/scripts"
APPLIANCE="$ROOT/dist/appliance"; LOADGEN=""; SIZE_MIB=4096; PEERS=64; ROUNDS=3; DURATION=5; WARMUP=1; PIPELINE=128
FIO_SECONDS=10; APPLIANCE_FLAGS=""; WORK=/var/tmp/appliance-cold-cache; PER_IP=50; VERIFY=digests; PAGE_CACHE_MIB=0
while [ $# -gt 0 ]; do
  case $1 in
    --appliance) APPLIANCE=$2; shift 2 ;;
    --loadgen) LOADGEN=$2; shift 2 ;;
    --size-mib) SIZE_MIB=$2; shift 2 ;;
    --peers) PEERS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --pipeline) PIPELINE=$2; shift 2 ;;
    --fio-seconds) FIO_SECONDS=$2; shift 2 ;;
    --appliance-flags) APPLIANCE_FLAGS=$2; shift 2 ;;
    --verify) VERIFY=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    --page-cache-mib) PAGE_CACHE_MIB=$2; shift 2 ;;
    -h|--help) sed -n 2,33p "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
log() { echo "[cold-cache $(date +%T)] $*" >&2; }
case $VERIFY in digests|sha1|reference) ;; *) echo "--verify: '$VERIFY' is not digests, sha1 or reference" >&2; exit 2 ;; esac
[ "$(id -u)" -eq 0 ] || { echo "needs root: the page cache is dropped before each run" >&2; exit 2; }
[ -x "$APPLIANCE" ] || { echo "no executable at $APPLIANCE (make publish, or --appliance)" >&2; exit 2; }
command -v fio > /dev/null || { log "installing fio"; apt-get install -y fio > /dev/null; }
mkdir -p "$WORK/content" "$WORK/torrents" "$WORK/results"
[ "$(stat -f -c %T "$WORK")" != tmpfs ] || { echo "$WORK is on tmpfs: its pages cannot be dropped (use --work on a disk)" >&2; exit 2; }
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
FILLER="$WORK/filler/filler.bin"
drop_caches() {
  sync; echo 3 > /proc/sys/vm/drop_caches
  [ "$PAGE_CACHE_MIB" -eq 0 ] || cat "$FILLER" > /dev/null
}
read_bytes() { sed -n 's/^read_bytes: //p' "/proc/$1/io" 2>/dev/null || echo 0; }

SAMPLE="$WORK/content/sample.bin"
if [ ! -s "$SAMPLE" ] || [ "$(stat -c %s "$SAMPLE")" -ne $((SIZE_MIB * 1024 * 1024)) ]; then
  log "making $SIZE_MIB MiB of sample content in $WORK"
  head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom > "$SAMPLE"
  rm -rf "$WORK/state" "$WORK/lt.resume" "$WORK/torrents/sample.torrent" "$WORK/sample.digests"
fi
TORRENT="$WORK/torrents/sample.torrent"
[ -s "$TORRENT" ] || mktorrent -l 18 -n sample.bin -o "$TORRENT" "$SAMPLE" > /dev/null
INFO_HASH=$(/usr/bin/python3 -c "import libtorrent as lt; print(lt.torrent_info('$TORRENT').info_hash())")

if [ -z "$LOADGEN" ]; then
  log "publishing LoadGen (Release)"
  dotnet publish "$ROOT/bench/Appliance.LoadGen" -c Release -o "$WORK/loadgen" --artifacts-path /tmp/art-cold-cache \
    > "$WORK/loadgen-build.log" 2>&1 || { tail -20 "$WORK/loadgen-build.log" >&2; exit 1; }
  LOADGEN="$WORK/loadgen/Appliance.LoadGen"
fi
# Made before the page cache is dropped: reading the content here is the only time LoadGen reads it.
DIGESTS="$WORK/sample.digests"
if [ "$VERIFY" = digests ]; then
  VERIFY_FLAGS=(--reference-digests "$DIGESTS")
  if [ ! -s "$DIGESTS" ] || [ "$TORRENT" -nt "$DIGESTS" ]; then
    log "LoadGen: block digests of the content (one read, every piece's SHA-1 checked)"
    "$LOADGEN" --torrent "$TORRENT" --reference-file "$SAMPLE" --make-digests "$DIGESTS" 2>> "$WORK/loadgen.log" \
      || { tail -2 "$WORK/loadgen.log" >&2; exit 1; }
  fi
else
  VERIFY_FLAGS=(--verify "$VERIFY")
fi

fio_run() { # fio_run DEPTH: random 16 KiB reads, bytes per second
  fio --name="qd$1" --filename="$SAMPLE" --readonly --rw=randread --bs=16k --direct=1 --ioengine=libaio --iodepth="$1" \
    --runtime="$FIO_SECONDS" --time_based --output-format=json 2> /dev/null \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["jobs"][0]["read"]["bw_bytes"])'
}
log "fio: random 16 KiB reads, O_DIRECT, libaio, ${FIO_SECONDS} s at iodepth 1 and 32"
FIO_QD1=$(fio_run 1)
FIO_QD32=$(fio_run 32)
log "fio QD1 $((FIO_QD1 / 1000000)) MB/s, QD32 $((FIO_QD32 / 1000000)) MB/s"

PID=""; PORT=""
wait_ready() { # wait_ready PATTERN FILE...: the seeder printed PATTERN and its port accepts (10 minutes at most)
  local pattern=$1; shift
  for _ in $(seq 6000); do
    grep -qi "$pattern" "$@" 2>/dev/null && \
      python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 1).close()" 2>/dev/null && return 0
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "seeder did not start: $(tail -3 "$@")" >&2; exit 1
}
start_appliance() {
  PORT=$(free_port)
  # shellcheck disable=SC2086 # APPLIANCE_FLAGS is a list of flags
  "$APPLIANCE" serve --content "$WORK/content" --torrents "$WORK/torrents" --state "$WORK/state" --listen "127.0.0.1:$PORT" \
    --upload-slots unlimited --no-dht --no-tracker --no-utp --metrics-listen '' $APPLIANCE_FLAGS \
    > "$WORK/appliance.out" 2> "$WORK/appliance.err" &
  PID=$!; PIDS+=("$PID")
  wait_ready "$INFO_HASH" "$WORK/appliance.out" "$WORK/appliance.err"
}
start_libtorrent() {
  PORT=$(free_port)
  /usr/bin/python3 "$SCRIPTS/libtorrent_seed.py" --torrent "$TORRENT" --save-path "$WORK/content" --listen "127.0.0.1:$PORT" \
    --resume "$WORK/lt.resume" --max-seconds 3600 > "$WORK/libtorrent.out" 2> "$WORK/libtorrent.err" &
  PID=$!; PIDS+=("$PID")
  wait_ready '^READY' "$WORK/libtorrent.out"
}
stop_seeder() {
  kill -TERM "$PID" 2>/dev/null || true
  timeout 60 tail --pid="$PID" -f /dev/null || kill -KILL "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
}

# One start each that checks the data and writes the fast-resume state; later starts read none of the data.
[ -d "$WORK/state" ] || { log "first appliance start: verifying, writing fast resume"; start_appliance; stop_seeder; }
[ -s "$WORK/lt.resume" ] || { log "first libtorrent start: checking, writing resume data"; start_libtorrent; stop_seeder; }

if [ "$PAGE_CACHE_MIB" -gt 0 ]; then
  mkdir -p "$WORK/filler"
  [ "$(stat -c %s "$FILLER" 2>/dev/null || echo 0)" -eq $((PAGE_CACHE_MIB * 1024 * 1024)) ] \
    || head -c $((PAGE_CACHE_MIB * 1024 * 1024)) /dev/urandom > "$FILLER"
  sync; echo 3 > /proc/sys/vm/drop_caches
  HOLD_MIB=$(( $(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo) - PAGE_CACHE_MIB ))
  [ "$HOLD_MIB" -gt 0 ] || { echo "--page-cache-mib $PAGE_CACHE_MIB: more than the available memory" >&2; exit 2; }
  log "holding $HOLD_MIB MiB so that about $PAGE_CACHE_MIB MiB stay for the page cache and the processes"
  python3 -c '
import mmap, sys, time
size = int(sys.argv[1]) << 20
held = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE)
view = memoryview(held)
step = 1 << 26
for at in range(0, size, step):
    n = min(step, size - at)
    view[at:at + n:4096] = b"\x01" * ((n + 4095) // 4096)
print("held", flush=True)
time.sleep(86400)' "$HOLD_MIB" > "$WORK/hold.out" &
  PIDS+=("$!")
  for _ in $(seq 600); do grep -q held "$WORK/hold.out" && break; sleep 0.2; done
  grep -q held "$WORK/hold.out" || { echo "the memory holder did not start" >&2; exit 1; }
fi

LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq "$ROUNDS"); do
  if [ $((r % 2)) -eq 1 ]; then order="appliance libtorrent"; else order="libtorrent appliance"; fi
  for seeder in $order; do
    drop_caches
    "start_$seeder"
    read_at_start=$(read_bytes "$PID")
    json="$WORK/results/$seeder-r$r.json"
    rm -f "$json" # a run that writes none must not count an earlier run's
    "$LOADGEN" --torrent "$TORRENT" --target "127.0.0.1:$PORT" --peers "$PEERS" --pipeline "$PIPELINE" --per-ip "$PER_IP" \
      --duration "$DURATION" --warmup "$WARMUP" --seeder-pid "$PID" --label "$seeder" "${VERIFY_FLAGS[@]}" \
      --json "$json" > /dev/null 2>> "$WORK/loadgen.log" || log "loadgen against $seeder round $r failed (exit $?)"
    read_at_end=$(read_bytes "$PID")
    python3 - "$json" "$read_at_start" "$read_at_end" <<'PY'
import json, sys
path, start, end = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
try:
    result = json.load(open(path))
except (OSError, ValueError):
    sys.exit(0)
result["seeder_disk_read_at_start_bytes"] = start
result["seeder_disk_read_bytes"] = end - start
json.dump(result, open(path, "w"))
PY
    tail -1 "$WORK/loadgen.log" >&2
    stop_seeder
  done
done
LOAD_AT_END=$(cut -d' ' -f1-3 /proc/loadavg)

PAGE_CACHE_MIB=$PAGE_CACHE_MIB python3 - "$WORK/results" "$FIO_QD1" "$FIO_QD32" "$LOAD_AT_START" "$LOAD_AT_END" "$ROUNDS" <<'PY'
import glob, json, os, statistics, sys
folder, qd1, qd32, load_start, load_end, rounds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6])
def runs(seeder):
    found = []
    for r in range(1, rounds + 1):
        path = os.path.join(folder, f"{seeder}-r{r}.json")
        if os.path.exists(path):
            found.append(json.load(open(path)))
    return found
def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")
print(f"load average at start {load_start}, at end {load_end}")
if int(os.environ.get("PAGE_CACHE_MIB", "0")):
    print(f"page cache bounded: all but {os.environ['PAGE_CACHE_MIB']} MiB of the available memory held, a filler read after each drop")
print(f"fio random 16 KiB O_DIRECT libaio: QD1 {qd1 / 1e6:.0f} MB/s, QD32 {qd32 / 1e6:.0f} MB/s")
modes = sorted({r.get("verify_mode", "?") for s in ("appliance", "libtorrent") for r in runs(s)})
print(f"LoadGen verification: {', '.join(modes) or 'none ran'} (digests: CRC-32C per block made before the runs; sha1: every piece hashed)")
print("| seeder | runs | MB/s (median) | % of fio QD32 | disk bytes read per byte served | read at start (MB) | seeder CPU-s per GB | LoadGen cores | verify failures |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
rate = {}
failures = 0
for seeder in ("appliance", "libtorrent"):
    found = runs(seeder)
    mbps = med([r.get("throughput_Bps") for r in found])
    rate[seeder] = mbps
    # Over LoadGen's measured window (its seeder_disk_read_window_bytes, read from /proc/PID/io at the window's ends).
    # LoadGen builds before that field existed left only the whole run's count, scaled here by the window's share, which
    # assumed the warm-up ran at the measured rate.
    def read_per_served(r):
        if r.get("seeder_disk_read_window_bytes") is not None and r.get("bytes"):
            return r["seeder_disk_read_window_bytes"] / r["bytes"]
        if r.get("throughput_Bps") and r.get("duration_s") is not None:
            return r["seeder_disk_read_bytes"] / (r["throughput_Bps"] * (r["duration_s"] + r.get("warmup_s", 0)))
        return None
    ratio = med([read_per_served(r) for r in found])
    at_start = med([r.get("seeder_disk_read_at_start_bytes") for r in found])
    cpu = med([1e9 / r["bytes_per_seeder_cpu_s"] if r.get("bytes_per_seeder_cpu_s") else None for r in found])
    # LoadGen's CPU over the measured window, in cores: how much of the box the client took from the seeder.
    client = med([r["loadgen_cpu_s"] / r["duration_s"] if r.get("loadgen_cpu_s") is not None and r.get("duration_s") else None for r in found])
    failed = sum(r.get("verify_failures", 0) for r in found)
    failures += failed
    print(f"| {seeder} | {len(found)} | {mbps / 1e6:.0f} | {100 * mbps / qd32:.0f}% | {ratio:.2f} | {at_start / 1e6:.1f} | {cpu:.2f} | {client:.2f} | {failed} |")
a, l = rate["appliance"], rate["libtorrent"]
print(f"appliance / libtorrent: {a / l:.2f}x (target >= 2x); appliance / fio QD32: {100 * a / qd32:.0f}% (target >= 70%)")
if failures:
    print(f"FAILED: {failures} pieces failed verification: a seeder served wrong bytes, these figures do not count")
    sys.exit(1)
PY
