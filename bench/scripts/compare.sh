#!/usr/bin/env bash
# Side-by-side seeding benchmark: the same LoadGen load against `appliance serve` and against a libtorrent
# high-performance seeder, alternately, for several rounds and peer counts; iperf3 over loopback with the
# same stream counts as the ceiling; then 10,000 idle connections against a fresh appliance (and a fresh
# libtorrent for reference). Writes perf-reports/<date>-seeding-vs-libtorrent.md and an SVG chart.
#
#   bench/scripts/compare.sh [--rounds 3] [--peers "1 8 64 512"] [--duration 10] [--warmup 3] [--pipeline 32]
#                            [--size-mib 256] [--piece-kib 256] [--idle 10000] [--idle-hold 5]
#                            [--appliance PATH | --publish] [--work DIR] [--report-dir perf-reports] [--date YYYY-MM-DD]
#                            [--skip-appliance] [--skip-libtorrent] [--skip-iperf] [--skip-idle] [--note TEXT]
#                            [--verify reference|sha1] [--recv-buffer BYTES] [--lt-set "KEY=VALUE ..."] [--iperf-len SIZE]
#                            [--rc4] [--format v1|hybrid] [--join v1|v2] [--files N] [--utp]
#
# --verify and --recv-buffer go to LoadGen (defaults: reference, 1 MiB); --lt-set overrides libtorrent settings on
# top of high_performance_seed() (default: the fastest we found on a 2-core box, see LT_SET below; "" = stock).
# --rc4 makes every LoadGen connection an MSE/PE peer with RC4 streams (encrypted seeding; both seeders accept it).
# --format hybrid seeds a BEP 52 hybrid torrent made by `appliance create --format hybrid` (v1: mktorrent, as before)
# from --files N files (default 1 for v1, 8 for hybrid) that end mid-piece, so each gets a pad file; --join v2
# makes LoadGen join by the hybrid's v2 info-hash (SHA-256 cut to 20 bytes). Same sizes, same verification (the v1
# pieces, pad zeros included). Reports other than v1/1 file/v1 join get the variant in their file name.
# --utp measures uTP seeding (issue 11): every LoadGen peer dials over uTP (BEP 29, LoadGen --transport utp) from a UDP
# port of its own, the appliance serves uTP on its listen port (on by default) and libtorrent gets enable_incoming_utp;
# peer counts default to "1 8 64"; iperf3 (a TCP ceiling) and the idle test (LoadGen's idle mode is TCP only) are
# skipped; the report is named ...-seeding-vs-libtorrent[-variant]-utp.
#
# Every process it starts is stopped on exit. Nothing leaves 127.0.0.0/8.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SCRIPTS="$ROOT/bench/scripts"
ROUNDS=3
PEERS=""
DURATION=10
WARMUP=3
PIPELINE=32
SIZE_MIB=256
PIECE_KIB=256
IDLE=10000
IDLE_HOLD=5
APPLIANCE=""
PUBLISH=0
WORK=""
REPORT_DIR="$ROOT/perf-reports"
DATE="$(date -u +%Y-%m-%d)"
SKIP_APPLIANCE=0
SKIP_LIBTORRENT=0
SKIP_IPERF=0
SKIP_IDLE=0
NOTE=""
PY=/usr/bin/python3
VERIFY=reference
RC4=0
UTP=0
FORMAT=v1
JOIN=v1
FILES=""
RECV_BUFFER=1048576
# iperf3's default 128 KiB writes leave it well under what loopback carries; 1 MiB writes are its best here.
IPERF_LEN=1M
# high_performance_seed() starts 8 disk threads; on this 2-core box one disk thread and deeper queues served 45-70%
# more at 64 peers (perf-reports/2026-11-24-seeding-vs-libtorrent.md). "" runs the stock settings.
LT_SET="aio_threads=1 max_queued_disk_bytes=33554432 send_buffer_watermark=10485760 send_buffer_low_watermark=4194304"
ARGS_GIVEN="$*"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) ROUNDS="$2"; shift 2 ;;
    --peers) PEERS="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --pipeline) PIPELINE="$2"; shift 2 ;;
    --size-mib) SIZE_MIB="$2"; shift 2 ;;
    --piece-kib) PIECE_KIB="$2"; shift 2 ;;
    --idle) IDLE="$2"; shift 2 ;;
    --idle-hold) IDLE_HOLD="$2"; shift 2 ;;
    --appliance) APPLIANCE="$2"; shift 2 ;;
    --publish) PUBLISH=1; shift ;;
    --work) WORK="$2"; shift 2 ;;
    --report-dir) REPORT_DIR="$2"; shift 2 ;;
    --date) DATE="$2"; shift 2 ;;
    --skip-appliance) SKIP_APPLIANCE=1; shift ;;
    --skip-libtorrent) SKIP_LIBTORRENT=1; shift ;;
    --skip-iperf) SKIP_IPERF=1; shift ;;
    --skip-idle) SKIP_IDLE=1; shift ;;
    --note) NOTE="$2"; shift 2 ;;
    --verify) VERIFY="$2"; shift 2 ;;
    --recv-buffer) RECV_BUFFER="$2"; shift 2 ;;
    --lt-set) LT_SET="$2"; shift 2 ;;
    --iperf-len) IPERF_LEN="$2"; shift 2 ;;
    --rc4) RC4=1; shift ;;
    --format) FORMAT="$2"; shift 2 ;;
    --join) JOIN="$2"; shift 2 ;;
    --files) FILES="$2"; shift 2 ;;
    --utp) UTP=1; shift ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "compare.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

