#!/usr/bin/env bash
# Resident memory after serving a large torrent (issue 15, "Memory that operators see"): a seeder serves one torrent of
# SIZE_MIB (default 4 GiB, several times any working set) to LoadGen --complete (PEERS peers, each downloads all of it
# once, every block verified), then sits idle. Sampled from /proc/PID/status: VmRSS
# (what ps/top show: mapped content pages included), RssAnon (what the process allocated) and RssFile (file pages in
# its page tables), at the peak during the download, when the last peer finished, and AFTER seconds later. `appliance
# serve` (defaults, no DHT/tracker) against libtorrent_seed.py (high_performance_seed, TCP), alternately, ROUNDS
# rounds each; medians. The content is read into the page cache before each run, so both serve from memory.
#
# usage: bench/scripts/memory-after-serving.sh [--appliance BIN] [--size-mib 4096] [--peers 4] [--rounds 3] [--after 5]
#                                              [--seeders "appliance libtorrent"]
# Needs dist/appliance (or --appliance), python3-libtorrent, mktorrent. Only 127.0.0.0/8 is used; every process it
# starts is stopped on exit.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
APPLIANCE="${APPLIANCE:-}"; SIZE_MIB=4096; PEERS=4; ROUNDS=3; AFTER=5; SEEDERS="appliance libtorrent"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --appliance) APPLIANCE="$2"; shift 2 ;;
    --size-mib) SIZE_MIB="$2"; shift 2 ;;
    --peers) PEERS="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --after) AFTER="$2"; shift 2 ;;
    --seeders) SEEDERS="$2"; shift 2 ;;
    -h|--help) sed -n 2,13p "$0"; exit 0 ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
done
WORK=$(mktemp -d /tmp/memory-after-serving.XXXXXX)
# shellcheck source=bench/scripts/seeders.sh
source "$ROOT/bench/scripts/seeders.sh"
trap 'cleanup; rm -rf "$WORK"' EXIT
default_appliance
default_loadgen
make_sample "$SIZE_MIB"
# LoadGen compares blocks with the content read up front up to 1 GiB; past that it hashes every piece (SHA-1).
if [[ $SIZE_MIB -le 1024 ]]; then VERIFY=(--reference-file "$WORK/content/sample.bin"); else VERIFY=(--verify sha1); fi
memory_mib() { awk '/^VmRSS:/ {r=$2} /^RssAnon:/ {a=$2} /^RssFile:/ {f=$2} END {printf "%.1f %.1f %.1f\n", r/1024, a/1024, f/1024}' "/proc/$1/status" 2>/dev/null || echo "0 0 0"; }

# one_round SEEDER: prints "peakRss peakAnon endRss endAnon endFile afterRss afterAnon afterFile seconds completed".
one_round() {
  cat "$WORK/content/sample.bin" > /dev/null
  case $1 in
    appliance) start_appliance --no-dht ;;
    libtorrent) start_libtorrent ;;
  esac
  sleep 2
  local peak_rss=0 peak_anon=0 rss anon file start=$SECONDS
  "$LOADGEN" --torrent "$TORRENT" --target "127.0.0.1:$PORT" --complete --peers "$PEERS" --pipeline 64 \
    "${VERIFY[@]}" --duration 600 --per-ip "$PEERS" --json "$WORK/loadgen.json" \
    > /dev/null 2>> "$WORK/loadgen.err" &
  local lg=$!
  while kill -0 "$lg" 2>/dev/null; do
    read -r rss anon file < <(memory_mib "$SEEDER")
    awk -v a="$rss" -v b="$peak_rss" 'BEGIN {exit !(a > b)}' && peak_rss=$rss
    awk -v a="$anon" -v b="$peak_anon" 'BEGIN {exit !(a > b)}' && peak_anon=$anon
    sleep 0.5
  done
  wait "$lg" || echo "loadgen against $1 failed: $(tail -2 "$WORK/loadgen.err")" >&2
  local seconds=$((SECONDS - start))
  read -r end_rss end_anon end_file < <(memory_mib "$SEEDER")
  sleep "$AFTER"
  read -r after_rss after_anon after_file < <(memory_mib "$SEEDER")
  local done_peers
  done_peers=$("$PY" -c "import json; print(json.load(open('$WORK/loadgen.json')).get('peers_completed', '?'))" 2>/dev/null || echo "?")
  stop_pid "$SEEDER"
  echo "$peak_rss $peak_anon $end_rss $end_anon $end_file $after_rss $after_anon $after_file $seconds $done_peers"
}

echo "# memory-after-serving $(date -u +%FT%TZ): ${SIZE_MIB} MiB torrent, $PEERS peers download it once each, rounds $ROUNDS"
echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A R
for round in $(seq 1 "$ROUNDS"); do
  for seeder in $SEEDERS; do
    read -r pr pa er ea ef ar aa af s dp < <(one_round "$seeder")
    printf 'round %d %-10s peak VmRSS %7s RssAnon %6s | at the end VmRSS %7s RssAnon %6s RssFile %7s | %s s later VmRSS %7s RssAnon %6s RssFile %7s (MiB) | %s s, %s peers completed\n' \
      "$round" "$seeder" "$pr" "$pa" "$er" "$ea" "$ef" "$AFTER" "$ar" "$aa" "$af" "$s" "$dp"
    for k in pr pa er ea ef ar aa af; do R[$seeder.$k]+="${!k} "; done
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| seeder | peak VmRSS (MiB) | peak RssAnon | VmRSS at the end | RssAnon | RssFile | VmRSS ${AFTER} s later | RssAnon | RssFile |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for seeder in $SEEDERS; do
  row="| $seeder"
  for k in pr pa er ea ef ar aa af; do row+=" | $(median <<<"${R[$seeder.$k]}")"; done
  echo "$row |"
done
