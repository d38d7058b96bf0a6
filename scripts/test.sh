#!/usr/bin/env bash
# The test command: set up (scripts/bootstrap.sh, then every scripts/setup.d/*.sh for the
# editor end-to-end tests), lint, type-check, and run the whole suite.
#
# pytest runs in TTA_TEST_WORKERS processes (pytest-xdist; default 2, one per core on the
# 2-core machines the project targets; 0 runs in this process, e.g. to use pdb). Most of a
# test's time is a subprocess starting (the server, the CLI, Neovim) or a wait on one, so
# two workers keep both cores busy. Each test file runs whole in one worker
# (--dist loadfile): a module's shared set-up (the PostgreSQL cluster, the benchmark run)
# happens once. Files are handed out in collection order, slowest first (tests/conftest.py).
# Every test has its own ports, temp dirs and XDG home (ledger, trust store); see
# docs/testing.md. (--dist loadgroup would hand out single tests, but with pytest 9.2 it
# silently ignores xdist_group marks: pytest-xdist issue 1386.)
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
# Bytecode for the project, once: where PYTHONDONTWRITEBYTECODE is set (some CI images),
# every server and CLI process the suite starts would compile it again (~10% of a start).
.venv/bin/python -m compileall -q -j 0 server tests benchmarks >/dev/null
workers=${TTA_TEST_WORKERS:-2}
xdist=()
if [ "$workers" != 0 ]; then
  xdist=(-n "$workers" --dist loadfile --no-loadscope-reorder)
fi
.venv/bin/python -m pytest -q -p no:cacheprovider ${xdist[@]+"${xdist[@]}"} "$@"
