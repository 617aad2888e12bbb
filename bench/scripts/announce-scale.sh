#!/usr/bin/env bash
# Announcing a library at start (issue 16): COUNT tiny single-file torrents whose only tracker is one Debian opentracker
# on loopback (stats open to 127.0.0.1, every info-hash whitelisted). A fresh opentracker and a fresh seeder per run;
# measured from the seeder's exec: seconds until every torrent is loaded (appliance: /readyz answers 200; libtorrent:
# every torrent seeds) and until opentracker's own stats page counts all COUNT torrents. `appliance serve` with its
# defaults (but loopback addresses and no DHT) against python3-libtorrent seeding the same folder
# (libtorrent_folder_seed.py --high-performance: high_performance_seed(), torrents not auto-managed), alternately, over
# HTTP and UDP, ROUNDS times each; prints each run, the medians and the load average. Run as root (opentracker drops to
# nobody and chroots). Bounded: every wait has a timeout.
#
# usage: bench/scripts/announce-scale.sh [--appliance BIN] [--count N] [--rounds R] [--schemes "http udp"] [--timeout S]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=dist/appliance; COUNT=10000; ROUNDS=3; SCHEMES="http udp"; TIMEOUT=120
while [ $# -gt 0 ]; do
  case $1 in
    --appliance) BIN=$2; shift 2 ;;
    --count) COUNT=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --schemes) SCHEMES=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    -h|--help) sed -n 2,11p "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -x "$BIN" ] || { echo "no executable at $BIN (run make publish, or pass --appliance)" >&2; exit 2; }
command -v opentracker >/dev/null || { echo "opentracker is not installed (apt-get install opentracker)" >&2; exit 2; }
WORK=$(mktemp -d /tmp/announce-scale.XXXXXX)
chmod 755 "$WORK"
PID=""; OT=""
cleanup() {
  for p in "$PID" "$OT"; do
    if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then kill -KILL "$p" 2>/dev/null || true; fi
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
since() { python3 -c "import time; print(f'{time.time()-$1:.2f}')"; }

# One opentracker port for the whole run: the torrents name it.
TRACKER_PORT=$(free_port)
for scheme in $SCHEMES; do
  case $scheme in
    http) url="http://127.0.0.1:$TRACKER_PORT/announce" ;;
    udp) url="udp://127.0.0.1:$TRACKER_PORT" ;;
    *) echo "unknown scheme $scheme" >&2; exit 2 ;;
  esac
  echo "generating $COUNT torrents announcing to $url" >&2
  python3 "$HERE/tiny_torrents.py" "$WORK/content-$scheme" "$COUNT" 16384 "$url"
done
CHROOT="$WORK/opentracker"
mkdir -p "$CHROOT"
python3 - "$WORK/content-$(echo $SCHEMES | cut -d' ' -f1)" "$CHROOT/whitelist.txt" <<'PY'
import hashlib, os, sys
folder, out = sys.argv[1], sys.argv[2]
def info_span(data):
    # the bencoded value after b"4:info" up to the dictionary's end: the files tiny_torrents.py writes end with "ee"
    # after the info dictionary (optionally preceded by the announce key, which sorts first)
    start = data.index(b"4:info") + 6
    return data[start:len(data) - 1]
with open(out, "w") as f:
    for name in sorted(os.listdir(folder)):
        if name.endswith(".torrent"):
            f.write(hashlib.sha1(info_span(open(os.path.join(folder, name), "rb").read())).hexdigest() + "\n")
