#!/usr/bin/env bash
# Web seed benchmark: the same files served over HTTP by Debian's nginx (sendfile on) and by
# `appliance serve --web-seed-listen`, loaded alternately by wrk with 64 connections asking for random byte ranges
# (webseed_ranges.lua), several rounds; reports MB/s and bytes per server CPU-second (utime+stime from /proc of the
# server's processes: nginx's master and workers, the appliance's one process), medians, and the load average.
#
#   bench/scripts/webseed-vs-nginx.sh [--rounds 5] [--duration 10] [--warmup 3] [--connections 64] [--threads 2]
#                                     [--size-mib 512] [--files 8] [--range-kib 256] [--nginx-workers auto]
#                                     [--appliance PATH|PATH.dll] [--work DIR]
#
# Without --appliance it uses dist/appliance, else publishes the Native AOT binary (slow); a PATH ending in .dll runs
# with `dotnet` (then the measured pid is the dotnet host, which is the process doing the work). Installs nginx and wrk
# with apt-get when missing (nginx's Debian service is stopped again: only the instance started here runs). nginx runs
# as the current user from a config in the work folder (no daemon, no pid file in /run). Nothing leaves 127.0.0.1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SCRIPTS="$ROOT/bench/scripts"
ROUNDS=5
DURATION=10
WARMUP=3
CONNECTIONS=64
THREADS=2
SIZE_MIB=512
FILES=8
RANGE_KIB=256
NGINX_WORKERS=auto
APPLIANCE=""
WORK=""

while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) ROUNDS="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --connections) CONNECTIONS="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --size-mib) SIZE_MIB="$2"; shift 2 ;;
    --files) FILES="$2"; shift 2 ;;
    --range-kib) RANGE_KIB="$2"; shift 2 ;;
    --nginx-workers) NGINX_WORKERS="$2"; shift 2 ;;
    --appliance) APPLIANCE="$2"; shift 2 ;;
    --work) WORK="$2"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "webseed-vs-nginx.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

log() { echo "[webseed-bench $(date -u +%H:%M:%S)] $*" >&2; }

# ---------- tools ----------
need_package() { # need_package COMMAND PACKAGE
  command -v "$1" > /dev/null || [[ -x "/usr/sbin/$1" ]] && return 0
  local sudo=""; [[ "$(id -u)" -ne 0 ]] && sudo="sudo"
  log "installing $2 (apt-get)"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$2" > /dev/null \
    || { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$2" > /dev/null; }
  if [[ "$2" == nginx ]]; then $sudo service nginx stop > /dev/null 2>&1 || true; fi
}
need_package nginx nginx
need_package wrk wrk
NGINX_BIN="$(command -v nginx || echo /usr/sbin/nginx)"

WORK="${WORK:-$(mktemp -d /tmp/webseed-bench.XXXXXX)}"
mkdir -p "$WORK"/{content,torrents,state,nginx/tmp,logs}
chmod 755 "$WORK"
log "work dir $WORK"

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---------- the appliance ----------
if [[ -z "$APPLIANCE" && -x "$ROOT/dist/appliance" ]]; then APPLIANCE="$ROOT/dist/appliance"; fi
if [[ -z "$APPLIANCE" ]]; then
  log "publishing the appliance (Release, Native AOT, linux-x64)"
  dotnet publish "$ROOT/src/Appliance" -c Release -r linux-x64 -o "$WORK/dist" --artifacts-path /tmp/art-webseed-appliance \
    > "$WORK/logs/publish.log" 2>&1 || { tail -30 "$WORK/logs/publish.log" >&2; exit 1; }
  APPLIANCE="$WORK/dist/appliance"
fi
if [[ "$APPLIANCE" == *.dll ]]; then APP=(dotnet "$APPLIANCE"); else APP=("$APPLIANCE"); fi