case "$FORMAT" in v1|hybrid) ;; *) echo "compare.sh: --format is v1 or hybrid" >&2; exit 2 ;; esac
case "$JOIN" in v1|v2) ;; *) echo "compare.sh: --join is v1 or v2" >&2; exit 2 ;; esac
[[ "$JOIN" == v2 && "$FORMAT" != hybrid ]] && { echo "compare.sh: --join v2 needs --format hybrid" >&2; exit 2; }
if [[ -z "$FILES" ]]; then if [[ "$FORMAT" == hybrid ]]; then FILES=8; else FILES=1; fi; fi
[[ "$FILES" =~ ^[1-9][0-9]*$ && "$FILES" -le 1000 ]] || { echo "compare.sh: --files is 1..1000" >&2; exit 2; }
# The default run keeps its report name; any other torrent, join or encryption says so in the name, so variants sit side by side.
VARIANT=""
[[ "$FORMAT" != v1 || "$FILES" != 1 || "$JOIN" != v1 ]] && VARIANT="-$FORMAT-${FILES}files-join-$JOIN"
[[ "$RC4" == 1 ]] && VARIANT="$VARIANT-rc4"
TRANSPORT=tcp
if [[ "$UTP" == 1 ]]; then
  TRANSPORT=utp
  VARIANT="$VARIANT-utp"
  PEERS="${PEERS:-1 8 64}"
  LT_SET="$LT_SET enable_incoming_utp=true"
  SKIP_IPERF=1
  SKIP_IDLE=1
fi
PEERS="${PEERS:-1 8 64 512}"

WORK="${WORK:-$(mktemp -d /tmp/appliance-compare.XXXXXX)}"
mkdir -p "$WORK"/{content,torrents,results,logs}
RESULTS="$WORK/results"
LOGS="$WORK/logs"
log() { echo "[compare $(date -u +%H:%M:%S)] $*" >&2; }

