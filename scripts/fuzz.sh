#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser: each target of bench/Appliance.Fuzz runs under afl-fuzz for
# FUZZ_SECONDS (default 60), starting from its corpus in bench/Appliance.Fuzz/corpus/TARGET.
# FUZZ_TARGETS narrows the list; FUZZ_SAVE=1 adds the inputs afl-fuzz kept for new coverage, reduced with afl-cmin, to the
# corpus (by content hash). Results land in .fuzz/TARGET; a crash is listed at the end and makes the script fail:
# fix the parser, then keep the input in bench/Appliance.Fuzz/findings/TARGET so `make test` replays it for ever.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-"bencode metainfo peer-wire hash-answer krpc tracker-http tracker-udp http-head web-seed-request utp-header utp-connection mse"}
out=.fuzz

dotnet tool restore >/dev/null
rm -rf "$out/bin"
dotnet publish bench/Appliance.Fuzz -c Release -o "$out/bin" >/dev/null
# SharpFuzz rewrites the parsers' assemblies so afl-fuzz sees which branches an input reached.
for dll in Appliance.Protocol.dll Appliance.Networking.dll Appliance.Seeding.dll; do dotnet sharpfuzz "$out/bin/$dll" >/dev/null; done

# afl-fuzz checks that crashes reach it and that the target is an afl binary; neither applies to a .NET runner.
export AFL_SKIP_BIN_CHECK=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1
export DOTNET_TieredPGO=0

found=0
for target in $targets; do
  echo "fuzz: $target for ${seconds}s"
  rm -rf "${out:?}/$target"
  afl-fuzz -V "$seconds" -t 5000 -m none -i "bench/Appliance.Fuzz/corpus/$target" -o "$out/$target" \
    -- dotnet "$out/bin/Appliance.Fuzz.dll" "$target" >"$out/$target.log" 2>&1 || true
  stats="$out/$target/default/fuzzer_stats"
  if [ -f "$stats" ]; then
    awk -F' *: *' '/^(execs_done|corpus_count|saved_crashes|saved_hangs|bitmap_cvg)/ { printf "  %s=%s", $1, $2 } END { print "" }' "$stats"
  else
    echo "  afl-fuzz did not start; see $out/$target.log"; found=1
  fi
  if [ "${FUZZ_SAVE:-0}" = 1 ] && [ -d "$out/$target/default/queue" ]; then
    # afl-cmin keeps the smallest set of queue entries with the same coverage; of those, the ones afl-fuzz found
    # (not the seeds it started from, named orig:) that are at most 4 KiB join the corpus.
    rm -rf "${out:?}/$target.min"
    afl-cmin -i "$out/$target/default/queue" -o "$out/$target.min" -t 5000 -m none \
      -- "$(command -v dotnet)" "$out/bin/Appliance.Fuzz.dll" "$target" >"$out/$target.cmin.log" 2>&1 || true
    saved=0
    for input in "$out/$target.min"/id:*; do
      [ -f "$input" ] && [ "$(stat -c %s "$input")" -le 4096 ] || continue
      case "$input" in *,orig:*) continue ;; esac
      cp "$input" "bench/Appliance.Fuzz/corpus/$target/$(sha1sum "$input" | cut -c1-16)"; saved=$((saved + 1))
    done
    echo "  saved $saved new inputs to bench/Appliance.Fuzz/corpus/$target"
  fi
  for crash in "$out/$target"/default/crashes/id:*; do
    [ -e "$crash" ] || continue
    echo "  CRASH: $crash"; found=1
  done
done
exit "$found"
