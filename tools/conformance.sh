#!/usr/bin/env bash
# Kernel conformance: ONNX's own node test cases (written from the installed
# onnx package's case definitions, plus the pytorch-converted, pytorch-operator
# and simple suites its wheel ships), and single-node cases for the attribute
# and input forms of opsets 7-21 and random window-op geometries (Conv,
# ConvTranspose, pooling) with ONNX Runtime's outputs. Every case whose
# ops are all supported runs through cleave's runtime; deliberate exclusions,
# each with its reason, are listed in tools/node_case_exclusions.txt.
# Prints 'N passed, N failed' per suite and a closing total.
set -euo pipefail
cd "$(dirname "$0")/.."
python=.venv/bin/python
[[ -x $python ]] || { echo "conformance: run tools/setup.sh first" >&2; exit 1; }

$python tools/node_cases.py --suites node,pytorch-converted,pytorch-operator,simple >&2
$python tools/ort_cases.py >&2
$python tools/ort_window_cases.py >&2
swift build --build-tests >&2

total_passed=0; total_failed=0
for suite in node-cases ort-cases ort-window-cases; do
  log=$(mktemp)
  CLEAVE_NODE_CASES="$PWD/.models/$suite" swift test --skip-build --filter NodeCaseTests 2>&1 | tee "$log" >&2 || true
  line=$(grep -Eo '[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
  rm -f "$log"
  [[ -n $line ]] || { echo "conformance: $suite did not report a result" >&2; exit 1; }
  passed=${line%% passed*}; failed=${line#*, }; failed=${failed%% failed*}
  echo "$suite: $passed passed, $failed failed"
  total_passed=$((total_passed + passed)); total_failed=$((total_failed + failed))
done
echo "conformance: $total_passed passed, $total_failed failed"
[[ $total_failed -eq 0 ]]
