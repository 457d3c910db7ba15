#!/usr/bin/env bash
# Installs libtorch 2.9.0 (through PyPI's torch==2.9.0 wheel) for seminas's `libtorch` feature
# and prints the environment to export before building and running.
#
# Usage: scripts/setup-libtorch.sh [VENV_DIR]     (default: ~/.cache/seminas/torch-venv)
#        eval "$(scripts/setup-libtorch.sh)"      (sets the variables in the current shell)
#
# burn-tch 0.22 links against libtorch 2.9.0 exactly. PyPI's wheel carries the CUDA 12
# libraries too (about 6.7 GB installed); the same install serves the CPU and CUDA devices.
set -euo pipefail

TORCH_VERSION=2.9.0
venv="${1:-${HOME}/.cache/seminas/torch-venv}"
python="${PYTHON:-python3}"

log() { echo "setup-libtorch: $*" >&2; }

if ! command -v "$python" >/dev/null 2>&1; then
    log "python3 not found: install Python 3.9-3.13 (Debian: apt-get install python3 python3-venv)"
    exit 1
fi

if [ ! -x "$venv/bin/python" ]; then
    log "creating the virtual environment $venv"
    mkdir -p "$(dirname "$venv")"
    "$python" -m venv "$venv"
fi

installed=$("$venv/bin/python" -c 'import torch; print(torch.__version__)' 2>/dev/null || true)
if [ "${installed%%+*}" != "$TORCH_VERSION" ]; then
    log "installing torch==$TORCH_VERSION from PyPI into $venv (about 3 minutes, 6.7 GB)"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "torch==$TORCH_VERSION" >&2
else
    log "torch $installed already installed in $venv"
fi

lib=$("$venv/bin/python" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2>/dev/null)
if [ ! -e "$lib/libtorch_cpu.so" ]; then
    log "no libtorch_cpu.so in $lib: the torch install is incomplete; remove $venv and rerun"
    exit 1
fi

# Consumed by torch-sys (build) and the dynamic loader (run).
cat <<VARS
export LIBTORCH_USE_PYTORCH=1
export PATH="$venv/bin:\$PATH"
export LD_LIBRARY_PATH="$lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
VARS
