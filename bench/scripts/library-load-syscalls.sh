#!/usr/bin/env bash
# System calls per torrent to load a library, for a first start (no resume state) and a restart (all resumed):
# `appliance serve` runs under `strace -f -c` until it prints "listening on" (the library is loaded), then stops.
# It runs SETTLE more seconds (default 6) so the content watcher's first rescan, which follows the load, is counted
# whole rather than cut at a random point. The same run on an empty library is subtracted, so what is left is the
# per-torrent cost. Counts, not timings: valid on a busy machine.
# usage: library-load-syscalls.sh BIN [COUNT] [SIZE]   (BIN: the appliance executable)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${1:?usage: library-load-syscalls.sh BIN [COUNT] [SIZE]}
COUNT=${2:-10000}
SIZE=${3:-1000}
SETTLE=${SETTLE:-6}
WORK=$(mktemp -d /tmp/library-load-syscalls.XXXXXX)
PID=""
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill -KILL "$PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

python3 "$HERE/tiny_torrents.py" "$WORK/library" "$COUNT" "$SIZE"
mkdir -p "$WORK/empty"

# Runs serve on CONTENT under strace; writes strace's summary to OUT.
traced_serve() {
  local content=$1 out=$2
  : >"$WORK/serve.out"
  strace -f -c -o "$out" "$BIN" serve --content "$content" --listen 127.0.0.1:0 --tracker-listen 127.0.0.1:0 --no-dht \
    --log-level Warning >"$WORK/serve.out" 2>"$WORK/serve.err" &
  PID=$!
  for _ in $(seq 3000); do
    grep -q '^listening on' "$WORK/serve.out" && break
    kill -0 "$PID" 2>/dev/null || { echo "serve exited early" >&2; cat "$WORK/serve.err" >&2; exit 1; }
    sleep 0.2
  done
  sleep "$SETTLE"
  # Stop the appliance itself: strace writes its summary when its tracee exits.
  kill -TERM "$(pgrep -P "$PID" | head -1)" 2>/dev/null || true
  timeout 120 tail --pid="$PID" -f /dev/null || kill -KILL "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=""
}

traced_serve "$WORK/empty" "$WORK/empty.first"
traced_serve "$WORK/empty" "$WORK/empty.restart"
traced_serve "$WORK/library" "$WORK/library.first"
traced_serve "$WORK/library" "$WORK/library.restart"

python3 - "$COUNT" "$WORK" <<'PY'
import sys
count, work = int(sys.argv[1]), sys.argv[2]
def read(path):
    calls, errors = {}, {}
    for line in open(path):
        parts = line.split()
        if len(parts) < 5 or not parts[0][0].isdigit() or parts[-1] == "total": continue
        name = parts[-1]
        calls[name] = int(parts[3])
        errors[name] = int(parts[4]) if len(parts) == 6 else 0
    return calls, errors
rows = {}
for phase in ("first", "restart"):
    lib, lib_err = read(f"{work}/library.{phase}")
    base, base_err = read(f"{work}/empty.{phase}")
    for name in set(lib) | set(base):
        calls = (lib.get(name, 0) - base.get(name, 0)) / count
        errors = (lib_err.get(name, 0) - base_err.get(name, 0)) / count
        rows.setdefault(name, {})[phase] = (calls, errors)
print(f"# system calls per torrent, {count} torrents (empty-library run subtracted); errors in brackets")
print(f"{'call':<16}{'first start':>20}{'restart':>20}")
total = {"first": 0.0, "restart": 0.0}
for name in sorted(rows, key=lambda n: -max(rows[n].get("first", (0, 0))[0], rows[n].get("restart", (0, 0))[0])):
    cells = []
    for phase in ("first", "restart"):
        calls, errors = rows[name].get(phase, (0.0, 0.0))
        total[phase] += calls
        cells.append(f"{calls:.2f}" + (f" ({errors:.2f})" if errors >= 0.01 else ""))
    if all(abs(rows[name].get(p, (0, 0))[0]) < 0.05 for p in ("first", "restart")): continue
    print(f"{name:<16}{cells[0]:>20}{cells[1]:>20}")
print(f"{'total':<16}{total['first']:>20.2f}{total['restart']:>20.2f}")
PY
