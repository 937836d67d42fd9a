#!/usr/bin/env bash
# Regenerates Sources/ONNXProto from schemas/onnx.proto with protoc-c.
# The output is committed; never edit it by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v protoc-c >/dev/null || { echo "gen-proto: protoc-c missing (apt-get install protobuf-c-compiler)" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
protoc-c --proto_path=schemas --c_out="$tmp" schemas/onnx.proto
mkdir -p Sources/ONNXProto/include
mv "$tmp/onnx.pb-c.c" Sources/ONNXProto/onnx.pb-c.c
mv "$tmp/onnx.pb-c.h" Sources/ONNXProto/include/onnx.pb-c.h
echo "gen-proto: wrote Sources/ONNXProto (protoc-c $(protoc-c --version | head -1 | awk '{print $2}'))" >&2