# ---------- content: FILES random files in one multi-file torrent ----------
FILE_MIB=$(( (SIZE_MIB + FILES - 1) / FILES ))
mkdir -p "$WORK/content/webseed"
WRK_ARGS=($(( RANGE_KIB * 1024 )))
for i in $(seq 1 "$FILES"); do
  f="$WORK/content/webseed/file$i.bin"
  head -c "$(( FILE_MIB * 1024 * 1024 ))" /dev/urandom > "$f"
  WRK_ARGS+=("/webseed/file$i.bin" "$(stat -c %s "$f")")
done
WEB_PORT=$(free_port)
"${APP[@]}" create "$WORK/content/webseed" -o "$WORK/torrents/webseed.torrent" --web-seed "http://127.0.0.1:$WEB_PORT/" \
  > "$WORK/logs/create.log" 2>&1
log "content: $FILES files of $FILE_MIB MiB; ranges of $RANGE_KIB KiB"

# ---------- servers ----------
"${APP[@]}" serve --content "$WORK/content" --torrents "$WORK/torrents" --state "$WORK/state" \
  --listen "127.0.0.1:$(free_port)" --no-dht --no-tracker --no-utp --metrics-listen '' --log-level Warning \
  --web-seed-listen "127.0.0.1:$WEB_PORT" --web-seed-max-connections-per-ip $(( CONNECTIONS * 2 )) \
  > "$WORK/logs/appliance.out" 2> "$WORK/logs/appliance.err" &
APP_PID=$!; PIDS+=("$APP_PID")

NGINX_PORT=$(free_port)
USER_LINE=""
[[ "$(id -u)" -eq 0 ]] && USER_LINE="user $(id -un) $(id -gn);"  # as root, workers would otherwise drop to nobody
cat > "$WORK/nginx/nginx.conf" <<EOF
$USER_LINE
worker_processes $NGINX_WORKERS;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 75s;
  keepalive_requests 1000000;
  client_body_temp_path $WORK/nginx/tmp/body;
  proxy_temp_path $WORK/nginx/tmp/proxy;
  fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
  uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
  scgi_temp_path $WORK/nginx/tmp/scgi;
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $WORK/content;
    location / { }
  }
}
EOF
"$NGINX_BIN" -p "$WORK/nginx" -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf" > "$WORK/logs/nginx.out" 2>&1 &
NGINX_PID=$!; PIDS+=("$NGINX_PID")

for _ in $(seq 1 1200); do
  grep -q "web seed listening" "$WORK/logs/appliance.out" 2>/dev/null && port_open "$NGINX_PORT" && break
  kill -0 "$APP_PID" 2>/dev/null || { cat "$WORK/logs/appliance.err" >&2; exit 1; }
  kill -0 "$NGINX_PID" 2>/dev/null || { cat "$WORK/nginx/error.log" "$WORK/logs/nginx.out" >&2; exit 1; }
  sleep 0.1
done
grep -q "web seed listening" "$WORK/logs/appliance.out" || { log "the appliance did not start its web seed"; exit 1; }
port_open "$NGINX_PORT" || { log "nginx did not start"; exit 1; }
log "appliance pid $APP_PID on $WEB_PORT, nginx pid $NGINX_PID on $NGINX_PORT"

# Both servers answer the same range with the same bytes before anything is measured.
probe="/webseed/file1.bin"
cmp <(curl -sf -r 1000-99999 "http://127.0.0.1:$WEB_PORT$probe") <(curl -sf -r 1000-99999 "http://127.0.0.1:$NGINX_PORT$probe") \
  || { log "the two servers disagree on $probe"; exit 1; }
cat "$WORK/content/webseed/"*.bin > /dev/null # page cache warm for both

