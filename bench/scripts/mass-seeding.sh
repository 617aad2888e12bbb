#!/usr/bin/env bash
# Mass seeding start-up: N tiny single-file torrents in one content folder. Measures, for `appliance serve`,
# the time from exec to /readyz = 200 (every torrent loaded, ports open) and the RSS at that moment, twice:
# a cold start (no fast-resume data: every piece hashed) and a warm start (fast-resume data from the first run).
# Bounded: every wait has a timeout; the appliance is stopped with SIGTERM (killed if it does not exit).
#
# usage: bench/scripts/mass-seeding.sh [APPLIANCE_BINARY] [COUNT] [FILE_BYTES]
#   APPLIANCE_BINARY  default dist/appliance (the Native AOT binary from `make publish`)
#   COUNT             default 10000
#   FILE_BYTES        default 16384 (one piece per torrent)
set -euo pipefail
BIN=${1:-dist/appliance}
COUNT=${2:-10000}
SIZE=${3:-16384}
TIMEOUT=${TIMEOUT:-600}
WORK=$(mktemp -d /tmp/mass-seeding.XXXXXX)
PID=""
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill -KILL "$PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
[ -x "$BIN" ] || { echo "no executable at $BIN (run make publish)" >&2; exit 2; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "generating $COUNT torrents of $SIZE bytes in $WORK" >&2
gen_start=$(date +%s.%N)
python3 "$(dirname "$0")/tiny_torrents.py" "$WORK/content" "$COUNT" "$SIZE"
echo "generated in $(python3 -c "import time; print(round(time.time()-$gen_start,1))") s" >&2

run() {
  local label=$1
  local metrics peer tracker
  metrics=$(free_port); peer=$(free_port); tracker=$(free_port)
  local start now ready rss hwm seeding
  start=$(date +%s.%N)
  "$BIN" serve --content "$WORK/content" --listen "127.0.0.1:$peer" --tracker-listen "127.0.0.1:$tracker" \
    --no-dht --metrics-listen "127.0.0.1:$metrics" --log-level Warning >"$WORK/$label.out" 2>"$WORK/$label.err" &
  PID=$!
  ready=""
  while :; do
    now=$(date +%s.%N)
    if ! kill -0 "$PID" 2>/dev/null; then echo "$label: serve exited early" >&2; tail -20 "$WORK/$label.err" >&2; exit 1; fi
    if curl -fs -o /dev/null "http://127.0.0.1:$metrics/readyz"; then ready=$now; break; fi
    if python3 -c "import sys; sys.exit(0 if $now - $start > $TIMEOUT else 1)"; then echo "$label: not ready within $TIMEOUT s" >&2; exit 1; fi
    sleep 0.05
  done
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$PID/status")
  hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$PID/status")
  seeding=$(grep -c '^seeding ' "$WORK/$label.out" || true)
  local gauge
  gauge=$(curl -fs "http://127.0.0.1:$metrics/metrics" | awk '/^appliance_torrents\{state="seeding"\}/ {print $2}')
  sleep 2 # settle: RSS a moment after ready
  local rss2
  rss2=$(awk '/^VmRSS/ {print $2}' "/proc/$PID/status")
  local stop_start stop_end code
  stop_start=$(date +%s.%N)
  kill -TERM "$PID"
  code=0
  timeout 60 tail --pid="$PID" -f /dev/null || { kill -KILL "$PID"; code=137; }
  wait "$PID" || code=$?
  stop_end=$(date +%s.%N)
  PID=""
  python3 - "$label" "$start" "$ready" "$rss" "$hwm" "$rss2" "$seeding" "${gauge:-?}" "$stop_start" "$stop_end" "$code" "$COUNT" <<'PY'
import sys
label, start, ready, rss, hwm, rss2, seeding, gauge, s0, s1, code, count = sys.argv[1:]
print(f"{label}: ready_s={float(ready)-float(start):.2f} rss_at_ready_MiB={int(rss)/1024:.1f} rss_peak_MiB={int(hwm)/1024:.1f} "
      f"rss_2s_later_MiB={int(rss2)/1024:.1f} seeding_lines={seeding}/{count} torrents_gauge={gauge} "
      f"sigterm_to_exit_s={float(s1)-float(s0):.2f} exit={code}")
PY
}

run cold
echo "resume files: $(find "$WORK/content/.appliance" -name '*.resume' 2>/dev/null | wc -l)" >&2
run warm
