#!/usr/bin/env bash
# Installs what cleave's build, tests and tools need on a fresh Debian machine.
# Idempotent: packages already present are skipped, the venv is reused.
set -euo pipefail
cd "$(dirname "$0")/.."

# espeak-ng speaks the speech that tools/zoo.py feeds the voice-activity detector; gcc, libdnnl-dev,
# libxnnpack-dev and libpthreadpool-dev build the oneDNN and XNNPACK sides of tools/bench/conv_kernels.py.
apt_packages=(pkg-config protobuf-c-compiler libprotobuf-c-dev zlib1g-dev libopenblas-dev python3-venv time openssl espeak-ng
              gcc libdnnl-dev libxnnpack-dev libpthreadpool-dev)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
  echo "setup: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The Python side (fixtures, ONNX Runtime oracle, interop scripts) lives in .venv.
if [[ ! -x .venv/bin/python ]]; then
  python3 -m venv .venv
fi
if ! .venv/bin/pip install -q --disable-pip-version-check -r tools/requirements.txt; then
  echo "setup: pip install -r tools/requirements.txt failed" >&2
  exit 1
fi
# KServe's, MLServer's and Triton's servers (tools/interop_servers.py, tools/bench/serve_bench.py) each
# get a venv of their own: kserve and mlserver pin incompatible Starlette versions, kserve would
# downgrade protobuf under the oracle scripts, and PyTriton's Triton needs numpy<2.
for server in kserve mlserver triton; do
  if [[ ! -x .venv-$server/bin/python ]]; then
    python3 -m venv .venv-$server
  fi
  if ! .venv-$server/bin/pip install -q --disable-pip-version-check -r tools/requirements-$server.txt; then
    echo "setup: pip install -r tools/requirements-$server.txt failed" >&2
    exit 1
  fi
done
echo "setup: ok" >&2
