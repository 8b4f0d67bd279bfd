#!/usr/bin/env bash
# Builds, on this machine, the CUDA wheel that bench/gpu_check.sh installs instead of building
# on the GPU machine (device time is scarce there; nvcc runs here too):
#   PY=/path/to/python3.12 bench/gpu_wheel.sh
# PY must be the GPU machine's Python version (3.12). The wheel goes to .whl/kk/ with SOURCE,
# the hash of the sources it was built from; gpu_check.sh builds from source when they differ.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PY:-python3.12}
rm -rf .whl/kk && mkdir -p .whl/kk
KERNELKIT_ENABLE_CUDA=ON "$py" -m pip wheel --no-deps --no-build-isolation -w .whl/kk .
bash bench/source_hash.sh > .whl/kk/SOURCE
ls -l .whl/kk
