#!/usr/bin/env bash
# Fuzzes the XML stream parser (Tendril.Xml) with AFL++ and SharpFuzz for SECONDS (default 60), from the corpus in
# tests/Tendril.Xml.Fuzz/corpus. Exit 1 when AFL++ found a crash or a hang (they are copied to artifacts/fuzz/).
#   bash tests/Tendril.Xml.Fuzz/fuzz.sh [SECONDS]
# Needs Debian's afl++ and the dotnet tool SharpFuzz.CommandLine (installed here when missing). A finding replays with
#   dotnet artifacts/fuzz/replay/Tendril.Xml.Fuzz.dll artifacts/fuzz/findings/default/crashes/id:…
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
root=$(cd ../.. && pwd)
out="$root/artifacts/fuzz"
command -v afl-fuzz >/dev/null || { echo "afl-fuzz is missing (apt-get install afl++)"; exit 2; }
export PATH="$PATH:$HOME/.dotnet/tools"
command -v sharpfuzz >/dev/null || dotnet tool install --global SharpFuzz.CommandLine --version 2.3.0 >/dev/null
dotnet build -c Release -v q -o "$out/bin" >/dev/null
rm -rf "$out/replay" && cp -r "$out/bin" "$out/replay" # uninstrumented, to replay findings
rm -rf "$out/findings"
# The corpus must replay clean before fuzzing starts (uninstrumented: instrumented code needs AFL's shared memory).
for f in corpus/*; do dotnet "$out/bin/Tendril.Xml.Fuzz.dll" "$f"; done
# Instrument the library under test (not the harness, not the runtime).
sharpfuzz "$out/bin/Tendril.Xml.dll" >/dev/null
export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1
timeout --signal=INT $((seconds + 30)) afl-fuzz -V "$seconds" -i corpus -o "$out/findings" -t 10000 -m none -- dotnet "$out/bin/Tendril.Xml.Fuzz.dll" >"$out/afl.log" 2>&1 || true
stats="$out/findings/default/fuzzer_stats"
if [ ! -f "$stats" ]; then echo "afl-fuzz did not run:"; tail -30 "$out/afl.log"; exit 2; fi
execs=$(awk -F: '/^execs_done/ {gsub(/ /,"",$2); print $2}' "$stats")
paths=$(awk -F: '/^corpus_count|^paths_total/ {gsub(/ /,"",$2); print $2; exit}' "$stats")
crashes=$(find "$out/findings/default/crashes" -type f -name 'id:*' 2>/dev/null | wc -l)
hangs=$(find "$out/findings/default/hangs" -type f -name 'id:*' 2>/dev/null | wc -l)
echo "fuzz: ${seconds}s, $execs executions, $paths paths, $crashes crashes, $hangs hangs"
[ "$crashes" -eq 0 ] && [ "$hangs" -eq 0 ]
