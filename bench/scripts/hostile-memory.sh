#!/usr/bin/env bash
# Memory under attack (issue 14): a seeder serves one torrent to a good client (LoadGen --complete, 4 peers, every
# piece SHA-1 verified, again and again) while hostile peers from four source addresses (soak_hostile.py from
# 127.0.0.201-204: garbage, 2 GB lengths, bad requests, unknown info-hashes, half handshakes, bad MSE, never-reading
# peers, uTP junk) keep CONCURRENCY connections each going. Resident memory is sampled every second from
# /proc/PID/status: VmRSS (what ps/top show, mapped content pages included) and RssAnon (what the process itself
# allocated). Reported: growth over the idle baseline taken once the seeder is ready, peak and at the end.
# `appliance serve` (defaults, no DHT/tracker) against libtorrent_seed.py (high_performance_seed, TCP), alternately,
# ROUNDS rounds each; medians.
#
# usage: bench/scripts/hostile-memory.sh [--appliance BIN] [--duration 60] [--rounds 3] [--size-mib 64] [--concurrency 12]
#                                        [--seeders "appliance libtorrent"]
# Needs dist/appliance (or --appliance), python3-libtorrent, mktorrent. Only 127.0.0.0/8 is used; every process it
# starts is stopped on exit.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
APPLIANCE="${APPLIANCE:-}"; DURATION=60; ROUNDS=3; SIZE_MIB=64; CONCURRENCY=12; SEEDERS="appliance libtorrent"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --appliance) APPLIANCE="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --size-mib) SIZE_MIB="$2"; shift 2 ;;
    --concurrency) CONCURRENCY="$2"; shift 2 ;;
    --seeders) SEEDERS="$2"; shift 2 ;;
    -h|--help) sed -n 2,14p "$0"; exit 0 ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
done
WORK=$(mktemp -d /tmp/hostile-memory.XXXXXX)
# shellcheck source=bench/scripts/seeders.sh
source "$ROOT/bench/scripts/seeders.sh"
trap 'cleanup; rm -rf "$WORK"' EXIT
default_appliance
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
default_loadgen
make_sample "$SIZE_MIB"
PIECES=$("$PY" -c "import libtorrent as lt; print(lt.torrent_info('$TORRENT').num_pieces())")

memory_kib() { awk '/^VmRSS:/ {r=$2} /^RssAnon:/ {a=$2} END {print r+0, a+0}' "/proc/$1/status" 2>/dev/null || echo "0 0"; }

# one_round SEEDER: prints "peakRss peakAnon endRss endAnon downloads" growth in MiB.
one_round() {
  case $1 in
    appliance) start_appliance ;;
    libtorrent) start_libtorrent ;;
  esac
  sleep 2
  read -r base_rss base_anon < <(memory_kib "$SEEDER")
  local pids=() end=$((SECONDS + DURATION)) peak_rss=$base_rss peak_anon=$base_anon downloads=0
  for i in 1 2 3 4; do
    "$PY" "$SCRIPTS/soak_hostile.py" --peer "127.0.0.1:$PORT" --info-hash "$INFO_HASH" --pieces "$PIECES" \
      --seconds "$DURATION" --hold "$DURATION" --concurrency "$CONCURRENCY" --source "127.0.0.$((200 + i))" \
      > "$WORK/hostile-$i.json" 2> "$WORK/hostile-$i.err" &
    pids+=("$!")
  done
  ( while (( SECONDS < end - 5 )); do
      "$LOADGEN" --torrent "$TORRENT" --target "127.0.0.1:$PORT" --complete --peers 4 --pipeline 16 --verify sha1 \
        --duration $((end - SECONDS)) --per-ip 4 > /dev/null 2>> "$WORK/loadgen.err" && echo ok >> "$WORK/downloads"
    done ) &
  pids+=("$!")
  : > "$WORK/downloads"
  while (( SECONDS < end )); do
    read -r rss anon < <(memory_kib "$SEEDER")
    (( rss > peak_rss )) && peak_rss=$rss
    (( anon > peak_anon )) && peak_anon=$anon
    sleep 1
  done
  read -r end_rss end_anon < <(memory_kib "$SEEDER")
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait "${pids[@]}" 2>/dev/null || true
  downloads=$(wc -l < "$WORK/downloads")
  stop_pid "$SEEDER"
  awk -v a="$peak_rss" -v b="$peak_anon" -v c="$end_rss" -v d="$end_anon" -v r="$base_rss" -v n="$base_anon" -v k="$downloads" \
    'BEGIN {printf "%.1f %.1f %.1f %.1f %d %.1f %.1f\n", (a-r)/1024, (b-n)/1024, (c-r)/1024, (d-n)/1024, k, r/1024, n/1024}'
}

echo "# hostile-memory $(date -u +%FT%TZ): ${SIZE_MIB} MiB torrent, ${DURATION} s per round, 4 hostile sources x $CONCURRENCY connections, rounds $ROUNDS"
echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A PR PA ER EA
for round in $(seq 1 "$ROUNDS"); do
  for seeder in $SEEDERS; do
    read -r pr pa er ea dl br ba < <(one_round "$seeder")
    printf 'round %d %-10s baseline VmRSS %6s MiB RssAnon %6s MiB; growth: peak VmRSS %6s RssAnon %6s, end VmRSS %6s RssAnon %6s MiB; good downloads completed %s\n' \
      "$round" "$seeder" "$br" "$ba" "$pr" "$pa" "$er" "$ea" "$dl"
    PR[$seeder]+="$pr "; PA[$seeder]+="$pa "; ER[$seeder]+="$er "; EA[$seeder]+="$ea "
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| seeder | peak VmRSS growth (MiB) | peak RssAnon growth (MiB) | VmRSS growth at end | RssAnon growth at end |"
echo "|---|---:|---:|---:|---:|"
for seeder in $SEEDERS; do
  echo "| $seeder | $(median <<<"${PR[$seeder]}") | $(median <<<"${PA[$seeder]}") | $(median <<<"${ER[$seeder]}") | $(median <<<"${EA[$seeder]}") |"
done
