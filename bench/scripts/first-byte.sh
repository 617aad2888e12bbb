#!/usr/bin/env bash
# Time to first payload byte and to completion for one libtorrent client dialing a fresh seeder: `appliance serve`
# with its default settings (upload slots, choker, DHT/uTP port) against a python3-libtorrent seeder with uTP on,
# alternately, ROUNDS times per client transport; prints medians and writes a JSON line per run.
#   bench/scripts/first-byte.sh [--appliance PATH] [--rounds N] [--size-mib N] [--transports "stock tcp utp"] [--out DIR]
# Every process it starts listens on 127.0.0.1 and is stopped on exit. Needs python3-libtorrent and mktorrent.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
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
WORK=$(mktemp -d /tmp/first-byte.XXXXXX)
OUT=${OUT:-$WORK/results}
mkdir -p "$OUT"
# shellcheck source=bench/scripts/seeders.sh
source "$ROOT/bench/scripts/seeders.sh"
default_appliance
make_sample "$SIZE_MIB"

# The appliance with its defaults but for addresses: DHT on (its UDP port is the peer port, where uTP arrives), no bootstrap.
start_appliance_default() { start_appliance --dht-bootstrap none; }
start_libtorrent_utp() { start_libtorrent --set enable_incoming_utp=true --set enable_outgoing_utp=true; }

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq 1 "$ROUNDS"); do
  for transport in $TRANSPORTS; do
    for seeder in appliance libtorrent; do
      if [[ $seeder == appliance ]]; then start_appliance_default; else start_libtorrent_utp; fi || { echo "$seeder did not start" >&2; exit 1; }
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
