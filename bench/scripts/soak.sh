#!/usr/bin/env bash
# Soak (not in CI): DURATION seconds (default 1800) of mixed load against ONE `appliance serve` process, sampled every
# 10 s, then a verdict: no growth trend in memory or descriptors, no errors, nothing lost. Writes
# REPORT_DIR/<date>-soak.md and .svg; exits 1 when a check failed.
#
#   bench/scripts/soak.sh [--duration SECONDS] [--appliance PATH] [--size-mib 32] [--report-dir perf-reports]
#                         [--date YYYY-MM-DD] [--rss-slope-max MIB_PER_HOUR] [--fd-slope-max FDS_PER_HOUR] [--work DIR]
#
# At once, until the end (each bounded by its own duration; see bench/scripts/README.md):
#   downloads   LoadGen --complete: 4 peers each download the whole torrent, every piece SHA-1 verified; every other
#               round over MSE/RC4
#   churn       short LoadGen runs: 8 peers connect, download (verified) for 3 s and leave; 100 idle handshaked
#               peers come and go
#   probe       a python3-libtorrent client downloads a 4 MiB torrent from scratch every 20 s or so, over uTP and TCP
#               in turn (time to first byte; complete within 60 s or not)
#   hostile     soak_hostile.py: garbage, oversized messages, half handshakes, bad MSE, never-reading peers, uTP junk
#   dht         Appliance.DhtLoad bursts against the node on the peer port (its per-source limit refuses most)
#   tracker     Appliance.TrackerLoad bursts against the embedded tracker (UDP) and HTTP announces with curl
#   torrents    a .torrent dropped into and deleted from the content folder, and one added and removed through the
#               admin API, in turn; each must reach `seeding` and then go
#   sampler     soak_sample.py: VmRSS, RssAnon, fds, threads, /healthz round trip, block latency p50/p99
# Needs dist/appliance (make publish) or --appliance, python3-libtorrent, mktorrent, curl. Only 127.0.0.0/8 is used;
# every process it starts is stopped on exit.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
APPLIANCE="${APPLIANCE:-}"
DURATION=1800
SIZE_MIB=32
REPORT_DIR="$ROOT/perf-reports"
DATE=$(date -u +%Y-%m-%d)
RSS_SLOPE_MAX=16
FD_SLOPE_MAX=60
WORK=""
ARGS_GIVEN="$*"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --appliance) APPLIANCE="$2"; shift 2 ;;
    --size-mib) SIZE_MIB="$2"; shift 2 ;;
    --report-dir) REPORT_DIR="$2"; shift 2 ;;
    --date) DATE="$2"; shift 2 ;;
    --rss-slope-max) RSS_SLOPE_MAX="$2"; shift 2 ;;
    --fd-slope-max) FD_SLOPE_MAX="$2"; shift 2 ;;
    --work) WORK="$2"; shift 2 ;;
    -h|--help) sed -n 2,24p "$0"; exit 0 ;;
    *) echo "soak.sh: unknown flag $1" >&2; exit 2 ;;
  esac
done
[[ "$DURATION" =~ ^[0-9]+$ && "$DURATION" -ge 60 ]] || { echo "soak.sh: --duration is whole seconds, at least 60" >&2; exit 2; }
WORK=${WORK:-$(mktemp -d /tmp/appliance-soak.XXXXXX)}
RESULTS="$WORK/results"
mkdir -p "$RESULTS" "$WORK/spare" "$REPORT_DIR"
log() { echo "[soak $(date -u +%H:%M:%S)] $*" >&2; }
# shellcheck source=bench/scripts/seeders.sh
source "$ROOT/bench/scripts/seeders.sh"
default_appliance
ulimit -n "$(ulimit -Hn)" || true

# ---------- tools and content ----------
log "work dir $WORK; building the load tools"
for tool in LoadGen DhtLoad TrackerLoad; do
  dotnet publish "$ROOT/bench/Appliance.$tool" -c Release -o "$WORK/tools/$tool" --artifacts-path "$WORK/build/$tool" \
    > "$WORK/build-$tool.log" 2>&1 || { cat "$WORK/build-$tool.log" >&2; exit 1; }
