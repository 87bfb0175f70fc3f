#!/bin/sh
# Issue 17: the first call on a GPU machine (e.g. a bare NVIDIA server: no Node, no npm, no network).
# Run from the repository root (or any folder holding .gpu/), about 2-4 minutes (at most ~9: 120 s + 4 x 100 s limits):
#   sh packages/bench/gpu/device-check.sh
# Needs .gpu/blvnet-linux-x64.tar.xz, made on a dev machine by
#   blvnet bundle --out .gpu/blvnet-linux-x64.tar.xz --with-vulkan-loader
# Writes to $OUT (default /tmp/out): system.txt (GPU, Vulkan ICDs, ld.so cache), env.json + env.txt
# (`blvnet env`: ort / ort-webgpu / ort-cuda with adapter, driver or the reason), speed.txt + speed.csv
# (TSM-R50 8 frames 224x224 on ort and ort-webgpu, batch 1 and 8, with node placement and GPU peak).
set -u
OUT="${OUT:-/tmp/out}"
mkdir -p "$OUT"
here=$(pwd)
work="${TMPDIR:-/tmp}/blvnet-gpu"
mkdir -p "$work"
tar -xJf "$here/.gpu/blvnet-linux-x64.tar.xz" -C "$work" || exit 1
B=$(ls -d "$work"/blvnet-*-linux-x64 | head -n1)/blvnet
{
  date; uname -a; nvidia-smi 2>&1
  for d in /usr/local/nvidia/share/vulkan/icd.d /etc/vulkan/icd.d /usr/share/vulkan/icd.d; do echo "== $d"; ls -la "$d" 2>&1; done
  ldconfig -p | grep -E 'vulkan|GLX_nvidia|GLdispatch' || echo "(no vulkan/GLX_nvidia/GLdispatch in ld.so cache)"
  ls /usr/local/nvidia/lib64 2>&1 | head -50
} > "$OUT/system.txt" 2>&1
timeout 120 "$B" env --json > "$OUT/env.json" 2> "$OUT/env.err"
timeout 120 "$B" env > "$OUT/env.txt" 2>&1
for backend in ort ort-webgpu; do
  for batch in 1 8; do
    echo "== $backend batch $batch" >> "$OUT/speed.txt"
    timeout 100 "$B" --backend "$backend" bench speed --model tsm --opt depth=50 --frames 8 --size 224 --batch "$batch" \
      --warmup 3 --iters 10 --out "$OUT/speed.csv" >> "$OUT/speed.txt" 2>&1 || echo "exit $?" >> "$OUT/speed.txt"
  done
done
echo "device-check: done; see $OUT"
