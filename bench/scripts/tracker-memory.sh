#!/usr/bin/env bash
# Tracker memory per peer (issue 16): the embedded tracker (`appliance serve --open-tracker`, its open-mode caps:
# 100,000 swarms, 1,000,000 peers) and Debian's opentracker (the same info-hashes whitelisted) each get PEERS distinct
# peers, PER_SWARM in each of PEERS/PER_SWARM swarms, announced once over UDP by bench/Appliance.TrackerLoad --fill from
# SOURCES loopback addresses (each peer of a swarm from its own address, port 6881). Resident memory (VmRSS and
# RssAnon from /proc/PID/status) before and after, and per stored peer. A fresh tracker for each of ROUNDS rounds,
# alternately; medians. Run as root (opentracker drops to nobody and chroots).
#
# usage: bench/scripts/tracker-memory.sh [--peers 1000000] [--per-swarm 10] [--sources 1000] [--workers 64] [--rounds 3]
# APPLIANCE_BIN=dist/appliance uses the Native AOT binary (default when it exists); otherwise a Release (JIT) build.
set -euo pipefail
PEERS=1000000; PER_SWARM=10; SOURCES=1000; WORKERS=64; ROUNDS=3
while [ $# -gt 0 ]; do
  case $1 in
    --peers) PEERS=$2; shift 2 ;;
    --per-swarm) PER_SWARM=$2; shift 2 ;;
    --sources) SOURCES=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    -h|--help) sed -n 2,10p "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ART=${ART:-/tmp/art-trackerbench}
WORK=$(mktemp -d /tmp/tracker-memory.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
SWARMS=$((PEERS / PER_SWARM))

APPLIANCE_BIN=${APPLIANCE_BIN:-$([ -x "$ROOT/dist/appliance" ] && echo "$ROOT/dist/appliance" || true)}
# shellcheck source=bench/scripts/tracker-tools.sh
source "$ROOT/bench/scripts/tracker-tools.sh"
memory() { awk '/^VmRSS:/ {r=$2} /^RssAnon:/ {a=$2} END {print r*1024, a*1024}' "/proc/$1/status"; }

"${LOAD[@]}" --write-hashes "$WORK/whitelist.txt" --torrents "$SWARMS"
chmod 644 "$WORK/whitelist.txt"
mkdir -p "$WORK/content"

PID=""; PORT=""
start_embedded() {
  PORT=$(free_port)
  # Emptied here, not by the redirection below: that runs in the background job, possibly after the first grep, which
  # would then find the previous round's "tracker listening" and measure a process that has not started yet.
  : >"$WORK/appliance.log"
  "${APPLIANCE[@]}" serve --content "$WORK/content" --listen "127.0.0.1:$(free_port)" --no-dht --metrics-listen "" \
    --tracker-listen "127.0.0.1:$PORT" --open-tracker --tracker-rate-limit 0 --log-level Warning >"$WORK/appliance.log" 2>&1 &
  PID=$!; PIDS+=("$PID")
  for _ in $(seq 100); do grep -q "tracker listening" "$WORK/appliance.log" && return 0; sleep 0.1; done
  echo "the embedded tracker did not start: $(tail -3 "$WORK/appliance.log")" >&2; exit 1
}
start_opentracker() {
  PORT=$(free_port)
  opentracker -i 127.0.0.1 -p "$PORT" -P "$PORT" -d "$WORK" -u nobody -w whitelist.txt >"$WORK/opentracker.log" 2>&1 &
  PID=$!; PIDS+=("$PID")
  sleep 1 # it reads the whitelist
}
stop_tracker() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }

echo "# tracker-memory: $PEERS peers in $SWARMS swarms from $SOURCES addresses; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# tracker round rss_before rss_after anon_before anon_after stored_ok fill_seconds"
: >"$WORK/results"
for r in $(seq "$ROUNDS"); do
  if (( r % 2 )); then order="embedded opentracker"; else order="opentracker embedded"; fi
  for tracker in $order; do
    "start_$tracker"
    sleep 1
    read -r rss0 anon0 < <(memory "$PID")
    out=$("${LOAD[@]}" --target "127.0.0.1:$PORT" --fill "$PEERS" --per-swarm "$PER_SWARM" --torrents "$SWARMS" --sources "$SOURCES" \
      --workers "$WORKERS" --label "$tracker" || true)
    sleep 2 # let the allocator settle
    read -r rss1 anon1 < <(memory "$PID")
    ok=$(sed -n 's/.*stored_ok=\([0-9]*\).*/\1/p' <<<"$out"); secs=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' <<<"$out")
    echo "$tracker $r $rss0 $rss1 $anon0 $anon1 ${ok:-0} ${secs:-nan}" | tee -a "$WORK/results"
    stop_tracker
  done
done
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$WORK/results" "$PEERS" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
peers = int(sys.argv[2])
print("\n| tracker | peers stored (median) | VmRSS growth MB | RssAnon growth MB | bytes per peer (VmRSS growth) | VmRSS after MB | RssAnon after MB |")
print("|---|---:|---:|---:|---:|---:|---:|")
for t in ("embedded", "opentracker"):
    rs = [r for r in rows if r[0] == t]
    if not rs: continue
    med = lambda f: statistics.median(f(r) for r in rs)
    stored = med(lambda r: int(r[6]))
    grow = med(lambda r: int(r[3]) - int(r[2])); anon = med(lambda r: int(r[5]) - int(r[4]))
    after = med(lambda r: int(r[3])); anon_after = med(lambda r: int(r[5]))
    print(f"| {t} | {stored:.0f} | {grow / 1e6:.1f} | {anon / 1e6:.1f} | {grow / max(stored, 1):.0f} | {after / 1e6:.1f} | {anon_after / 1e6:.1f} |")
PY