done
LOADGEN="$WORK/tools/LoadGen/Appliance.LoadGen"
DHTLOAD="$WORK/tools/DhtLoad/Appliance.DhtLoad"
TRACKERLOAD="$WORK/tools/TrackerLoad/Appliance.TrackerLoad"

make_sample "$SIZE_MIB"
# The torrents live in the content folder (serve's default): adding and removing one is a file operation there.
cp "$TORRENT" "$WORK/content/sample.torrent"
TORRENT="$WORK/content/sample.torrent"
PIECES=$("$PY" -c "import libtorrent as lt; print(lt.torrent_info('$TORRENT').num_pieces())")
# small_torrent NAME MIB DIR: NAME.bin of random bytes in the content folder, its .torrent in DIR; prints the info-hash.
small_torrent() {
  head -c $(($2 * 1024 * 1024)) /dev/urandom > "$WORK/content/$1.bin"
  mktorrent -l 16 -n "$1.bin" -o "$3/$1.torrent" "$WORK/content/$1.bin" > /dev/null
  "$PY" -c "import libtorrent as lt; print(lt.torrent_info('$3/$1.torrent').info_hash())"
}
# The probe client's own small torrent, so its download is a latency figure and not a share of the bulk load.
PROBE_HASH=$(small_torrent probe 4 "$WORK/content")
# Four small torrents whose content stays; their .torrent files wait in spare/ to be added and removed.
CHURN_HASHES=()
for i in 0 1 2 3; do CHURN_HASHES+=("$(small_torrent "churn-$i" 2 "$WORK/spare")"); done

# ---------- the seeder ----------
PORT=$(free_port); TRACKER_PORT=$(free_port); METRICS_PORT=$(free_port)
METRICS="http://127.0.0.1:$METRICS_PORT"
# Defaults but for addresses; no DHT bootstrap (nothing leaves the machine); an open tracker, so TrackerLoad's
# info-hashes are tracked rather than refused.
SERVE_FLAGS=(--content "$WORK/content" --state "$WORK/state" --listen "127.0.0.1:$PORT" --dht-bootstrap none
  --tracker-listen "127.0.0.1:$TRACKER_PORT" --open-tracker --metrics-listen "127.0.0.1:$METRICS_PORT")
"$APPLIANCE" serve "${SERVE_FLAGS[@]}" > "$WORK/seeder.out" 2> "$WORK/seeder.err" &
SEEDER=$!; PIDS+=("$SEEDER")
wait_seeding "$INFO_HASH" && wait_seeding "$PROBE_HASH" || { log "the seeder did not start"; exit 1; }
log "seeder pid $SEEDER: peers 127.0.0.1:$PORT (TCP, uTP, DHT), tracker :$TRACKER_PORT, metrics :$METRICS_PORT; ${DURATION}s of load"

START=$(date +%s)
END=$((START + DURATION))
left() { echo $((END - $(date +%s))); }
# bounded SECONDS: at most SECONDS, and never past the end.
bounded() { local l; l=$(left); (( l < $1 )) && echo "$l" || echo "$1"; }
echo "$(cut -d' ' -f1-3 /proc/loadavg)" > "$RESULTS/loadavg-start.txt"

loop_downloads() {
  local round=0
  while (( $(left) > 20 )); do
    round=$((round + 1))
    local rc4=(); (( round % 2 == 0 )) && rc4=(--rc4)
    "$LOADGEN" --torrent "$TORRENT" --target "127.0.0.1:$PORT" --complete --peers 4 --pipeline 16 --verify sha1 \
      --duration "$(bounded 300)" --label "download-$round" "${rc4[@]}" --json "$RESULTS/download-$round.json" \
      > /dev/null 2>> "$RESULTS/loadgen.err" || true
    sleep 1
  done
}

loop_churn() {
  local round=0
  while (( $(left) > 15 )); do
    round=$((round + 1))
    if (( round % 2 )); then
      "$LOADGEN" --torrent "$TORRENT" --target "127.0.0.1:$PORT" --peers 8 --pipeline 8 --duration 3 --warmup 0 \
        --connect-timeout 10 --verify sha1 --per-ip 8 --label "churn-$round" --json "$RESULTS/churn-$round.json" > /dev/null 2>> "$RESULTS/loadgen.err" || true
    else
      "$LOADGEN" --idle 100 --torrent "$TORRENT" --target "127.0.0.1:$PORT" --duration 3 --warmup 0 --connect-timeout 10 \
        --per-ip 25 --label "idle-$round" --json "$RESULTS/idle-$round.json" > /dev/null 2>> "$RESULTS/loadgen.err" || true
    fi
    sleep 2
  done
}

