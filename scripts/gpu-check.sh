#!/usr/bin/env bash
# GPU check of NAS-Bench-101 training on libtorch CUDA:
#  1. builds the CLI with the libtorch feature,
#  2. trains the paper's full-size network (3 stacks x 3 cells, 128 channels) for a fixed
#     number of steps on generated CIFAR-10-shaped batches (256 images of 3x32x32) and prints
#     images per second,
#  3. runs the main job (`seminas search` with the embedded config) on libtorch-cuda:0,
#  4. benchmarks the controller's training step on libtorch-cuda:N and cuda:N next to flex and
#     libtorch on the CPU (criterion, steps per second printed),
#  5. runs a short main-job search (12 cells) on flex, libtorch-cuda:N and cuda:N, and with
#     SEMINAS_REFERENCE_DATA a NAS-Bench-201 search on each (CUDA through CubeCL needs the
#     `cuda` feature; its runs are skipped with a message when it does not build).
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
    echo "gpu-check: installing libtorch with scripts/setup-libtorch.sh" >&2
    eval "$(scripts/setup-libtorch.sh)"
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader

# Burn's CubeCL CUDA backend (`cuda` feature) is the second GPU path. Its build downloads an
# LLVM bundle from GitHub (tracel-llvm-bundler); a machine where it does
# not build still gets the libtorch figures.
cli_features=libtorch
if cargo build --release --locked -p seminas-cli --features libtorch,cuda; then
    cli_features=libtorch,cuda
else
    echo "(the cuda feature does not build here; cuda:$gpu is skipped below)" >&2
    cargo build --release --locked -p seminas-cli --features libtorch
fi
bin="${CARGO_TARGET_DIR:-target}/release/seminas"
gpu_devices=("libtorch-cuda:$gpu")
if [[ "$cli_features" == libtorch,cuda ]]; then
    gpu_devices+=("cuda:$gpu")
fi

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

echo "== controller training step (batch 100, length 27): flex, libtorch CPU, libtorch-cuda:$gpu, cuda:$gpu"
devices="libtorch-cuda:$gpu"
features=libtorch
if cargo build --release --locked -p seminas-benches --features libtorch,seminas-core/cuda --benches >/dev/null 2>&1; then
    devices="$devices,cuda:$gpu"
    features="libtorch,seminas-core/cuda"
else
    echo "(the cuda feature does not build here; cuda:$gpu skipped)"
fi
SEMINAS_BENCH_DEVICES="$devices" cargo bench --locked -p seminas-benches --features "$features" --bench controller \
    -- --warm-up-time 1 --measurement-time 5 controller_train_step 2>&1 |
    awk '/^controller_train_step/ {name=$1} /time:/ {ms=$(NF-3); unit=$(NF-2); if (unit=="µs") ms/=1000; if (unit=="s") ms*=1000;
         printf "%-55s %9.2f ms/step %9.1f steps/s\n", name, ms, 1000/ms}'

echo "== short main-job search (12 cells) on each device"
for device in flex "${gpu_devices[@]}"; do
    start=$SECONDS
    "$bin" search --device "$device" --budget 12 --out "$out-short-${device//:/_}" | tail -4
    echo "short search wall time on $device: $((SECONDS - start)) s"
done

if [[ -n "${SEMINAS_REFERENCE_DATA:-}" && -f "$SEMINAS_REFERENCE_DATA/nasbench201/nats_bench.csv" ]]; then
    for device in flex "${gpu_devices[@]}"; do
        echo "== short seminas-nao search on NAS-Bench-201, $device"
        start=$SECONDS
        "$bin" search --config examples/configs/nasbench201-seminas-nao.toml --device "$device" \
            --out "$out-nb201-${device//:/_}" | tail -3
        echo "wall time on $device: $((SECONDS - start)) s"
    done
fi