# CPU ticks (utime + stime) of a process and its children (nginx workers).
cpu_ticks() {
  local total=0 pid
  for pid in "$1" $(ps -o pid= --ppid "$1" 2>/dev/null); do
    [[ -r "/proc/$pid/stat" ]] || continue
    total=$(( total + $(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat") ))
  done
  echo "$total"
}

run() { # run LABEL PORT PID SECONDS -> one result line
  local before after load wrk_line
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  before=$(cpu_ticks "$3")
  wrk_line=$(wrk -t "$THREADS" -c "$CONNECTIONS" -d "${4}s" --timeout 10s -s "$SCRIPTS/webseed_ranges.lua" \
    "http://127.0.0.1:$2" -- "${WRK_ARGS[@]}" | grep '^WRK ')
  after=$(cpu_ticks "$3")
  echo "label=$1 ${wrk_line#WRK } cpu_ticks=$(( after - before )) hz=$(getconf CLK_TCK) load=${load// /,}"
}

log "warm-up, $WARMUP s each (not counted)"
run nginx "$NGINX_PORT" "$NGINX_PID" "$WARMUP" > /dev/null
run appliance "$WEB_PORT" "$APP_PID" "$WARMUP" > /dev/null
RESULTS="$WORK/results.txt"
: > "$RESULTS"
for r in $(seq 1 "$ROUNDS"); do
  log "round $r of $ROUNDS"
  if (( r % 2 )); then order=(appliance nginx); else order=(nginx appliance); fi
  for server in "${order[@]}"; do
    if [[ $server == appliance ]]; then run appliance "$WEB_PORT" "$APP_PID" "$DURATION"; else run nginx "$NGINX_PORT" "$NGINX_PID" "$DURATION"; fi \
      | tee -a "$RESULTS" >&2
  done
done

python3 - "$RESULTS" "$CONNECTIONS" "$RANGE_KIB" "$SIZE_MIB" <<'PY'
import sys, statistics
rows = [dict(kv.split("=", 1) for kv in line.split()) for line in open(sys.argv[1]) if line.startswith("label=")]
for r in rows:
    seconds = int(r["duration_us"]) / 1e6
    cpu = int(r["cpu_ticks"]) / int(r["hz"])
    r["mbps"] = int(r["bytes"]) / seconds / 1e6
    r["per_cpu"] = int(r["bytes"]) / cpu if cpu > 0 else float("nan")
    r["cpu_share"] = cpu / seconds
def med(label, key): return statistics.median(r[key] for r in rows if r["label"] == label)
print(f"\n{sys.argv[2]} connections, random {sys.argv[3]} KiB ranges over {sys.argv[4]} MiB, wrk; "
      f"{len(rows) // 2} rounds (medians; bytes include response heads)\n")
print("| server | MB/s | MB per server CPU-second | server CPU (cores) | p50 ms | p99 ms | status errors | load avg (1, 5, 15) |")
print("|---|---|---|---|---|---|---|---|")
for label in ("appliance", "nginx"):
    sel = [r for r in rows if r["label"] == label]
    errors = sum(int(r["status_errors"]) + int(r["errors"]) for r in sel)
    loads = " / ".join(r["load"].replace(",", " ") for r in sel)
    print(f"| {label} | {med(label, 'mbps'):.0f} | {med(label, 'per_cpu') / 1e6:.0f} | {med(label, 'cpu_share'):.2f} | "
          f"{statistics.median(float(r['p50_ms']) for r in sel):.2f} | {statistics.median(float(r['p99_ms']) for r in sel):.2f} | {errors} | {loads} |")
app = [r for r in rows if r["label"] == "appliance"]; ngx = [r for r in rows if r["label"] == "nginx"]
ratio = [a["per_cpu"] / n["per_cpu"] for a, n in zip(app, ngx)]
speed = [a["mbps"] / n["mbps"] for a, n in zip(app, ngx)]
print(f"\nper-round ratios appliance/nginx, bytes per CPU-second: {', '.join(f'{x:.2f}' for x in ratio)}; median {statistics.median(ratio):.2f}")
print(f"per-round ratios appliance/nginx, MB/s: {', '.join(f'{x:.2f}' for x in speed)}; median {statistics.median(speed):.2f}")
PY
