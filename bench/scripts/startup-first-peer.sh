#!/usr/bin/env bash
# A peer that dials during the first start: COUNT tiny single-file torrents in one folder, no fast-resume data, and a
# python3-libtorrent client with stock settings (first_byte_client.py) that dials DIAL_AFTER seconds after the seeder
# was started, for the LAST torrent of the folder. Measures, from the seeder's exec, the time to the client's first
# payload byte and to its complete download, for `appliance serve` (defaults, but loopback addresses and no DHT) and
# for libtorrent seeding the same folder (libtorrent_folder_seed.py: default settings, full check), alternately,
# ROUNDS times; prints each run, the medians and the load average. Bounded: every wait has a timeout.
#
# usage: bench/scripts/startup-first-peer.sh [--appliance BIN] [--count N] [--size BYTES] [--rounds R] [--dial-after S]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=dist/appliance; COUNT=10000; SIZE=16384; ROUNDS=3; DIAL_AFTER=0.5
while [ $# -gt 0 ]; do
  case $1 in
    --appliance) BIN=$2; shift 2 ;;
    --count) COUNT=$2; shift 2 ;;
    --size) SIZE=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --dial-after) DIAL_AFTER=$2; shift 2 ;;
    -h|--help) sed -n 2,10p "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -x "$BIN" ] || { echo "no executable at $BIN (run make publish, or pass --appliance)" >&2; exit 2; }
WORK=$(mktemp -d /tmp/startup-first-peer.XXXXXX)
PID=""
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill -KILL "$PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "generating $COUNT torrents of $SIZE bytes" >&2
python3 "$HERE/tiny_torrents.py" "$WORK/content" "$COUNT" "$SIZE"
LAST=$(ls "$WORK/content" | grep '\.torrent$' | sort | tail -1)

stop_seeder() {
  kill -TERM "$PID" 2>/dev/null || true
  timeout 60 tail --pid="$PID" -f /dev/null || kill -KILL "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=""
}

# Prints "SECONDS_TO_FIRST_BYTE SECONDS_TO_COMPLETE TRANSPORT" measured from the seeder's start.
probe() {
  local start=$1 port=$2 label=$3
  python3 -c "import time,sys; d=$start+$DIAL_AFTER-time.time(); time.sleep(max(0,d))"
  local dial json
  dial=$(date +%s.%N)
  json=$(timeout 180 /usr/bin/python3 "$HERE/first_byte_client.py" --torrent "$WORK/content/$LAST" --peer "127.0.0.1:$port" --timeout 150 || true)
  python3 - "$start" "$dial" "$json" "$label" <<'PY'
import json, sys
start, dial, text, label = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4]
try:
    r = json.loads(text.strip().splitlines()[-1])
except Exception:
    print(f"nan nan none  # {label}: client printed {text!r}"); sys.exit(0)
fb = "nan" if r["first_byte_s"] is None else f"{dial - start + r['first_byte_s']:.2f}"
done = "nan" if r["complete_s"] is None else f"{dial - start + r['complete_s']:.2f}"
print(f"{fb} {done} {r['transport']}")
PY
}

run_appliance() {
  rm -rf "$WORK/content/.appliance" # first start: nothing to resume from
  local peer metrics tracker start
  peer=$(free_port); metrics=$(free_port); tracker=$(free_port)
  start=$(date +%s.%N)
  "$BIN" serve --content "$WORK/content" --listen "127.0.0.1:$peer" --tracker-listen "127.0.0.1:$tracker" --no-dht \
    --metrics-listen "127.0.0.1:$metrics" --log-level Warning >"$WORK/appliance.out" 2>"$WORK/appliance.err" &
  PID=$!
  local result
  result=$(probe "$start" "$peer" appliance)
  local ready="nan"
  for _ in $(seq 1200); do
    if curl -fs -o /dev/null "http://127.0.0.1:$metrics/readyz"; then ready=$(python3 -c "import time; print(f'{time.time()-$start:.2f}')"); break; fi
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  stop_seeder
  echo "$result $ready"
}

run_libtorrent() {
  local start line port ready="nan"
  start=$(date +%s.%N)
  /usr/bin/python3 "$HERE/libtorrent_folder_seed.py" --folder "$WORK/content" --max-seconds 600 >"$WORK/libtorrent.out" 2>&1 &
  PID=$!
  for _ in $(seq 600); do
    line=$(grep -m1 '^LISTENING' "$WORK/libtorrent.out" || true)
    [ -n "$line" ] && break
    sleep 0.01
  done
  port=${line#LISTENING port=}
  [ -n "$port" ] || { echo "libtorrent did not listen" >&2; cat "$WORK/libtorrent.out" >&2; exit 1; }
  local result
  result=$(probe "$start" "$port" libtorrent)
  for _ in $(seq 1200); do
    line=$(grep -m1 '^ALL_SEEDING' "$WORK/libtorrent.out" || true)
    if [ -n "$line" ]; then ready=${line#ALL_SEEDING seconds=}; break; fi
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  stop_seeder
  echo "$result $ready"
}

echo "# startup-first-peer: $COUNT torrents of $SIZE bytes, client dials the last one ${DIAL_AFTER}s after start; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# seeder round first_byte_s complete_s transport all_loaded_s (seconds since the seeder's exec)"
: >"$WORK/results"
for round in $(seq "$ROUNDS"); do
  if [ $((round % 2)) -eq 1 ]; then order="appliance libtorrent"; else order="libtorrent appliance"; fi
  for seeder in $order; do
    line=$("run_$seeder")
    echo "$seeder $round $line" | tee -a "$WORK/results"
  done
done
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$WORK/results" <<'PY'
import math, statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
def med(seeder, col):
    vals = [float(r[col]) for r in rows if r[0] == seeder and r[col] != "nan"]
    return (statistics.median(vals), len(vals)) if vals else (math.nan, 0)
print("# medians (runs with a value / runs)")
for seeder in ("appliance", "libtorrent"):
    n = sum(1 for r in rows if r[0] == seeder)
    fb, nfb = med(seeder, 2); done, ndone = med(seeder, 3); ready, nready = med(seeder, 5)
    print(f"{seeder}: first_byte_s={fb:.2f} ({nfb}/{n}) complete_s={done:.2f} ({ndone}/{n}) all_loaded_s={ready:.2f} ({nready}/{n})")
PY
