#!/usr/bin/env bash
# Handshakes a seeder absorbs: LoadGen --handshakes (WORKERS loops of connect, handshake, wait for the seeder's
# handshake, close; a new source address every 16 connections) against `appliance serve` with default settings and
# against libtorrent_seed.py, alternately, ROUNDS times, plaintext and MSE/PE with RC4; prints medians of handshakes
# per second and per seeder CPU-second, and LoadGen's own CPU (on 2 cores the client can be the limit: say so).
#   bench/scripts/handshake-rate.sh [--appliance PATH] [--workers N] [--duration S] [--rounds N] [--out DIR]
# Everything listens on 127.0.0.1; every run is bounded by --duration and every process is stopped on exit.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
APPLIANCE="${APPLIANCE:-}"
WORKERS=16
DURATION=10
ROUNDS=3
OUT=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --appliance) APPLIANCE="$2"; shift 2 ;;
    --workers) WORKERS="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    -h|--help) sed -n 2,7p "$0"; exit 0 ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
done
WORK=$(mktemp -d /tmp/handshake-rate.XXXXXX)
OUT=${OUT:-$WORK/results}
mkdir -p "$OUT"
# shellcheck source=bench/scripts/seeders.sh
source "$ROOT/bench/scripts/seeders.sh"
default_appliance
dotnet publish "$ROOT/bench/Appliance.LoadGen" -c Release -o "$WORK/loadgen" --artifacts-path /tmp/art-handshake-loadgen > "$WORK/loadgen-build.log" 2>&1 \
  || { tail -20 "$WORK/loadgen-build.log" >&2; exit 1; }
make_sample 4

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq 1 "$ROUNDS"); do
  for seeder in appliance libtorrent; do
    for mode in plaintext rc4; do
      if [[ $seeder == appliance ]]; then start_appliance --no-dht; else start_libtorrent; fi || { echo "$seeder did not start" >&2; exit 1; }
      extra=(); [[ $mode == rc4 ]] && extra=(--rc4)
      "$WORK/loadgen/Appliance.LoadGen" --handshakes "${extra[@]}" --torrent "$TORRENT" --target "127.0.0.1:$PORT" --peers "$WORKERS" \
        --per-ip 16 --duration "$DURATION" --warmup 2 --connect-timeout 10 --seeder-pid "$SEEDER" --label "$seeder" \
        --json "$OUT/$seeder-$mode-$round.json" > /dev/null || true
      stop_pid "$SEEDER"
    done
  done
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

"$PY" - "$OUT" "$WORKERS" <<'PY'
import glob, json, os, statistics, sys
out, workers = sys.argv[1:3]
print(f"{workers} LoadGen workers, medians over rounds")
print("| seeder | handshake | per s (each round) | per seeder CPU-s | seeder CPU-s per s | LoadGen CPU-s per s | failed |")
print("|---|---|---|---|---|---|---|")
for seeder in ("appliance", "libtorrent"):
    for mode in ("plaintext", "rc4"):
        runs = [json.load(open(f)) for f in sorted(glob.glob(os.path.join(out, f"{seeder}-{mode}-*.json")))]
        if not runs:
            print(f"| {seeder} | {mode} | no run | | | | |"); continue
        med = lambda k: statistics.median(r[k] or 0 for r in runs)
        per_s = [round(r["handshakes_per_s"]) for r in runs]
        print(f"| {seeder} | {mode} | {med('handshakes_per_s'):.0f} ({', '.join(map(str, per_s))}) | {med('handshakes_per_seeder_cpu_s'):.0f} "
              f"| {med('seeder_cpu_s') / med('duration_s'):.2f} | {med('loadgen_cpu_s') / med('duration_s'):.2f} | {sum(r['failed'] for r in runs)} |")
PY
