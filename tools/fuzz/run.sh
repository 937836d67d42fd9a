#!/usr/bin/env bash
# Fuzzes ONNX import with libFuzzer, seeded from fixtures/.
# Usage: tools/fuzz/run.sh [SECONDS]   (default 600)
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-600}
swift build -c release --scratch-path ../../.build-fuzz \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library --product ImportFuzzer >&2
corpus=../../.build-fuzz/corpus
mkdir -p "$corpus"
find ../../fixtures -name '*.onnx' -size -1M -exec cp {} "$corpus/" \;
exec ../../.build-fuzz/release/ImportFuzzer "$corpus" -max_total_time="$seconds" -max_len=262144 -print_final_stats=1
