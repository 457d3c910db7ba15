#!/usr/bin/env bash
# GPU check of NAS-Bench-101 training on libtorch CUDA:
#  1. builds the CLI with the libtorch feature,
#  2. trains the paper's full-size network (3 stacks x 3 cells, 128 channels) for a fixed
#     number of steps on generated CIFAR-10-shaped batches (256 images of 3x32x32) and prints
#     images per second,
#  3. runs the main job (`seminas search` with the embedded config) on libtorch-cuda:0.
#
# Usage: scripts/gpu-check.sh [GPU_INDEX]   (environment: STEPS, default 30; OUT, default
# runs/gpu-check). Needs libtorch as the tch crate finds it: LIBTORCH (and LD_LIBRARY_PATH)
# set, e.g. by scripts/setup-libtorch.sh, or LIBTORCH_USE_PYTORCH=1 with PyTorch installed.
set -euo pipefail

cd "$(dirname "$0")/.."
gpu="${1:-0}"
steps="${STEPS:-30}"
out="${OUT:-runs/gpu-check}"

if [[ -z "${LIBTORCH:-}" && -z "${LIBTORCH_USE_PYTORCH:-}" ]]; then
    echo "gpu-check: set LIBTORCH (see scripts/setup-libtorch.sh) or LIBTORCH_USE_PYTORCH=1" >&2
    exit 2
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader

cargo build --release --locked -p seminas-cli --features libtorch
bin=target/release/seminas

echo "== full-size network, generated CIFAR-10-shaped batches, libtorch-cuda:$gpu"
"$bin" train-throughput --device "libtorch-cuda:$gpu" --stacks 3 --cells 3 --channels 128 \
    --batch-size 256 --size 32 --warmup 5 --steps "$steps"

echo "== same on the CPU (libtorch), for comparison"
"$bin" train-throughput --device libtorch --stacks 3 --cells 3 --channels 128 \
    --batch-size 32 --size 32 --warmup 1 --steps 3

echo "== main job on libtorch-cuda:$gpu"
rm -rf "$out"
start=$SECONDS
"$bin" search --device "libtorch-cuda:$gpu" --out "$out"
echo "main job wall time: $((SECONDS - start)) s"
