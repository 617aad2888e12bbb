#!/usr/bin/env bash
# Many torrents of many small files under a descriptor limit (the load of issue 15: 7,000 torrents x 10 files with
# `ulimit -n 20000`): for `appliance serve` and for python3-libtorrent (libtorrent_folder_seed.py), each started under
# `prlimit --nofile`, measures the seconds from exec until the last torrent has served a block (many_files_probe.py asks
# every torrent for its first block, in order, retrying one that is not served yet), with the resident memory (VmRSS, RssAnon, RssFile) and open
# descriptors of the seeder at that moment. Prints a JSON line per seeder.
#   bench/scripts/many-files.sh [--appliance PATH] [--torrents N] [--files M] [--file-bytes B] [--nofile L]
#                               [--single-file] [--probe-sample N] [--seeders "appliance libtorrent"] [--timeout S] [--restart]
#                               [-- EXTRA APPLIANCE FLAGS]
# Defaults: 7000 torrents x 10 files of 4096 bytes, nofile 20000. --single-file makes single-file torrents instead (one
# file of --file-bytes each, e.g. --torrents 100000 --single-file). --probe-sample N asks only N torrents, evenly spread
# and always the last (the probe's one connection per torrent, about 1 ms each, would otherwise be what is measured).
# --restart: each seeder runs twice, a first start and then a restart from the state the first one saved (the
# appliance's resume files; libtorrent's fast-resume files, libtorrent_folder_seed.py --resume-dir), waiting after the
# first until all of it is written; a JSON line for each, with "start": "first" or "restart".
# Everything listens on 127.0.0.1 and is stopped on exit.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
APPLIANCE="${APPLIANCE:-}"
TORRENTS=7000
FILES=10
FILE_BYTES=4096
NOFILE=20000
SEEDERS="appliance libtorrent"
TIMEOUT=900
EXTRA=()
SINGLE=0
SAMPLE=0
RESTART=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --appliance) APPLIANCE="$2"; shift 2 ;;
    --torrents) TORRENTS="$2"; shift 2 ;;
    --files) FILES="$2"; shift 2 ;;
    --file-bytes) FILE_BYTES="$2"; shift 2 ;;
    --single-file) SINGLE=1; shift ;;
    --probe-sample) SAMPLE="$2"; shift 2 ;;
    --nofile) NOFILE="$2"; shift 2 ;;
    --seeders) SEEDERS="$2"; shift 2 ;;
    --timeout) TIMEOUT="$2"; shift 2 ;;
    --restart) RESTART=1; shift ;;
    --) shift; EXTRA=("$@"); break ;;
    -h|--help) sed -n 2,9p "$0"; exit 0 ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
done
WORK=$(mktemp -d /tmp/many-files.XXXXXX)
# shellcheck source=bench/scripts/seeders.sh
source "$ROOT/bench/scripts/seeders.sh"
trap 'cleanup; rm -rf "$WORK"' EXIT
[[ " $SEEDERS " == *" appliance "* ]] && default_appliance

echo "generating $TORRENTS torrents x $([[ $SINGLE == 1 ]] && echo "1 (single-file)" || echo "$FILES") files of $FILE_BYTES bytes in $WORK/content" >&2
"$PY" - "$WORK/content" "$TORRENTS" "$FILES" "$FILE_BYTES" "$SINGLE" <<'PY'
import hashlib, os, random, sys
folder, count, files, size, single = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1"
piece = 16384
def benc(v):
    if isinstance(v, int): return b"i%de" % v
    if isinstance(v, bytes): return b"%d:%s" % (len(v), v)
    if isinstance(v, str): return benc(v.encode())
    if isinstance(v, list): return b"l" + b"".join(benc(x) for x in v) + b"e"
    if isinstance(v, dict): return b"d" + b"".join(benc(k) + benc(v[k]) for k in sorted(v)) + b"e"
    raise TypeError(v)
rng = random.Random(1)
os.makedirs(folder, exist_ok=True)
os.makedirs(folder, exist_ok=True)
for t in range(count):
    if single:
        name = "t%06d.bin" % t
        content = rng.randbytes(size)
        with open(os.path.join(folder, name), "wb") as out: out.write(content)
        hashes = b"".join(hashlib.sha1(content[o:o + piece]).digest() for o in range(0, size, piece))
        info = {"length": size, "name": name, "piece length": piece, "pieces": hashes}
        with open(os.path.join(folder, name + ".torrent"), "wb") as out: out.write(benc({"info": info}))
        continue
    name = "t%05d" % t
    os.makedirs(os.path.join(folder, name))
    data, listed = b"", []
    for f in range(files):
        content = rng.randbytes(size)
        with open(os.path.join(folder, name, "f%02d.bin" % f), "wb") as out: out.write(content)
        data += content
        listed.append({"length": size, "path": ["f%02d.bin" % f]})
    hashes = b"".join(hashlib.sha1(data[o:o + piece]).digest() for o in range(0, len(data), piece))
    info = {"files": listed, "name": name, "piece length": piece, "pieces": hashes}
    with open(os.path.join(folder, name + ".torrent"), "wb") as out: out.write(benc({"info": info}))
