#!/usr/bin/env bash
# The appliance against the machine's own limit (issue 14): the same LoadGen load (TCP, every piece verified) against
# `appliance serve --upload-slots unlimited --no-dht --no-tracker` and against bench/refsend (a minimal C sender that
# only accepts, answers the handshake with an unchoke, and answers each request with one gathered sendmsg of the
# piece header and the mapped block: no protocol policy), alternately, ROUNDS times per peer count; medians of
# throughput and bytes per seeder CPU-second, the appliance as a percentage of refsend, and LoadGen's own CPU (so a
# report can say when the client was the limit). LoadGen spreads its connections over source addresses 127.0.0.x
# (--per-ip, default 50), as a real swarm is spread, so the seeder's per-address limits are not what is measured.
# LoadGen reads and hashes the content once before connecting (--reference-file) and then compares every block with
# it: no hashing or stash copies during the run, so at thousands of peers the client leaves the CPU to the seeder.
# --complete: each peer downloads the whole torrent once instead (--duration bounds the run; use a small --size-mib),
# and the table adds the median and slowest peer's completion time: per-peer fairness (issue 14: slowest <= 2x median).
# --libtorrent adds python3-libtorrent (libtorrent_seed.py: high_performance_seed, every peer unchoked, fast resume after
# its first start) to every round, under the same client, with compare.sh's settings on top (--lt-set "K=V ...";
# "" = high_performance_seed as it is), so one table has the appliance, libtorrent and refsend side by side.
#
# usage: bench/scripts/vs-reference.sh [--appliance [LABEL=]BIN]... [--loadgen BIN] [--peers "1 64 512 2000 10000"] [--rounds 3]
#                                      [--duration 10] [--warmup 3] [--pipeline 128] [--pipeline-at-10000 32]
#                                      [--size-mib 256] [--refsend-threads N] [--work DIR] [--complete]
#                                      [--libtorrent] [--lt-set "KEY=VALUE ..."]
# --appliance may be given several times with a label (e.g. --appliance before=/old/appliance --appliance now=dist/appliance):
# each is measured in every round beside refsend, and the table has a row per label.
# Needs cc (refsend is built here), mktorrent, python3-libtorrent (the info-hash), and dist/appliance or --appliance.
# Every process it starts is stopped on exit; nothing leaves 127.0.0.0/8.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
APPLIANCES=(); LOADGEN=""; PEERS="1 64 512 2000 10000"; ROUNDS=3; DURATION=10; WARMUP=3
PIPELINE=128; PIPELINE_BIG=32; SIZE_MIB=256; REF_THREADS=$(nproc); WORK=""; PER_IP=50; COMPLETE=(); LIBTORRENT=0
# compare.sh's default: the fastest libtorrent settings found on a 2-core box.
LT_SET="aio_threads=1 max_queued_disk_bytes=33554432 send_buffer_watermark=10485760 send_buffer_low_watermark=4194304"
while [ $# -gt 0 ]; do
  case $1 in
    --appliance) APPLIANCES+=("$2"); shift 2 ;;
    --loadgen) LOADGEN=$2; shift 2 ;;
    --peers) PEERS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --pipeline) PIPELINE=$2; shift 2 ;;
    --pipeline-at-10000) PIPELINE_BIG=$2; shift 2 ;;
    --size-mib) SIZE_MIB=$2; shift 2 ;;
    --refsend-threads) REF_THREADS=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    --complete) COMPLETE=(--complete); shift ;;
    --libtorrent) LIBTORRENT=1; shift ;;
    --lt-set) LT_SET=$2; shift 2 ;;
    -h|--help) sed -n 2,20p "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[ ${#APPLIANCES[@]} -gt 0 ] || APPLIANCES=("$ROOT/dist/appliance")
