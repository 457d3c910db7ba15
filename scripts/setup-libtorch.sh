#!/usr/bin/env bash
# Installs libtorch 2.9.0 (through PyPI's torch==2.9.0 wheel) for seminas's `libtorch` feature
# and prints the environment to export before building and running.
#
# Usage: scripts/setup-libtorch.sh [--cpu] [VENV_DIR]   (default VENV_DIR: ~/.cache/seminas/torch-venv)
#        eval "$(scripts/setup-libtorch.sh)"            (sets the variables in the current shell)
#
# burn-tch 0.22 links against libtorch 2.9.0 exactly.
#   default  the full wheel with its CUDA 12 libraries (about 6.7 GB installed): CPU and CUDA devices.
#   --cpu    the wheel without its CUDA dependencies and libraries (about 0.6 GB): the `libtorch`
#            CPU device only.
#            The build links a view of the wheel's libraries that leaves out libtorch_cuda, so
#            nothing needs cuDNN or cuBLAS; libtorch_cpu itself needs only the CUDA runtime and
#            CUPTI stubs, which are installed (a few MB).
set -euo pipefail

TORCH_VERSION=2.9.0
# The exact CUDA runtime and CUPTI versions torch 2.9.0's wheel declares.
CUDA_STUBS=(nvidia-cuda-runtime-cu12==12.8.90 nvidia-cuda-cupti-cu12==12.8.90)

cpu_only=0
if [ "${1:-}" = "--cpu" ]; then
    cpu_only=1
    shift
fi
venv="${1:-${HOME}/.cache/seminas/torch-venv}"
python="${PYTHON:-python3}"

log() { echo "setup-libtorch: $*" >&2; }
# pip unpacks the 0.9 GB wheel in a temporary folder: keep it on the venv's disk (the one the
# caller sized), not on a possibly small /tmp.
pip_install() {
    mkdir -p "$venv/.pip-tmp"
    TMPDIR="$venv/.pip-tmp" "$venv/bin/python" -m pip install --quiet --no-cache-dir --disable-pip-version-check "$@" >&2
    rm -rf "$venv/.pip-tmp"
}

if ! command -v "$python" >/dev/null 2>&1; then
    log "python3 not found: install Python 3.9-3.13 (Debian: apt-get install python3 python3-venv)"
    exit 1
fi

if [ ! -x "$venv/bin/python" ]; then
    log "creating the virtual environment $venv"
    mkdir -p "$(dirname "$venv")"
    "$python" -m venv "$venv"
fi

site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
# Read the version from the file rather than importing torch: a --cpu install cannot import.
installed=$(sed -n "s/^__version__ = '\(.*\)'$/\1/p" "$site/torch/version.py" 2>/dev/null || true)
if [ "${installed%%+*}" != "$TORCH_VERSION" ] || { [ "$cpu_only" = 0 ] && ! "$venv/bin/python" -c 'import torch' 2>/dev/null; }; then
    if [ "$cpu_only" = 1 ]; then
        log "installing torch==$TORCH_VERSION without its CUDA libraries into $venv (about 1 minute, 0.6 GB once the CUDA libraries are removed)"
        pip_install --no-deps "torch==$TORCH_VERSION" "${CUDA_STUBS[@]}"
        # The CPU device never loads the wheel's CUDA and Python libraries (1.2 GB): drop them
        # so that small CI disks have room for the build.
        rm -f "$site"/torch/lib/libtorch_cuda*.so "$site"/torch/lib/libtorch_nvshmem.so \
            "$site"/torch/lib/libtorch_python.so "$site"/torch/lib/libc10_cuda.so
    else
        log "installing torch==$TORCH_VERSION from PyPI into $venv (about 3 minutes, 6.7 GB)"
        pip_install "torch==$TORCH_VERSION"
    fi
else
    log "torch $installed already installed in $venv"
fi

lib="$site/torch/lib"
if [ ! -e "$lib/libtorch_cpu.so" ]; then
    log "no libtorch_cpu.so in $lib: the torch install is incomplete; remove $venv and rerun"
    exit 1
fi

# Consumed by torch-sys (build) and the dynamic loader (run).
if [ "$cpu_only" = 1 ]; then
    view="$venv/libtorch-cpu"
    rm -rf "$view"
    mkdir -p "$view/lib"
    ln -s "$site/torch/include" "$view/include"
    for so in libc10.so libtorch_cpu.so libgomp.so.1 libshm.so; do
        ln -s "$lib/$so" "$view/lib/$so"
    done
    # torch-sys links -ltorch; the wheel's libtorch.so is an empty shim whose only job is to
    # pull in libtorch_cpu and libtorch_cuda. An empty stand-in keeps libtorch_cuda (and
    # cuDNN, cuBLAS ...) out of every binary's dependencies.
    echo 'void seminas_libtorch_cpu_shim(void) {}' >"$view/shim.c"
    "${CC:-cc}" -shared -fPIC -Wl,-soname,libtorch.so -o "$view/lib/libtorch.so" "$view/shim.c" || {
        log "could not build the libtorch.so stand-in with ${CC:-cc}: install a C compiler (Debian: apt-get install gcc)"
        exit 1
    }
    echo "$TORCH_VERSION" >"$view/build-version"
    stubs="$site/nvidia/cuda_runtime/lib:$site/nvidia/cuda_cupti/lib"
    cat <<VARS
unset LIBTORCH_USE_PYTORCH
export LIBTORCH="$view"
export LIBTORCH_CXX11_ABI=1
export LD_LIBRARY_PATH="$view/lib:$stubs\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
VARS
else
    cat <<VARS
unset LIBTORCH
export LIBTORCH_USE_PYTORCH=1
export PATH="$venv/bin:\$PATH"
export LD_LIBRARY_PATH="$lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
VARS
fi