loop_probe() {
  local round=0 transport
  while (( $(left) > 70 )); do
    round=$((round + 1))
    (( round % 2 )) && transport=utp || transport=tcp
    local result
    result=$("$PY" "$SCRIPTS/first_byte_client.py" --torrent "$WORK/content/probe.torrent" --peer "127.0.0.1:$PORT" --transport "$transport" --timeout 60 2>/dev/null || true)
    echo "{\"t_s\": $(( $(date +%s) - START )), \"transport\": \"$transport\", \"result\": ${result:-null}}" >> "$RESULTS/probe.jsonl"
    sleep 20
  done
}

loop_dht() {
  while (( $(left) > 10 )); do
    "$DHTLOAD" --target "127.0.0.1:$PORT" --seconds 5 --clients 1 --window 8 >> "$RESULTS/dht.txt" 2>&1 || true
    sleep 15
  done
}

url_encode_hex() { local hex=$1 out="" i; for ((i = 0; i < ${#hex}; i += 2)); do out+="%${hex:i:2}"; done; echo "$out"; }

loop_tracker() {
  local info_hash_q n=0
  info_hash_q=$(url_encode_hex "$INFO_HASH")
  while (( $(left) > 10 )); do
    "$TRACKERLOAD" --target "127.0.0.1:$TRACKER_PORT" --seconds 5 --workers 4 --sources 4 --torrents 200 --mix 1:90:9 \
      --ports stable >> "$RESULTS/tracker.txt" 2>&1 || true
    # From an address of their own: TrackerLoad's sources (127.0.0.1-4) spend their per-address rate budget.
    for _ in 1 2 3; do
      n=$((n + 1))
      local answer
      answer=$(curl -s --max-time 10 --interface 127.0.0.10 \
        "http://127.0.0.1:$TRACKER_PORT/announce?info_hash=$info_hash_q&peer_id=-SK0001-soak$(printf %08d $n)&port=$((20000 + n % 1000))&uploaded=0&downloaded=0&left=1000&compact=1" \
        | tr -c '[:print:]' '.' || true)
      if [[ "$answer" == *8:interval* ]]; then echo "ok" >> "$RESULTS/http-announces.txt"; else echo "failed ${answer:0:200}" >> "$RESULTS/http-announces.txt"; fi
    done
    sleep 15
  done
}

# state_of HASH: the admin API's state for one torrent ("absent" on 404).
state_of() {
  local body
  body=$(curl -s --max-time 10 -w '\n%{http_code}' "$METRICS/api/torrents?infohash=$1") || { echo "error"; return; }
  case "${body##*$'\n'}" in
    404) echo "absent" ;;
    200) sed -n 's/.*"state": *"\([a-z]*\)".*/\1/p' <<< "$body" | head -1 ;;
    *) echo "error" ;;
  esac
}

# until_state HASH STATE...: polls (at most 120 s) until the torrent is in one of the states; prints the seconds taken.
until_state() {
  local hash=$1; shift
  local started; started=$(date +%s%N)
  for _ in $(seq 1 600); do
    local s; s=$(state_of "$hash")
    for want in "$@"; do [[ "$s" == "$want" ]] && { echo $(( ($(date +%s%N) - started) / 1000000 ))ms; return 0; }; done
    sleep 0.2
  done
  echo "timeout(last=$s)"; return 1
}

record_op() { echo "$(( $(date +%s) - START )),$1,$2,$3,$4" >> "$RESULTS/torrent-ops.csv"; }

loop_torrents() {
  echo "t_s,operation,info_hash,result,took" > "$RESULTS/torrent-ops.csv"
  local round=0
  while (( $(left) > 60 )); do
    local i=$((round % 4)) hash took
    hash=${CHURN_HASHES[$i]}
    if (( i < 2 )); then
      cp "$WORK/spare/churn-$i.torrent" "$WORK/content/"
      if took=$(until_state "$hash" seeding); then record_op folder-add "$hash" ok "$took"; else record_op folder-add "$hash" failed "$took"; fi
      rm -f "$WORK/content/churn-$i.torrent"
      if took=$(until_state "$hash" absent removed); then record_op folder-remove "$hash" ok "$took"; else record_op folder-remove "$hash" failed "$took"; fi
    else
      local code
      code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H 'Content-Type: application/x-bittorrent' \
        --data-binary "@$WORK/spare/churn-$i.torrent" "$METRICS/api/torrents" || true)
      if [[ "$code" == 202 || "$code" == 200 ]] && took=$(until_state "$hash" seeding); then record_op api-add "$hash" ok "$took"; else record_op api-add "$hash" "failed(http $code)" "${took:-}"; fi
      code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X DELETE "$METRICS/api/torrents?infohash=$hash" || true)
      if [[ "$code" == 202 ]] && took=$(until_state "$hash" removed absent); then record_op api-remove "$hash" ok "$took"; else record_op api-remove "$hash" "failed(http $code)" "${took:-}"; fi
    fi
    round=$((round + 1))
    sleep 5
  done
}

