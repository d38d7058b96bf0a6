#!/usr/bin/env bash
# Set up a fresh clone: a virtual environment in .venv with tta-codegen, the embedded
# zero-key model and the dev tools. Idempotent: a second run only checks.
# llama-cpp-python compiles from source the first time (about 4 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
fi
# GGML_NATIVE=OFF: a binary that runs on any x86-64, not only the CPU that built it.
CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}" .venv/bin/python -m pip install -q -e ".[dev,local]"
