# Shared by the scripts that run one seeder at a time (first-byte.sh, swarm-complete.sh, handshake-rate.sh, soak.sh);
# source it after setting ROOT and WORK. It makes the sample torrent, starts `appliance serve` or libtorrent_seed.py on a free
# 127.0.0.1 port (PORT, SEEDER), waits until it seeds, and stops every process it started on exit.
PY=/usr/bin/python3
SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
stop_pid() {
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
}
# default_appliance: APPLIANCE as given (--appliance), else dist/appliance; exits 2 when neither is there.
default_appliance() {
  [[ -n "${APPLIANCE:-}" ]] && return 0
  [[ -x "$ROOT/dist/appliance" ]] || { echo "no dist/appliance: run 'make publish' or pass --appliance" >&2; exit 2; }
  APPLIANCE="$ROOT/dist/appliance"
}
# default_loadgen: LOADGEN as given (environment), else LoadGen published (Release) into $WORK/tools/LoadGen.
default_loadgen() {
  [[ -n "${LOADGEN:-}" ]] && return 0
  dotnet publish "$ROOT/bench/Appliance.LoadGen" -c Release -o "$WORK/tools/LoadGen" --artifacts-path "$WORK/build" \
    > "$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; exit 1; }
  LOADGEN="$WORK/tools/LoadGen/Appliance.LoadGen"
}
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# make_sample SIZE_MIB: random content in $WORK/content and its torrent (256 KiB pieces); sets TORRENT and INFO_HASH.
make_sample() {
  mkdir -p "$WORK/content" "$WORK/torrents"
  head -c "$(($1 * 1024 * 1024))" /dev/urandom > "$WORK/content/sample.bin"
  mktorrent -l 18 -n sample.bin -o "$WORK/torrents/sample.torrent" "$WORK/content/sample.bin" > /dev/null
  TORRENT="$WORK/torrents/sample.torrent"
  INFO_HASH=$("$PY" -c "import libtorrent as lt; print(lt.torrent_info('$TORRENT').info_hash())")
}

# wait_seeding PATTERN: until the seeder's stdout has a line matching PATTERN (60 s at most, or it exits).
wait_seeding() {
  for _ in $(seq 1 1200); do
    grep -qi "$1" "$WORK/seeder.out" 2>/dev/null && return 0
    kill -0 "$SEEDER" 2>/dev/null || { cat "$WORK/seeder.err" >&2; return 1; }
    sleep 0.05
  done
  return 1
}

# start_appliance [FLAGS...]: `$APPLIANCE serve` on a fresh state folder, no tracker, no metrics listener, plus FLAGS.
start_appliance() {
  PORT=$(free_port)
  rm -rf "$WORK/state"
  "$APPLIANCE" serve --content "$WORK/content" --torrents "$WORK/torrents" --state "$WORK/state" \
    --listen "127.0.0.1:$PORT" --no-tracker --metrics-listen '' "$@" > "$WORK/seeder.out" 2> "$WORK/seeder.err" &
  SEEDER=$!; PIDS+=("$SEEDER")
  wait_seeding "$INFO_HASH"
}

# start_libtorrent [--set KEY=VALUE...]: libtorrent_seed.py (high_performance_seed(), TCP, every peer unchoked) plus overrides.
start_libtorrent() {
  PORT=$(free_port)
  "$PY" "$SCRIPTS/libtorrent_seed.py" --torrent "$TORRENT" --save-path "$WORK/content" --listen "127.0.0.1:$PORT" \
    --max-seconds 900 "$@" > "$WORK/seeder.out" 2> "$WORK/seeder.err" &
  SEEDER=$!; PIDS+=("$SEEDER")
  wait_seeding '^READY'
}
