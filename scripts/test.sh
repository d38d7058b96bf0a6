#!/usr/bin/env bash
# The test command: set up (scripts/bootstrap.sh, then every scripts/setup.d/*.sh for the
# editor end-to-end tests), lint, type-check, and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
for step in scripts/setup.d/*.sh; do
  [ -e "$step" ] || continue
  echo "== $step"
  bash "$step"
done
.venv/bin/ruff check server tests
.venv/bin/mypy
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