PY

# run SEEDER [first|restart]: a first start deletes the seeder's saved state; a restart keeps it.
run() {
  local seeder=$1 kind=${2:-first} start result fds rss hwm anon filepages
  local resume=()
  [[ $RESTART == 1 ]] && resume=(--resume-dir "$WORK/lt-resume")
  PORT=$(free_port)
  if [[ $kind == first ]]; then rm -rf "$WORK/content/.appliance" "$WORK/lt-resume"; sync; fi
  start=$("$PY" -c 'import time; print(time.time())')
  if [[ $seeder == appliance ]]; then
    prlimit --nofile="$NOFILE:$NOFILE" "$APPLIANCE" serve --content "$WORK/content" --listen "127.0.0.1:$PORT" --no-tracker \
      --no-dht --no-utp --metrics-listen '' --upload-slots unlimited --log-level Warning "${EXTRA[@]}" \
      > "$WORK/$seeder.out" 2> "$WORK/$seeder.err" &
  else
    prlimit --nofile="$NOFILE:$NOFILE" "$PY" "$SCRIPTS/libtorrent_folder_seed.py" --folder "$WORK/content" \
      --listen "127.0.0.1:$PORT" --max-seconds "$TIMEOUT" "${resume[@]}" > "$WORK/$seeder.out" 2> "$WORK/$seeder.err" &
  fi
  SEEDER=$!; PIDS+=("$SEEDER")
  result=$("$PY" "$SCRIPTS/many_files_probe.py" --folder "$WORK/content" --peer "127.0.0.1:$PORT" --since "$start" \
    --timeout "$TIMEOUT" --sample "$SAMPLE" || true)
  if kill -0 "$SEEDER" 2>/dev/null; then
    fds=$(ls "/proc/$SEEDER/fd" | wc -l)
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$SEEDER/status")
    hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$SEEDER/status")
    anon=$(awk '/^RssAnon/ {print $2}' "/proc/$SEEDER/status")
    filepages=$(awk '/^RssFile/ {print $2}' "/proc/$SEEDER/status")
  else
    fds=0; rss=0; hwm=0; anon=0; filepages=0
    echo "$seeder exited early:" >&2; tail -5 "$WORK/$seeder.err" >&2
  fi
  [[ $RESTART == 1 && $kind == first ]] && wait_for_saved_state "$seeder"
  stop_pid "$SEEDER"
  echo "{\"seeder\": \"$seeder\", \"start\": \"$kind\", \"torrents\": $TORRENTS, \"files\": $FILES, \"single_file\": $SINGLE, \"nofile\": $NOFILE, \"result\": ${result:-null}, \"open_fds\": $fds, \"rss_mib\": $((rss / 1024)), \"rss_peak_mib\": $((hwm / 1024)), \"rss_anon_mib\": $((anon / 1024)), \"rss_file_mib\": $((filepages / 1024))}"
  local refused
  refused=$(grep -ci 'too many open files' "$WORK/$seeder.err" "$WORK/$seeder.out" 2>/dev/null | awk -F: '{s += $NF} END {print s + 0}' || true)
  [[ $refused -eq 0 ]] || echo "$seeder: $refused 'Too many open files' lines" >&2
}

# Before a restart: the first start's state is all written (bounded by --timeout).
wait_for_saved_state() {
  local deadline=$((SECONDS + TIMEOUT))
  while ((SECONDS < deadline)) && kill -0 "$SEEDER" 2>/dev/null; do
    if [[ $1 == appliance ]]; then
      (( $(find "$WORK/content/.appliance" -name '*.resume' 2>/dev/null | wc -l) >= TORRENTS )) && return 0
    else
      grep -q '^RESUME_SAVED' "$WORK/$1.out" && return 0
    fi
    sleep 0.5
  done
  echo "$1: state not all saved before the restart" >&2
}

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for seeder in $SEEDERS; do
  run "$seeder" first
  if [[ $RESTART == 1 ]]; then sync; run "$seeder" restart; fi
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
