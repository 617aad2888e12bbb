#!/usr/bin/env bash
# Time to first payload byte and to completion for one libtorrent client dialing a fresh seeder: `appliance serve`
# with its default settings (upload slots, choker, DHT/uTP port) against a python3-libtorrent seeder with uTP on,
# alternately, ROUNDS times per client transport; prints medians and writes a JSON line per run.
#   bench/scripts/first-byte.sh [--appliance PATH] [--rounds N] [--size-mib N] [--transports "stock tcp utp"] [--out DIR]
# Every process it starts listens on 127.0.0.1 and is stopped on exit. Needs python3-libtorrent and mktorrent.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SCRIPTS="$ROOT/bench/scripts"
PY=/usr/bin/python3
APPLIANCE="${APPLIANCE:-}"
ROUNDS=5
SIZE_MIB=4
TRANSPORTS="stock tcp utp"
OUT=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --appliance) APPLIANCE="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --size-mib) SIZE_MIB="$2"; shift 2 ;;
    --transports) TRANSPORTS="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    -h|--help) sed -n 2,6p "$0"; exit 0 ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
done
if [[ -z "$APPLIANCE" ]]; then
  [[ -x "$ROOT/dist/appliance" ]] || { echo "no dist/appliance: run 'make publish' or pass --appliance" >&2; exit 2; }
  APPLIANCE="$ROOT/dist/appliance"
fi
WORK=$(mktemp -d /tmp/first-byte.XXXXXX)
OUT=${OUT:-$WORK/results}
mkdir -p "$WORK/content" "$WORK/torrents" "$OUT"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
stop_pid() {
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
}
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

head -c "$((SIZE_MIB * 1024 * 1024))" /dev/urandom > "$WORK/content/sample.bin"
mktorrent -l 18 -n sample.bin -o "$WORK/torrents/sample.torrent" "$WORK/content/sample.bin" > /dev/null
TORRENT="$WORK/torrents/sample.torrent"
INFO_HASH=$("$PY" -c "import libtorrent as lt; print(lt.torrent_info('$TORRENT').info_hash())")

start_appliance() {
  PORT=$(free_port)
  rm -rf "$WORK/state"
  # Default settings but for addresses: DHT on (its UDP port is the peer port, where uTP arrives), no bootstrap.
  "$APPLIANCE" serve --content "$WORK/content" --torrents "$WORK/torrents" --state "$WORK/state" \
    --listen "127.0.0.1:$PORT" --dht-bootstrap none --no-tracker --metrics-listen '' > "$WORK/seeder.out" 2> "$WORK/seeder.err" &
  SEEDER=$!; PIDS+=("$SEEDER")
  for _ in $(seq 1 600); do
    grep -qi "$INFO_HASH" "$WORK/seeder.out" 2>/dev/null && return 0
    kill -0 "$SEEDER" 2>/dev/null || { cat "$WORK/seeder.err" >&2; return 1; }
    sleep 0.05
  done
  return 1
}
start_libtorrent() {
  PORT=$(free_port)
  "$PY" "$SCRIPTS/libtorrent_seed.py" --torrent "$TORRENT" --save-path "$WORK/content" --listen "127.0.0.1:$PORT" \
    --max-seconds 600 --set enable_incoming_utp=true --set enable_outgoing_utp=true > "$WORK/seeder.out" 2> "$WORK/seeder.err" &
  SEEDER=$!; PIDS+=("$SEEDER")
  for _ in $(seq 1 600); do
    grep -q '^READY' "$WORK/seeder.out" 2>/dev/null && return 0
    kill -0 "$SEEDER" 2>/dev/null || { cat "$WORK/seeder.err" >&2; return 1; }
    sleep 0.05
  done
  return 1
}

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq 1 "$ROUNDS"); do
  for transport in $TRANSPORTS; do
    for seeder in appliance libtorrent; do
      "start_$seeder" || { echo "$seeder did not start" >&2; exit 1; }
      result=$("$PY" "$SCRIPTS/first_byte_client.py" --torrent "$TORRENT" --peer "127.0.0.1:$PORT" --transport "$transport" --timeout 60 || true)
      stop_pid "$SEEDER"
      echo "{\"round\": $round, \"seeder\": \"$seeder\", \"client\": \"$transport\", \"result\": $result}" | tee -a "$OUT/first-byte.jsonl"
    done
  done
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

"$PY" - "$OUT/first-byte.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None
fmt = lambda v: "-" if v is None else f"{v * 1000:.0f} ms"
print("| client | seeder | first byte (median) | complete (median) | transport used | runs |")
print("|---|---|---|---|---|---|")
for client in sorted({r["client"] for r in rows}):
    for seeder in ("appliance", "libtorrent"):
        rs = [r["result"] for r in rows if r["client"] == client and r["seeder"] == seeder]
        used = sorted({str(r["transport"]) for r in rs})
        print(f"| {client} | {seeder} | {fmt(med([r['first_byte_s'] for r in rs]))} | {fmt(med([r['complete_s'] for r in rs]))} | {', '.join(used)} | {len(rs)} |")
PY
