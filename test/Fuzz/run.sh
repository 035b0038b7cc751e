#!/usr/bin/env bash
# Fuzzes one decoder with AFL++ through SharpFuzz, for a bounded time:
#   test/Fuzz/run.sh <wire|segment|history> [seconds=600] [output dir=/tmp/openreplica-fuzz-<target>]
# Needs afl-fuzz (Debian: apt-get install afl++) and the SharpFuzz instrumenter
# (dotnet tool install --global SharpFuzz.CommandLine --version 2.3.0). Crashing inputs land in <output>/default/crashes;
# replay one with an uninstrumented build: dotnet test/Fuzz/bin/Release/net10.0/Fuzz.dll <target> --replay <file>
set -euo pipefail
cd "$(dirname "$0")/../.."
target=${1:?usage: test/Fuzz/run.sh <wire|segment|history> [seconds] [output dir]}
seconds=${2:-600}
out=${3:-/tmp/openreplica-fuzz-$target}
command -v afl-fuzz >/dev/null || { echo "afl-fuzz not found: apt-get install afl++" >&2; exit 2; }
sharpfuzz=$(command -v sharpfuzz || echo "$HOME/.dotnet/tools/sharpfuzz")
[ -x "$sharpfuzz" ] || { echo "sharpfuzz not found: dotnet tool install --global SharpFuzz.CommandLine --version 2.3.0" >&2; exit 2; }

# A build of its own, so instrumenting does not touch the assemblies other projects use.
bin=$(mktemp -d /tmp/openreplica-fuzz-bin.XXXXXX)
dotnet build test/Fuzz -c Release -o "$bin" --nologo -v quiet >/dev/null
seeds="$out.seeds"
rm -rf "$seeds" && dotnet "$bin/Fuzz.dll" "$target" --seeds "$seeds" >/dev/null # before instrumenting: outside AFL it would crash
for assembly in OpenReplica.Consensus OpenReplica.Storage OpenReplica.Checker; do "$sharpfuzz" "$bin/$assembly.dll" >/dev/null; done
mkdir -p "$out"
# .NET is no AFL-instrumented binary (SharpFuzz reports coverage itself); it needs memory beyond AFL's default cap.
AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_CPUFREQ=1 \
  afl-fuzz -V "$seconds" -i "$seeds" -o "$out" -t 5000 -m none -- dotnet "$bin/Fuzz.dll" "$target" || true
crashes=$(find "$out/default/crashes" -type f -name 'id:*' 2>/dev/null | wc -l)
hangs=$(find "$out/default/hangs" -type f -name 'id:*' 2>/dev/null | wc -l)
execs=$(grep -E '^execs_done' "$out/default/fuzzer_stats" 2>/dev/null | grep -oE '[0-9]+' || echo 0)
paths=$(grep -E '^corpus_count' "$out/default/fuzzer_stats" 2>/dev/null | grep -oE '[0-9]+' || echo 0)
echo "$target: $execs executions, $paths inputs in the corpus, $crashes crashes, $hangs hangs (findings in $out)"
rm -rf "$bin"
[ "$crashes" -eq 0 ]
