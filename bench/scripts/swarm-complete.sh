#!/usr/bin/env bash
# A swarm of leechers each downloading the whole torrent once (LoadGen --complete, every piece verified) from
# `appliance serve` with its DEFAULT settings (--upload-slots 16, the default, passed explicitly) and from a libtorrent seeder held to the same number
# of unchoke slots, alternately, ROUNDS times; prints median wall time, MB/s, bytes per seeder CPU-second and the
# slowest peer's completion time over the median's (fairness). Users run the defaults: this is the benchmark of them.
#   bench/scripts/swarm-complete.sh [--appliance PATH] [--peers N] [--size-mib N] [--slots N] [--rounds N]
#                                    [--appliance-flags "..."] [--out DIR]
# Everything listens on 127.0.0.1; every run is bounded (--duration of LoadGen) and every process is stopped on exit.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
APPLIANCE="${APPLIANCE:-}"
PEERS=64
SIZE_MIB=32
SLOTS=16
ROUNDS=3
APP_FLAGS=""
OUT=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --appliance) APPLIANCE="$2"; shift 2 ;;
    --peers) PEERS="$2"; shift 2 ;;
    --size-mib) SIZE_MIB="$2"; shift 2 ;;
    --slots) SLOTS="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --appliance-flags) APP_FLAGS="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    -h|--help) sed -n 2,8p "$0"; exit 0 ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
done
WORK=$(mktemp -d /tmp/swarm-complete.XXXXXX)
OUT=${OUT:-$WORK/results}
mkdir -p "$OUT"
# shellcheck source=bench/scripts/seeders.sh
source "$ROOT/bench/scripts/seeders.sh"
default_appliance
dotnet publish "$ROOT/bench/Appliance.LoadGen" -c Release -o "$WORK/loadgen" --artifacts-path /tmp/art-swarm-loadgen > "$WORK/loadgen-build.log" 2>&1 \
  || { tail -20 "$WORK/loadgen-build.log" >&2; exit 1; }
make_sample "$SIZE_MIB"

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq 1 "$ROUNDS"); do
  for seeder in appliance libtorrent; do
    # shellcheck disable=SC2086
    if [[ $seeder == appliance ]]; then start_appliance --no-dht --upload-slots "$SLOTS" $APP_FLAGS; else start_libtorrent --set "unchoke_slots_limit=$SLOTS"; fi \
      || { echo "$seeder did not start" >&2; exit 1; }
    "$WORK/loadgen/Appliance.LoadGen" --torrent "$TORRENT" --target "127.0.0.1:$PORT" --peers "$PEERS" --complete \
      --duration 300 --verify reference --seeder-pid "$SEEDER" --label "$seeder" --json "$OUT/$seeder-$round.json" > /dev/null || true
    stop_pid "$SEEDER"
  done
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

"$PY" - "$OUT" "$PEERS" "$SIZE_MIB" "$SLOTS" <<'PY'
import glob, json, os, statistics, sys
out, peers, size, slots = sys.argv[1:5]
print(f"{peers} peers x {size} MiB, {slots} upload slots on both seeders")
print("| seeder | wall s | MB/s | MB per seeder CPU-s | slowest/median | completed | rounds |")
print("|---|---|---|---|---|---|---|")
for seeder in ("appliance", "libtorrent"):
    rs = [json.load(open(f)) for f in sorted(glob.glob(os.path.join(out, f"{seeder}-*.json")))]
    if not rs:
        continue
    med = lambda k: statistics.median([r[k] for r in rs if r.get(k) is not None] or [float("nan")])
    print(f"| {seeder} | {med('wall_s'):.2f} | {med('throughput_Bps') / 1e6:.0f} | {med('bytes_per_seeder_cpu_s') / 1e6:.0f} | "
          f"{med('slowest_over_median'):.2f} | {min(r['peers_completed'] for r in rs)}/{peers} | {len(rs)} |")
PY