PY
printf 'access.whitelist whitelist.txt\naccess.stats 127.0.0.1\n' > "$CHROOT/opentracker.conf"
chmod 755 "$CHROOT"; chmod 644 "$CHROOT"/*

start_opentracker() {
  opentracker -f "$CHROOT/opentracker.conf" -i 127.0.0.1 -p "$TRACKER_PORT" -P "$TRACKER_PORT" -d "$CHROOT" -u nobody \
    >"$WORK/opentracker.log" 2>&1 &
  OT=$!
  for _ in $(seq 100); do
    [ "$(known)" = 0 ] && return 0
    sleep 0.1
  done
  echo "opentracker did not start: $(tail -3 "$WORK/opentracker.log")" >&2; exit 1
}
stop() { # $1 = pid
  [ -n "$1" ] || return 0
  kill -TERM "$1" 2>/dev/null || true
  timeout 60 tail --pid="$1" -f /dev/null || kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
known() { curl -fs --max-time 5 "http://127.0.0.1:$TRACKER_PORT/stats?mode=torr" 2>/dev/null | head -1 | tr -d ' \r' || true; }

# Waits until opentracker knows every torrent; prints the seconds since $1, or nan after the timeout. Meanwhile
# $2 (a function) is polled for "all loaded" and its time written to $WORK/loaded (this runs in a subshell).
wait_all_known() {
  local start=$1 loaded_check=$2 n loaded=nan
  echo nan > "$WORK/loaded"
  local deadline=$(( $(date +%s) + TIMEOUT ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    if [ "$loaded" = nan ] && "$loaded_check"; then loaded=$(since "$start"); echo "$loaded" > "$WORK/loaded"; fi
    n=$(known)
    if [ "${n:-0}" -ge "$COUNT" ] 2>/dev/null; then
      local all
      all=$(since "$start")
      # Announced before every torrent was loaded: still note when the last one was.
      while [ "$loaded" = nan ] && [ "$(date +%s)" -lt "$deadline" ] && kill -0 "$PID" 2>/dev/null; do
        if "$loaded_check"; then loaded=$(since "$start"); echo "$loaded" > "$WORK/loaded"; fi
        sleep 0.05
      done
      echo "$all"; return
    fi
    kill -0 "$PID" 2>/dev/null || { echo nan; return; }
    sleep 0.05
  done
  echo nan
}

METRICS=""
appliance_loaded() { curl -fs -o /dev/null --max-time 2 "http://127.0.0.1:$METRICS/readyz"; }
libtorrent_loaded() { grep -q '^ALL_SEEDING' "$WORK/libtorrent.out"; }

run_appliance() { # $1 = scheme
  rm -rf "$WORK/content-$1/.appliance" # first start: nothing to resume from
  local peer start all
  peer=$(free_port); METRICS=$(free_port)
  start=$(now)
  "$BIN" serve --content "$WORK/content-$1" --listen "127.0.0.1:$peer" --no-dht --no-tracker \
    --metrics-listen "127.0.0.1:$METRICS" --log-level Warning >"$WORK/appliance.out" 2>"$WORK/appliance.err" &
  PID=$!
  all=$(wait_all_known "$start" appliance_loaded)
  echo "$(cat "$WORK/loaded") $all $(known)"
  stop "$PID"; PID=""
  # Delete this run's 10,000 resume files now and let the file system settle, so the next first start does not begin
  # right after a mass delete (this VM's ext4 is mounted with `discard`). It did not remove the slower later rounds
  # (perf-reports/2026-12-03-library.md), so that cause is still unknown.
  rm -rf "$WORK/content-$1/.appliance"; sync; sleep 2
}

run_libtorrent() { # $1 = scheme
  local start all
  start=$(now)
  /usr/bin/python3 "$HERE/libtorrent_folder_seed.py" --folder "$WORK/content-$1" --high-performance --max-seconds $((TIMEOUT + 60)) \
    >"$WORK/libtorrent.out" 2>&1 &
  PID=$!
  all=$(wait_all_known "$start" libtorrent_loaded)
  echo "$(cat "$WORK/loaded") $all $(known)"
  stop "$PID"; PID=""
}

echo "# announce-scale: $COUNT torrents, one opentracker on 127.0.0.1:$TRACKER_PORT; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# scheme seeder round all_loaded_s all_known_s known_at_end (seconds since the seeder's exec; nan = not within ${TIMEOUT}s)"
: >"$WORK/results"
for round in $(seq "$ROUNDS"); do
  if [ $((round % 2)) -eq 1 ]; then order="appliance libtorrent"; else order="libtorrent appliance"; fi
  for scheme in $SCHEMES; do
    for seeder in $order; do
      start_opentracker
      line=$("run_$seeder" "$scheme")
      stop "$OT"; OT=""
      echo "$scheme $seeder $round $line" | tee -a "$WORK/results"
    done
  done
done
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$WORK/results" <<'PY'
import math, statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
def med(scheme, seeder, col):
    vals = [float(r[col]) for r in rows if r[0] == scheme and r[1] == seeder and r[col] != "nan"]
    return (statistics.median(vals), len(vals)) if vals else (math.nan, 0)
print("# medians (runs with a value / runs)")
for scheme in dict.fromkeys(r[0] for r in rows):
    for seeder in ("appliance", "libtorrent"):
        n = sum(1 for r in rows if r[0] == scheme and r[1] == seeder)
        loaded, nl = med(scheme, seeder, 3); known, nk = med(scheme, seeder, 4)
        print(f"{scheme} {seeder}: all_loaded_s={loaded:.2f} ({nl}/{n}) all_known_s={known:.2f} ({nk}/{n})")
PY
