#!/bin/sh
# Issue 17: the GPU reproduction in one command on a GPU machine without Node (after device-check.sh
# passed). Run from the repository root; est. < 8 minutes on one datacenter GPU (the sweep starts no
# job after 7 minutes; running the script again continues where it stopped):
#   sh packages/bench/gpu/reproduce-gpu.sh [ort-webgpu|ort-cuda]
# Needs .gpu/blvnet-linux-x64.tar.xz (blvnet bundle --out .gpu/blvnet-linux-x64.tar.xz --with-vulkan-loader)
# and, for the official PyTorch code on CUDA, checkouts in .gpu/bLVNet-TAM and .gpu/temporal-shift-module
# plus a Python with PyTorch+CUDA (BLVNET_PYTHON, else python3).
# Writes results/runs/reproduce-gpu/results.csv and results/published-gpu/ (copied to $OUT when set).
set -u
backend="${1:-ort-webgpu}"
here=$(pwd)
work="${TMPDIR:-/tmp}/blvnet-gpu"
mkdir -p "$work"
[ -x "$work/blvnet-"*"-linux-x64/blvnet" ] 2>/dev/null || tar -xJf "$here/.gpu/blvnet-linux-x64.tar.xz" -C "$work" || exit 1
B=$(ls -d "$work"/blvnet-*-linux-x64 | head -n1)/blvnet
peers=""
for d in "$here/.gpu/bLVNet-TAM" "$here/.gpu/temporal-shift-module"; do [ -d "$d" ] && peers="$peers $d"; done
# shellcheck disable=SC2086
"$B" reproduce --gpu --speed-backend "$backend" --no-progress ${peers:+--peer-src $peers}
rc=$?
if [ -n "${OUT:-}" ]; then
  mkdir -p "$OUT"
  cp -r results/published-gpu "$OUT/" 2>/dev/null
  cp results/runs/reproduce-gpu/results.csv "$OUT/results-gpu.csv" 2>/dev/null
fi
exit $rc
