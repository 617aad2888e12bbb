#!/usr/bin/env bash
# Announce throughput and latency, UDP (default) or HTTP: the appliance's embedded tracker vs Debian's opentracker, same
# load generator (bench/Appliance.TrackerLoad), alternating rounds, medians. Run as root (opentracker drops to nobody and
# chroots).
#
#   bench/scripts/tracker-vs-opentracker.sh [rounds=5] [seconds=10] [workers=16] [torrents=1000]
#
# SCHEME=http sends the same load as HTTP GETs (compact=1) to both trackers' TCP port, each worker on one kept-alive
# connection: opentracker closes after every answer, so its figures include a connection per request (the table shows
# requests per connection and the load generator's own CPU).
# APPLIANCE_BIN=dist/appliance uses the Native AOT binary; otherwise a Release (JIT) build is made.
# TRACKER_UDP_WORKERS=N gives the embedded tracker N SO_REUSEPORT sockets, a receive thread each (unset: the
# binary's default, one; binaries older than the flag, e.g. for a before/after comparison, take it unset).
# LOAD_ARGS shapes the load (default: a realistic mix, as aquatic's load test uses: connects, announces and scrapes,
# numwant 30-50, one port per worker as real clients have); LOAD_ARGS="" gives the announce-only load of older reports.
set -euo pipefail
ROUNDS=${1:-5}; SECONDS_PER_ROUND=${2:-10}; WORKERS=${3:-16}; TORRENTS=${4:-1000}
SCHEME=${SCHEME:-udp}
# HTTP has no connect request: the same announce/scrape weights without it.
if [[ $SCHEME == http ]]; then DEFAULT_SHAPE="--mix 0:90:9 --numwant 30:50 --ports stable"; else DEFAULT_SHAPE="--mix 1:90:9 --numwant 30:50 --ports stable"; fi
read -r -a SHAPE <<<"${LOAD_ARGS-$DEFAULT_SHAPE}"
SHAPE+=(--scheme "$SCHEME")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ART=${ART:-/tmp/art-trackerbench}
WORK=$(mktemp -d /tmp/trackerbench.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

# shellcheck source=bench/scripts/tracker-tools.sh
source "$ROOT/bench/scripts/tracker-tools.sh"

"${LOAD[@]}" --write-hashes "$WORK/whitelist.txt" --torrents "$TORRENTS"
chmod 644 "$WORK/whitelist.txt"
OT_PORT=$(free_port); EMB_PORT=$(free_port); PEER_PORT=$(free_port)
opentracker -i 127.0.0.1 -p "$OT_PORT" -P "$OT_PORT" -d "$WORK" -u nobody -w whitelist.txt >"$WORK/opentracker.log" 2>&1 &
OT_PID=$!; PIDS+=("$OT_PID")
mkdir -p "$WORK/content"
"${APPLIANCE[@]}" serve --content "$WORK/content" --listen "127.0.0.1:$PEER_PORT" --no-dht --metrics-listen "" \
  --tracker-listen "127.0.0.1:$EMB_PORT" --open-tracker --tracker-rate-limit 0 ${TRACKER_UDP_WORKERS:+--tracker-udp-workers "$TRACKER_UDP_WORKERS"} --log-level Warning >"$WORK/appliance.log" 2>&1 &
APP_PID=$!; PIDS+=("$APP_PID")
for _ in $(seq 100); do grep -q "tracker listening" "$WORK/appliance.log" && break; sleep 0.1; done
# With `dotnet appliance.dll` the pid is the dotnet host, which is the process doing the work.
# --tracker-rate-limit 0: opentracker has no per-address announce limit, and all load comes from few addresses.

run() { "${LOAD[@]}" --target "127.0.0.1:$2" --seconds "$SECONDS_PER_ROUND" --workers "$WORKERS" --torrents "$TORRENTS" --pid "$3" --label "$1" "${SHAPE[@]}"; }
echo "# warm-up (not counted)"
"${LOAD[@]}" --target "127.0.0.1:$EMB_PORT" --seconds 3 --workers "$WORKERS" --torrents "$TORRENTS" --label warmup-embedded "${SHAPE[@]}" >/dev/null
"${LOAD[@]}" --target "127.0.0.1:$OT_PORT" --seconds 3 --workers "$WORKERS" --torrents "$TORRENTS" --label warmup-opentracker "${SHAPE[@]}" >/dev/null
: >"$WORK/results.txt"
for r in $(seq "$ROUNDS"); do
  if (( r % 2 )); then
    run embedded "$EMB_PORT" "$APP_PID" | tee -a "$WORK/results.txt"; run opentracker "$OT_PORT" "$OT_PID" | tee -a "$WORK/results.txt"
  else
    run opentracker "$OT_PORT" "$OT_PID" | tee -a "$WORK/results.txt"; run embedded "$EMB_PORT" "$APP_PID" | tee -a "$WORK/results.txt"
  fi
done
python3 - "$WORK/results.txt" <<'PY'
import sys, statistics
rows = [dict(kv.split("=", 1) for kv in line.split()) for line in open(sys.argv[1]) if line.startswith("label=")]
def med(label, key): return statistics.median(float(r[key]) for r in rows if r["label"] == label)
http = rows[0].get("scheme") == "http"
extra = " median requests per connection | median load generator CPU s |" if http else ""
print(f"\n| tracker | median responses/s | median announces per tracker CPU-second | median p50 ms | median p99 ms | errors |{extra}")
print("|---|---|---|---|---|---|" + ("---|---|" if http else ""))
for label in ("embedded", "opentracker"):
    errors = sum(int(r["errors"]) + int(r["timeouts"]) for r in rows if r["label"] == label)
    more = f" {med(label,'requests_per_connection'):.1f} | {med(label,'client_cpu_s'):.2f} |" if http else ""
    print(f"| {label} | {med(label,'rate'):.0f} | {med(label,'announces_per_cpu_s'):.0f} | {med(label,'p50_ms'):.3f} | {med(label,'p99_ms'):.3f} | {errors} |{more}")
ratios = []
emb = [r for r in rows if r["label"] == "embedded"]; ot = [r for r in rows if r["label"] == "opentracker"]
for e, o in zip(emb, ot): ratios.append(float(e["announces_per_cpu_s"]) / float(o["announces_per_cpu_s"]))
print(f"\nper-round ratios embedded/opentracker (announces per CPU-second): {', '.join(f'{x:.2f}' for x in ratios)}")
print(f"median ratio: {statistics.median(ratios):.2f}")
rates = [float(e["rate"]) / float(o["rate"]) for e, o in zip(emb, ot)]
print(f"median ratio of announces/s: {statistics.median(rates):.2f}")
PY
