#!/usr/bin/env bash
# Generates the demo folder `make run` seeds: a single file and a multi-file folder (nested folder, empty file),
# with their .torrent files made by `appliance create`. Deterministic, a few MiB, made once.
set -euo pipefail
appliance=${1:?usage: make-sample.sh APPLIANCE_COMMAND DIR}
dir=${2:?usage: make-sample.sh APPLIANCE_COMMAND DIR}
content="$dir/content"
[ -f "$content/.sample-complete" ] && exit 0
rm -rf "$content" && mkdir -p "$content/demo-album/disc 2"
gen() { python3 -c "import random,sys; r=random.Random('$1'); sys.stdout.buffer.write(r.randbytes($2))" > "$3"; }
gen one 3145739 "$content/demo-file.bin"
gen two 1048583 "$content/demo-album/track01.flac"
gen three 524309 "$content/demo-album/disc 2/track02.flac"
: > "$content/demo-album/cover-missing.txt"
$appliance create "$content/demo-file.bin" -o "$content/demo-file.torrent" --comment "Appliance demo" >/dev/null
$appliance create "$content/demo-album" -o "$content/demo-album.torrent" --comment "Appliance demo" >/dev/null
touch "$content/.sample-complete"
