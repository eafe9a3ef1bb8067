#!/usr/bin/env bash
# Installs the Debian packages Nuri builds and tests with. Idempotent: it asks apt only for
# what is missing, and runs `apt-get update` once, only when something is missing.
set -euo pipefail

packages=(
  cmake ninja-build g++ python3 ccache
  llvm-19-dev llvm-19-tools libmlir-19-dev mlir-19-tools
  libtbb-dev libfmt-dev libgtest-dev libyaml-cpp-dev
  libpagmo-dev libsentencepiece-dev
  slurm-wlm munge
  chromium
  libonnx-dev libprotobuf-dev protobuf-compiler libonnx-testdata
  python3-numpy python3-onnx
  python3-dev pybind11-dev python3-pybind11 python3-pytest
  # PyTorch 1.13: its FX post-training quantization writes the QDQ model
  # tests/models/torch_fx_qdq.py checks (about 70 MB to download).
  python3-torch
  # numpy's BLAS: without it Debian's numpy uses the reference BLAS, and the
  # float64 model references in tests/ take minutes instead of seconds.
  libopenblas0-pthread
  clang-14 libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