# Raise the descriptor limit: 10,000 idle connections need that many sockets on each side.
ulimit -n "$(ulimit -Hn)" || true
log "work dir $WORK, ulimit -n $(ulimit -n)"

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
}
trap cleanup EXIT
stop_pid() {
  local pid="$1"
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---------- build ----------
STATUS="$WORK/status.txt"
: > "$STATUS"
note() { echo "$*" >> "$STATUS"; log "$*"; }

LOADGEN_DIR="$WORK/loadgen"
log "publishing LoadGen (Release)"
dotnet publish "$ROOT/bench/Appliance.LoadGen" -c Release -o "$LOADGEN_DIR" --artifacts-path /tmp/art-compare-loadgen \
  > "$LOGS/loadgen-build.log" 2>&1 || { tail -30 "$LOGS/loadgen-build.log" >&2; exit 1; }
LOADGEN="$LOADGEN_DIR/Appliance.LoadGen"

if [[ $SKIP_APPLIANCE -eq 0 ]]; then
  if [[ -z "$APPLIANCE" && $PUBLISH -eq 0 && -x "$ROOT/dist/appliance" ]]; then APPLIANCE="$ROOT/dist/appliance"; fi
  if [[ -z "$APPLIANCE" ]]; then
    log "publishing the appliance (Release, Native AOT, linux-x64)"
    if dotnet publish "$ROOT/src/Appliance" -c Release -r linux-x64 -o "$WORK/dist" --artifacts-path /tmp/art-compare-appliance \
         > "$LOGS/appliance-build.log" 2>&1; then
      APPLIANCE="$WORK/dist/appliance"
    else
      note "appliance: publish failed (see $LOGS/appliance-build.log); appliance not measured"
      tail -20 "$LOGS/appliance-build.log" >&2
      SKIP_APPLIANCE=1
    fi
  fi
  if [[ $SKIP_APPLIANCE -eq 0 ]] && ! "$APPLIANCE" serve --help > "$LOGS/serve-help.txt" 2>&1; then
    note "appliance: '$APPLIANCE serve --help' failed; appliance not measured"
    SKIP_APPLIANCE=1
  fi
fi

# ---------- sample content (stays in the page cache) ----------
log "making ${SIZE_MIB} MiB of sample content in $FILES file(s) and its $FORMAT torrent (${PIECE_KIB} KiB pieces)"
rm -rf "$WORK/content/sample.bin" "$WORK/content/sample" "$WORK/torrents/sample.torrent"
TOTAL_BYTES=$((SIZE_MIB * 1024 * 1024))
if [[ "$FILES" == 1 ]]; then
  SAMPLE="$WORK/content/sample.bin"
  head -c "$TOTAL_BYTES" /dev/urandom > "$SAMPLE"
else
  # Every file but the last is 7919 bytes short of an equal share, so each ends mid-piece (a hybrid pads it).
  SAMPLE="$WORK/content/sample"
  mkdir -p "$SAMPLE"
  left=$TOTAL_BYTES
  for i in $(seq 1 "$FILES"); do
    size=$((TOTAL_BYTES / FILES - 7919))
    (( i == FILES )) && size=$left
    head -c "$size" /dev/urandom > "$SAMPLE/$(printf 'file-%04d.bin' "$i")"
    left=$((left - size))
  done
fi
TORRENT="$WORK/torrents/sample.torrent"
if [[ "$FORMAT" == v1 ]]; then
  PIECE_LOG=$("$PY" -c "import math; print(int(math.log2($PIECE_KIB * 1024)))")
  mktorrent -l "$PIECE_LOG" -n "$(basename "$SAMPLE")" -o "$TORRENT" "$SAMPLE" > "$LOGS/mktorrent.log" 2>&1
else
  CREATOR="${APPLIANCE:-$ROOT/dist/appliance}"
  [[ -x "$CREATOR" ]] || { echo "compare.sh: --format hybrid makes its torrent with 'appliance create': give --appliance PATH or build dist/appliance" >&2; exit 2; }
  "$CREATOR" create "$SAMPLE" -o "$TORRENT" --format hybrid --piece-length "$((PIECE_KIB * 1024))" > "$LOGS/create.log" 2>&1 \
    || { tail -5 "$LOGS/create.log" >&2; exit 1; }
fi
# The v1 info-hash (a hybrid's too): both seeders print it once seeding.
INFO_HASH=$("$PY" -c "import libtorrent as lt; print(lt.torrent_info('$TORRENT').info_hash())")
"$PY" - "$TORRENT" > "$WORK/torrent.txt" <<'PYEOF'
import sys
import libtorrent as lt
ti = lt.torrent_info(sys.argv[1])
fs = ti.files()
pads = sum(1 for i in range(fs.num_files()) if fs.file_flags(i) & lt.file_storage.flag_pad_file)
hashes = ti.info_hashes()
kind = "hybrid" if hashes.has_v1() and hashes.has_v2() else "v2" if hashes.has_v2() else "v1"
print(f"{kind}, {fs.num_files() - pads} files and {pads} pad files, {ti.num_pieces()} pieces, "
      f"info-hash {hashes.v1}" + (f", v2 info-hash {hashes.v2}" if hashes.has_v2() else ""))
PYEOF
log "$(cat "$WORK/torrent.txt")"
if [[ -d "$SAMPLE" ]]; then cat "$SAMPLE"/* > /dev/null; else cat "$SAMPLE" > /dev/null; fi

# ---------- seeders ----------
APP_PID=""; APP_PORT=""; APP_METRICS=""
start_appliance() { # $1 = log name, then extra flags
  local name="$1"; shift
  APP_PORT=$(free_port); APP_METRICS=$(free_port)
  local state="$WORK/state-$name"
  rm -rf "$state"
  "$APPLIANCE" serve --content "$WORK/content" --torrents "$WORK/torrents" --state "$state" \
    --listen "127.0.0.1:$APP_PORT" --upload-slots unlimited --no-dht --no-tracker \
    --metrics-listen "127.0.0.1:$APP_METRICS" "$@" > "$LOGS/$name.out" 2> "$LOGS/$name.err" &
  APP_PID=$!
  PIDS+=("$APP_PID")
  for _ in $(seq 1 1200); do
    if ! kill -0 "$APP_PID" 2>/dev/null; then
      note "appliance ($name) exited during start-up: $(tail -3 "$LOGS/$name.err" | tr '\n' ' ')"
      APP_PID=""; return 1
    fi
    if grep -qi "$INFO_HASH" "$LOGS/$name.out" "$LOGS/$name.err" 2>/dev/null && port_open "$APP_PORT" \
       && { [[ "$UTP" == 0 ]] || grep -q "^utp listening on" "$LOGS/$name.out" "$LOGS/$name.err" 2>/dev/null; }; then
      log "appliance ($name) seeding on 127.0.0.1:$APP_PORT, pid $APP_PID"
      return 0
    fi
    sleep 0.1
  done
  note "appliance ($name) not ready after 120 s (no line with the info-hash, or port closed)"
  stop_pid "$APP_PID"; APP_PID=""; return 1
}

LT_PID=""; LT_PORT=""
start_libtorrent() { # $1 = log name
  local name="$1"
  LT_PORT=$(free_port)
  local sets=()
  for kv in $LT_SET; do sets+=(--set "$kv"); done
  "$PY" "$SCRIPTS/libtorrent_seed.py" --torrent "$TORRENT" --save-path "$WORK/content" --listen "127.0.0.1:$LT_PORT" \
    --max-seconds 3600 "${sets[@]}" > "$LOGS/$name.out" 2> "$LOGS/$name.err" &
  LT_PID=$!
  PIDS+=("$LT_PID")
  for _ in $(seq 1 1200); do
    if ! kill -0 "$LT_PID" 2>/dev/null; then note "libtorrent ($name) exited: $(cat "$LOGS/$name.out" "$LOGS/$name.err" | tail -3 | tr '\n' ' ')"; LT_PID=""; return 1; fi
    if grep -q '^READY' "$LOGS/$name.out"; then log "libtorrent ($name) seeding on 127.0.0.1:$LT_PORT, pid $LT_PID"; return 0; fi
    if grep -q '^ERROR' "$LOGS/$name.out"; then note "libtorrent ($name): $(grep '^ERROR' "$LOGS/$name.out")"; stop_pid "$LT_PID"; LT_PID=""; return 1; fi
    sleep 0.1
  done
  note "libtorrent ($name) not ready after 120 s"; stop_pid "$LT_PID"; LT_PID=""; return 1
}

IPERF_PID=""; IPERF_PORT=""
start_iperf() {
  IPERF_PORT=$(free_port)
  iperf3 -s -B 127.0.0.1 -p "$IPERF_PORT" > "$LOGS/iperf3-server.log" 2>&1 &
  IPERF_PID=$!
  PIDS+=("$IPERF_PID")
  for _ in $(seq 1 100); do port_open "$IPERF_PORT" && return 0; sleep 0.1; done
  note "iperf3 server did not start"; return 1
}

run_load() { # $1 label, $2 port, $3 pid, $4 peers, $5 round, [$6 metrics url]
  local label="$1" port="$2" pid="$3" n="$4" r="$5" metrics="${6:-}"
  local out="$RESULTS/$label-n$n-r$r.json"
  local extra=()
  [[ -n "$metrics" ]] && extra=(--metrics "$metrics")
  # The appliance lets one address start 20 encrypted handshakes at once (then 5 per second): spread RC4 peers over
  # source addresses as a real swarm is, so the gate meant for floods does not refuse the benchmark's own peers.
  [[ "$RC4" == 1 ]] && extra+=(--rc4 --per-ip 16)
  extra+=(--join "$JOIN" --transport "$TRANSPORT")
  "$LOADGEN" --torrent "$TORRENT" --target "127.0.0.1:$port" --peers "$n" --pipeline "$PIPELINE" \
    --duration "$DURATION" --warmup "$WARMUP" --seeder-pid "$pid" --label "$label" --json "$out" \
    --verify "$VERIFY" --recv-buffer "$RECV_BUFFER" "${extra[@]}" \
    > /dev/null 2>> "$LOGS/loadgen.log" || note "loadgen against $label N=$n round $r failed (exit $?)"
  tail -1 "$LOGS/loadgen.log" >&2
}

run_iperf() { # $1 peers, $2 round
  local n="$1" r="$2" streams="$1"
  (( streams > 128 )) && streams=128
  iperf3 -c 127.0.0.1 -p "$IPERF_PORT" -P "$streams" -l "$IPERF_LEN" -t "$DURATION" -O "$WARMUP" -J > "$RESULTS/iperf3-n$n-r$r.json" 2>> "$LOGS/iperf3-client.log" \
    || note "iperf3 -P $streams round $r failed"
  "$PY" -c "import json,sys; d=json.load(open('$RESULTS/iperf3-n$n-r$r.json')); print('iperf3 -P $streams: %.3f GB/s' % (d['end']['sum_received']['bits_per_second']/8e9))" >&2 || true
}

uptime > "$WORK/load-start.txt"
COMMIT_AT_START="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
[[ $SKIP_APPLIANCE -eq 1 && -z "$APPLIANCE" ]] && note "appliance: skipped (--skip-appliance or not built)"
[[ $SKIP_LIBTORRENT -eq 1 ]] && note "libtorrent: skipped (--skip-libtorrent)"
if [[ "$UTP" == 1 ]]; then
  log "iperf3 and idle connections: not run with --utp (iperf3 is a TCP ceiling; LoadGen's idle mode is TCP only)"
else
  [[ $SKIP_IPERF -eq 1 ]] && note "iperf3: skipped (--skip-iperf)"
  [[ $SKIP_IDLE -eq 1 ]] && note "idle connections: skipped (--skip-idle)"
fi
if [[ $SKIP_APPLIANCE -eq 0 ]]; then start_appliance appliance || SKIP_APPLIANCE=1; fi
if [[ $SKIP_LIBTORRENT -eq 0 ]]; then start_libtorrent libtorrent || SKIP_LIBTORRENT=1; fi
if [[ $SKIP_IPERF -eq 0 ]]; then start_iperf || SKIP_IPERF=1; fi

# ---------- throughput rounds: order alternates every round ----------
for r in $(seq 1 "$ROUNDS"); do
  for n in $PEERS; do
    if (( r % 2 == 1 )); then order="appliance libtorrent iperf3"; else order="libtorrent appliance iperf3"; fi
    for who in $order; do
      case "$who" in
        appliance)
          [[ $SKIP_APPLIANCE -eq 1 ]] && continue
          if ! kill -0 "$APP_PID" 2>/dev/null; then
            note "appliance (pid $APP_PID) died before round $r N=$n: $(tail -3 "$LOGS/appliance.err" | tr '\n' ' ')"
            SKIP_APPLIANCE=1; continue
          fi
          run_load appliance "$APP_PORT" "$APP_PID" "$n" "$r" "http://127.0.0.1:$APP_METRICS/metrics" ;;
        libtorrent)
          [[ $SKIP_LIBTORRENT -eq 1 ]] && continue
          run_load libtorrent "$LT_PORT" "$LT_PID" "$n" "$r" ;;
        iperf3)
          [[ $SKIP_IPERF -eq 1 ]] && continue
          run_iperf "$n" "$r" ;;
      esac
    done
  done
done
uptime > "$WORK/load-end.txt"
[[ -n "$APP_PID" ]] && kill -0 "$APP_PID" 2>/dev/null && stop_pid "$APP_PID"
[[ -n "$LT_PID" ]] && stop_pid "$LT_PID"
[[ -n "$IPERF_PID" ]] && stop_pid "$IPERF_PID"

# ---------- idle connections against fresh seeders ----------
if [[ $SKIP_IDLE -eq 0 ]]; then
  # 50 connections per source address 127.0.0.x keeps under the appliance's default 64 per IP.
  if [[ $SKIP_APPLIANCE -eq 0 ]] && start_appliance appliance-idle --max-connections "$((IDLE + 1000))"; then
    sleep 2
    "$LOADGEN" --idle "$IDLE" --per-ip 50 --join "$JOIN" --torrent "$TORRENT" --target "127.0.0.1:$APP_PORT" --duration "$IDLE_HOLD" --warmup 3 \
      --seeder-pid "$APP_PID" --label appliance --json "$RESULTS/idle-appliance.json" > /dev/null 2>> "$LOGS/loadgen.log" \
      || note "idle run against the appliance failed"
    stop_pid "$APP_PID"
  fi
  if [[ $SKIP_LIBTORRENT -eq 0 ]] && start_libtorrent libtorrent-idle; then
    sleep 2
    "$LOADGEN" --idle "$IDLE" --per-ip 50 --join "$JOIN" --torrent "$TORRENT" --target "127.0.0.1:$LT_PORT" --duration "$IDLE_HOLD" --warmup 3 \
      --seeder-pid "$LT_PID" --label libtorrent --json "$RESULTS/idle-libtorrent.json" > /dev/null 2>> "$LOGS/loadgen.log" \
      || note "idle run against libtorrent failed"
    stop_pid "$LT_PID"
  fi
fi

# ---------- machine and report ----------
{
  echo "nproc: $(nproc)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "kernel: $(uname -sr)"
  echo "memory: $(free -h | awk '/^Mem:/ {print $2 " total, " $7 " available"}')"
  echo "dotnet: $(dotnet --version)"
  echo "libtorrent: $("$PY" -c 'import libtorrent as lt; print(lt.__version__)')"
  echo "iperf3: $(iperf3 --version | head -1)"
  echo "appliance: ${APPLIANCE:-not used}"
  echo "commit: $COMMIT_AT_START at the start of the run (files changed or new in the working tree when built: $(git -C "$ROOT" status --short -- src 2>/dev/null | wc -l))"
  echo "load at start: $(cat "$WORK/load-start.txt")"
  echo "load at end: $(cat "$WORK/load-end.txt")"
} > "$WORK/machine.txt"
free -h > "$WORK/free.txt"

mkdir -p "$REPORT_DIR"
"$PY" "$SCRIPTS/report.py" --results "$RESULTS" --machine "$WORK/machine.txt" --free "$WORK/free.txt" --status "$STATUS" \
  --out "$REPORT_DIR/$DATE-seeding-vs-libtorrent$VARIANT.md" --chart "$REPORT_DIR/$DATE-seeding-vs-libtorrent$VARIANT.svg" \
  --command "bench/scripts/compare.sh $ARGS_GIVEN" --peers "$PEERS" --rounds "$ROUNDS" --duration "$DURATION" --warmup "$WARMUP" \
  --pipeline "$PIPELINE" --size-mib "$SIZE_MIB" --piece-kib "$PIECE_KIB" --idle "$IDLE" --note "$NOTE" \
  --verify "$VERIFY" --recv-buffer "$RECV_BUFFER" --lt-set "$LT_SET" --iperf-len "$IPERF_LEN" \
  --format "$FORMAT" --join "$JOIN" --files "$FILES" --encryption "$([[ "$RC4" == 1 ]] && echo rc4 || echo plaintext)" --transport "$TRANSPORT" --torrent-summary "$(cat "$WORK/torrent.txt")"
log "report: $REPORT_DIR/$DATE-seeding-vs-libtorrent$VARIANT.md (raw results in $RESULTS)"