declare -A APPLIANCE_BIN
LABELS=()
for spec in "${APPLIANCES[@]}"; do
  if [[ $spec == *=* ]]; then label=${spec%%=*}; bin=${spec#*=}; else label=appliance; bin=$spec; fi
  [[ $label =~ ^[a-z][a-z0-9_]*$ && $label != refsend && $label != libtorrent ]] || { echo "bad appliance label '$label'" >&2; exit 2; }
  [ -x "$bin" ] || { echo "no executable at $bin (make publish, or --appliance)" >&2; exit 2; }
  APPLIANCE_BIN[$label]=$bin; LABELS+=("$label")
done
[ "$LIBTORRENT" -eq 0 ] || LABELS+=(libtorrent)
WORK=${WORK:-$(mktemp -d /tmp/vs-reference.XXXXXX)}
mkdir -p "$WORK/content" "$WORK/torrents" "$WORK/results"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
log() { echo "[vs-reference $(date +%T)] $*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

log "building refsend"
cc -O2 -Wall -Wextra -pthread -o "$WORK/refsend" "$ROOT/bench/refsend/refsend.c"
if [ -z "$LOADGEN" ]; then
  log "publishing LoadGen (Release)"
  dotnet publish "$ROOT/bench/Appliance.LoadGen" -c Release -o "$WORK/loadgen" --artifacts-path /tmp/art-vs-reference \
    > "$WORK/loadgen-build.log" 2>&1 || { tail -20 "$WORK/loadgen-build.log" >&2; exit 1; }
  LOADGEN="$WORK/loadgen/Appliance.LoadGen"
fi

SAMPLE="$WORK/content/sample.bin"
if [ ! -s "$SAMPLE" ] || [ "$(stat -c %s "$SAMPLE")" -ne $((SIZE_MIB * 1024 * 1024)) ]; then
  log "making $SIZE_MIB MiB of sample content"
  head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom > "$SAMPLE"
fi
TORRENT="$WORK/torrents/sample.torrent"
rm -f "$TORRENT" "$WORK/lt.resume"
mktorrent -l 18 -n sample.bin -o "$TORRENT" "$SAMPLE" > /dev/null
INFO_HASH=$(/usr/bin/python3 -c "import libtorrent as lt; print(lt.torrent_info('$TORRENT').info_hash())")
cat "$SAMPLE" > /dev/null # in the page cache for both

PID=""; PORT=""
start_appliance() { # $1 = label
  PORT=$(free_port)
  rm -rf "$WORK/state"
  "${APPLIANCE_BIN[$1]}" serve --content "$WORK/content" --torrents "$WORK/torrents" --state "$WORK/state" --listen "127.0.0.1:$PORT" \
    --upload-slots unlimited --no-dht --no-tracker --metrics-listen "127.0.0.1:$(free_port)" \
    > "$WORK/appliance.out" 2> "$WORK/appliance.err" &
  PID=$!; PIDS+=("$PID")
  for _ in $(seq 600); do
    grep -qi "$INFO_HASH" "$WORK/appliance.out" "$WORK/appliance.err" 2>/dev/null && \
      python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 1).close()" 2>/dev/null && return 0
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "appliance did not start: $(tail -3 "$WORK/appliance.err")" >&2; exit 1
}
start_libtorrent() {
  PORT=$(free_port)
  local sets=()
  for kv in $LT_SET; do sets+=(--set "$kv"); done
  /usr/bin/python3 "$ROOT/bench/scripts/libtorrent_seed.py" --torrent "$TORRENT" --save-path "$WORK/content" \
    --listen "127.0.0.1:$PORT" --resume "$WORK/lt.resume" --max-seconds 3600 "${sets[@]}" \
    > "$WORK/libtorrent.out" 2> "$WORK/libtorrent.err" &
  PID=$!; PIDS+=("$PID")
  for _ in $(seq 1200); do
    grep -q '^READY' "$WORK/libtorrent.out" 2>/dev/null && return 0
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "libtorrent did not start: $(tail -3 "$WORK/libtorrent.out" "$WORK/libtorrent.err")" >&2; exit 1
}
start_refsend() {
  "$WORK/refsend" --file "$SAMPLE" --piece-length 262144 --info-hash "$INFO_HASH" --listen 127.0.0.1:0 \
    --threads "$REF_THREADS" --seconds 3600 > "$WORK/refsend.out" 2>&1 &
  PID=$!; PIDS+=("$PID")
  for _ in $(seq 100); do
    PORT=$(sed -n 's/^LISTENING port=\([0-9]*\).*/\1/p' "$WORK/refsend.out")
    [ -n "$PORT" ] && return 0
    sleep 0.05
  done
  echo "refsend did not start: $(cat "$WORK/refsend.out")" >&2; exit 1
}
stop_seeder() {
  kill -TERM "$PID" 2>/dev/null || true
  timeout 60 tail --pid="$PID" -f /dev/null || kill -KILL "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
}

LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
for n in $PEERS; do
  q=$PIPELINE; [ "$n" -ge 10000 ] && q=$PIPELINE_BIG
  for r in $(seq "$ROUNDS"); do
    if [ $((r % 2)) -eq 1 ]; then order="${LABELS[*]} refsend"; else order="refsend ${LABELS[*]}"; fi
    for seeder in $order; do
      case $seeder in
        refsend) start_refsend ;;
        libtorrent) start_libtorrent ;;
        *) start_appliance "$seeder" ;;
      esac
      "$LOADGEN" --torrent "$TORRENT" --target "127.0.0.1:$PORT" --peers "$n" --pipeline "$q" --per-ip "$PER_IP" \
        --duration "$DURATION" --warmup "$WARMUP" --seeder-pid "$PID" --label "$seeder" --reference-file "$SAMPLE" "${COMPLETE[@]}" \
        --json "$WORK/results/$seeder-n$n-r$r.json" > /dev/null 2>> "$WORK/loadgen.log" \
        || log "loadgen against $seeder N=$n round $r failed (exit $?)"
      tail -1 "$WORK/loadgen.log" >&2
      stop_seeder
    done
  done
