#!/usr/bin/env bash
# DHT node under a realistic load (issue 10): queries from SOURCES distinct loopback addresses (127.1.x.y), each at
# RATE per second (below both nodes' per-source limits), a third each ping, find_node and get_peers, from
# bench/Appliance.DhtLoad --sources. Against `appliance serve` (DHT on, no bootstrap, no tracker) and a DHT-only
# libtorrent node (bench/scripts/libtorrent_dht_node.py), alternately, ROUNDS rounds each, a fresh node each round;
# after WARMUP seconds one window of SECONDS is measured: responses per second and per node CPU-second (utime+stime
# from /proc), and the load client's own CPU. Medians at the end.
#
# usage: bench/scripts/dht-vs-libtorrent.sh [--sources 16000] [--rate 10] [--warmup 5] [--seconds 10] [--rounds 3]
#                                           [--nodes "appliance libtorrent"]
# A node is "libtorrent", "appliance" (dist/appliance) or LABEL=PATH (another appliance binary, e.g. an older commit's:
# --nodes "now=dist/appliance before=/tmp/old/dist/appliance libtorrent"). Every process it starts is stopped on exit;
# nothing leaves 127.0.0.0/8 (the load socket binds the wildcard address only to receive answers sent to 127.1.x.y).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SOURCES=16000; RATE=10; WARMUP=5; SECONDS_=10; ROUNDS=3; NODES="appliance libtorrent"
while [ $# -gt 0 ]; do
  case $1 in
    --sources) SOURCES=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --seconds) SECONDS_=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --nodes) NODES=$2; shift 2 ;;
    -h|--help) sed -n 2,13p "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
ART=${ART:-/tmp/art-dhtload}
WORK=$(mktemp -d /tmp/dht-vs-libtorrent.XXXXXX)
NODE_PID=""
cleanup() { [ -n "$NODE_PID" ] && kill "$NODE_PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

dotnet build "$ROOT/bench/Appliance.DhtLoad" -c Release --artifacts-path "$ART" -v q -nologo >/dev/null
LOAD=(dotnet "$ART/bin/Appliance.DhtLoad/release/Appliance.DhtLoad.dll")
free_port() { /usr/bin/python3 -c 'import socket
for _ in range(100):
    t = socket.socket(); t.bind(("127.0.0.1", 0)); p = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try: u.bind(("127.0.0.1", p)); print(p); break
    except OSError: pass
    finally: t.close(); u.close()'; }
mkdir -p "$WORK/content"; head -c 65536 /dev/urandom > "$WORK/content/sample.bin"

start_node() { # name -> sets NODE_PID, PORT
  local name=$1 bin port
  port=$(free_port); PORT=$port
  case $name in
    libtorrent)
      /usr/bin/python3 "$ROOT/bench/scripts/libtorrent_dht_node.py" --port "$port" --max-seconds 600 > "$WORK/node.log" 2>&1 &
      NODE_PID=$!
      for _ in $(seq 100); do grep -q '^READY' "$WORK/node.log" && break; sleep 0.1; done ;;
    *)
      bin=$ROOT/dist/appliance; [ "${name#*=}" != "$name" ] && bin=${name#*=}
      rm -rf "$WORK/content/.appliance"
      "$bin" serve --content "$WORK/content" --listen "127.0.0.1:$port" --dht-bootstrap none --no-tracker --metrics-listen '' > "$WORK/node.log" 2>&1 &
      NODE_PID=$!
      for _ in $(seq 100); do grep -q 'dht listening on' "$WORK/node.log" && break; sleep 0.1; done ;;
  esac
  grep -qE '^READY|dht listening on' "$WORK/node.log" || { echo "node $name did not start:"; cat "$WORK/node.log"; exit 1; }
}

echo "# dht-vs-libtorrent $(date -u +%FT%TZ) sources $SOURCES rate $RATE/s each warmup $WARMUP s window $SECONDS_ s rounds $ROUNDS"
echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg); nproc $(nproc)"
declare -A RPS CPS CLI
for round in $(seq "$ROUNDS"); do
  for node in $NODES; do
    label=${node%%=*}
    start_node "$node"
    out=$("${LOAD[@]}" --target "127.0.0.1:$PORT" --sources "$SOURCES" --rate "$RATE" --warmup "$WARMUP" --seconds "$SECONDS_" --pid "$NODE_PID")
    kill "$NODE_PID" 2>/dev/null; wait "$NODE_PID" 2>/dev/null || true; NODE_PID=""
    line=$(grep '^RESULT' <<<"$out")
    get() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<" ${line#RESULT}"; }
    printf 'round %d %-12s responses/s %8s  node CPU %6s s  responses per node CPU-s %8s  client CPU %6s s  errors %s\n' \
      "$round" "$label" "$(get responses_per_s)" "$(get node_cpu_s)" "$(get responses_per_cpu_s)" "$(get client_cpu_s)" "$(get errors)"
    RPS[$label]+="$(get responses_per_s) "; CPS[$label]+="$(get responses_per_cpu_s) "; CLI[$label]+="$(get client_cpu_s) "
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| node | responses/s (median) | responses per node CPU-s (median) | client CPU-s in the window (median) |"
echo "|---|---:|---:|---:|"
for node in $NODES; do
  label=${node%%=*}
  echo "| $label | $(median <<<"${RPS[$label]}") | $(median <<<"${CPS[$label]}") | $(median <<<"${CLI[$label]}") |"
done