LOOPS=()
for loop in loop_downloads loop_churn loop_probe loop_dht loop_tracker loop_torrents; do
  "$loop" & LOOPS+=("$!"); PIDS+=("$!")
done
"$PY" "$SCRIPTS/soak_hostile.py" --peer "127.0.0.1:$PORT" --info-hash "$INFO_HASH" --pieces "$PIECES" --seconds "$((DURATION - 5))" \
  > "$RESULTS/hostile.json" 2> "$RESULTS/hostile.err" & LOOPS+=("$!"); PIDS+=("$!")
"$PY" "$SCRIPTS/soak_sample.py" --pid "$SEEDER" --metrics "$METRICS" --seconds "$DURATION" --out "$RESULTS/samples.csv" &
SAMPLER=$!; PIDS+=("$SAMPLER")

wait "$SAMPLER" || true
log "load window over; waiting for the load to finish"
for pid in "${LOOPS[@]}"; do wait "$pid" || true; done

# ---------- the end: state, counters, a clean stop ----------
echo "$(cut -d' ' -f1-3 /proc/loadavg)" > "$RESULTS/loadavg-end.txt"
if kill -0 "$SEEDER" 2>/dev/null; then echo 1 > "$RESULTS/alive-at-end.txt"; else echo 0 > "$RESULTS/alive-at-end.txt"; fi
curl -s --max-time 10 "$METRICS/metrics" > "$RESULTS/metrics-end.txt" || true
curl -s --max-time 10 "$METRICS/api/torrents" > "$RESULTS/torrents-end.json" || true
stop_started=$(date +%s%N)
kill -TERM "$SEEDER" 2>/dev/null || true
for _ in $(seq 1 300); do kill -0 "$SEEDER" 2>/dev/null || break; sleep 0.1; done
kill -KILL "$SEEDER" 2>/dev/null || true
rc=0; wait "$SEEDER" || rc=$?
echo "$rc $(( ($(date +%s%N) - stop_started) / 1000000 ))" > "$RESULTS/seeder-exit.txt"
cp "$WORK/seeder.err" "$RESULTS/seeder.err"

{ echo "$(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) RAM, $(uname -sr)"; "$APPLIANCE" --version 2>/dev/null || true; } > "$RESULTS/machine.txt"
"$PY" "$SCRIPTS/soak_report.py" --results "$RESULTS" --duration "$DURATION" --size-mib "$SIZE_MIB" \
  --rss-slope-max "$RSS_SLOPE_MAX" --fd-slope-max "$FD_SLOPE_MAX" --hashes "$INFO_HASH $PROBE_HASH ${CHURN_HASHES[*]}" \
  --out "$REPORT_DIR/$DATE-soak.md" --chart "$REPORT_DIR/$DATE-soak.svg" \
  --command "bench/scripts/soak.sh $ARGS_GIVEN" --serve "appliance serve ${SERVE_FLAGS[*]}" || verdict=$?
# The results (samples, every JSON, the seeder's log) stay; content and build output go.
rm -rf "$WORK/content" "$WORK/spare" "$WORK/state" "$WORK/tools" "$WORK/build"
log "results in $RESULTS"
exit "${verdict:-0}"