done
LOAD_AT_END=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$WORK/results" "$LOAD_AT_START" "$LOAD_AT_END" "$PEERS" "${LABELS[*]}" "${#COMPLETE[@]}" <<'PY'
import glob, json, os, re, statistics, sys
folder, load_start, load_end, peers = sys.argv[1], sys.argv[2], sys.argv[3], [int(p) for p in sys.argv[4].split()]
labels, complete = sys.argv[5].split(), sys.argv[6] != "0"
runs = {}
for path in glob.glob(os.path.join(folder, "*.json")):
    m = re.match(r"([a-z][a-z0-9_]*)-n(\d+)-r(\d+)\.json$", os.path.basename(path))
    runs.setdefault((m[1], int(m[2])), []).append(json.load(open(path)))
def med(seeder, n, key):
    vals = [r[key] for r in runs.get((seeder, n), []) if r.get(key) is not None]
    return statistics.median(vals) if vals else float("nan")
print(f"load average at start {load_start}, at end {load_end}")
print("| peers | Q | seeder | GB/s | refsend GB/s | % of refsend | GB per seeder CPU-s | refsend GB per CPU-s | % of refsend | LoadGen CPU-s (this / refsend runs) | peers unchoked (this / refsend) |")
print("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
pct = lambda a, b: f"{100 * a / b:.0f}%" if b == b and b > 0 and a == a else "n/a"
for n in peers:
    q = next((r[0]["pipeline"] for k, r in runs.items() if k[1] == n), "?")
    rt, rb = med("refsend", n, "throughput_Bps"), med("refsend", n, "bytes_per_seeder_cpu_s")
    rl, rc = med("refsend", n, "loadgen_cpu_s"), med("refsend", n, "connections_unchoked")
    for label in labels:
        at, ab = med(label, n, "throughput_Bps"), med(label, n, "bytes_per_seeder_cpu_s")
        al, ac = med(label, n, "loadgen_cpu_s"), med(label, n, "connections_unchoked")
        print(f"| {n} | {q} | {label} | {at / 1e9:.3f} | {rt / 1e9:.3f} | {pct(at, rt)} | {ab / 1e9:.3f} | {rb / 1e9:.3f} | {pct(ab, rb)} | {al:.1f} / {rl:.1f} | {ac:.0f} / {rc:.0f} |")
if "libtorrent" in labels:
    print()
    print("| peers | seeder | x libtorrent GB/s | x libtorrent GB per seeder CPU-s |")
    print("|---:|---|---:|---:|")
    ratio = lambda a, b: f"{a / b:.2f}x" if b == b and b > 0 and a == a else "n/a"
    for n in peers:
        lt_t, lt_b = med("libtorrent", n, "throughput_Bps"), med("libtorrent", n, "bytes_per_seeder_cpu_s")
        for label in [l for l in labels if l != "libtorrent"] + ["refsend"]:
            print(f"| {n} | {label} | {ratio(med(label, n, 'throughput_Bps'), lt_t)} | {ratio(med(label, n, 'bytes_per_seeder_cpu_s'), lt_b)} |")
if complete:
    print()
    print("| peers | seeder | peers done (min of rounds) | wall s | completion median s | slowest s | slowest / median (per round) |")
    print("|---:|---|---:|---:|---:|---:|---|")
    for n in peers:
        for label in labels + ["refsend"]:
            rs = runs.get((label, n), [])
            done = min((r.get("peers_completed", 0) or 0 for r in rs), default=0)
            ratios = ", ".join(f"{r['slowest_over_median']:.2f}" for r in rs if r.get("slowest_over_median") is not None)
            print(f"| {n} | {label} | {done} of {n} | {med(label, n, 'wall_s'):.2f} | {med(label, n, 'completion_median_s'):.2f} | {med(label, n, 'completion_slowest_s'):.2f} | {ratios} |")
PY
