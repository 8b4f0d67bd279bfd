#!/usr/bin/env bash
# Hash of everything a kernelkit wheel is built from (bench/gpu_wheel.sh, bench/gpu_check.sh).
cd "$(dirname "$0")/.."
find csrc python CMakeLists.txt pyproject.toml -type f -not -name '*.pyc' | LC_ALL=C sort |
  xargs sha1sum | sha1sum | cut -c1-40
