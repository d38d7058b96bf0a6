#!/usr/bin/env bash
# The VS Code extension and the tools of its end-to-end test.
#
# 1. builds, lints, unit-tests and packages vscode-extension/ (a .vsix);
# 2. installs what tests/vscode/test_vscode_e2e.py drives: Debian chromium (+ libkrb5-dev,
#    headers code-server's kerberos module compiles against), and into .tools/vscode/
#    (git-ignored) Node 24, code-server and playwright-core, all from the npm registry.
#
# Idempotent: each step leaves a stamp naming its versions and is skipped when the stamp
# matches. From nothing it takes about 5 minutes on 2 cores (apt ~1 min, code-server's
# native modules ~3 min); a second run takes a few seconds plus the extension's checks.
# Nothing is downloaded from outside the npm registry and Debian (see
# shared/design/vscode-e2e.md for why each flag is needed).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

NODE24_VERSION=24.21.0
CODE_SERVER_VERSION=4.139.1
PLAYWRIGHT_VERSION=1.65.1
TOOLS=$ROOT/.tools/vscode

# This machine's ~/.npmrc says yes=false; we never rely on npx prompting.
export npm_config_yes=true npm_config_fund=false npm_config_audit=false
export npm_config_update_notifier=false
# node-gyp: build native modules against the local headers (Debian's nodejs), never
# fetch headers from the internet.
export npm_config_nodedir=${npm_config_nodedir:-/usr}

log() { printf '[50-vscode] %s\n' "$*"; }
t0=$SECONDS

# --- Debian packages --------------------------------------------------------------
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
dpkg -s libkrb5-dev >/dev/null 2>&1 || need+=(libkrb5-dev)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=()
  [ "$(id -u)" = 0 ] || SUDO=(sudo)
  log "apt-get install ${need[*]}"
  "${SUDO[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends \
    "${need[@]}" >/dev/null
fi

# --- tools under .tools/vscode ----------------------------------------------------
mkdir -p "$TOOLS"

# install_into DIR STAMP [env...] -- npm args: a throwaway package.json, one stamp.
install_into() {
  local dir=$1 stamp=$2
  shift 2
  if [ "$(cat "$dir/.stamp" 2>/dev/null)" = "$stamp" ]; then
    return 0
  fi
  log "installing $stamp into ${dir#"$ROOT"/}"
  rm -rf "$dir"
  mkdir -p "$dir"
  echo '{"private": true}' >"$dir/package.json"
  (cd "$dir" && env "$@")
  echo "$stamp" >"$dir/.stamp"
}

install_into "$TOOLS/node24" "node@$NODE24_VERSION" \
  npm install --no-save --loglevel=error "node@$NODE24_VERSION"
NODE24_BIN=$TOOLS/node24/node_modules/node/bin
"$NODE24_BIN/node" --version >/dev/null

# code-server's postinstall insists on Node 24 (it reads npm's user agent), so npm itself
# must run under Node 24: npm's shebang is `env node`, hence PATH.
install_into "$TOOLS/code-server" "code-server@$CODE_SERVER_VERSION" \
  PATH="$NODE24_BIN:$PATH" npm install --no-save --loglevel=error \
  "code-server@$CODE_SERVER_VERSION"
test -f "$TOOLS/code-server/node_modules/code-server/out/node/entry.js"

install_into "$TOOLS/playwright" "playwright-core@$PLAYWRIGHT_VERSION" \
  npm install --no-save --loglevel=error "playwright-core@$PLAYWRIGHT_VERSION"

# --- the extension ----------------------------------------------------------------
cd "$ROOT/vscode-extension"
lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat node_modules/.tta-stamp 2>/dev/null)" != "$lock_sum" ]; then
  log "npm ci in vscode-extension"
  npm ci --loglevel=error
  echo "$lock_sum" >node_modules/.tta-stamp
fi
npm run --silent compile
npm run --silent lint
npm test
rm -f ./*.vsix
npm run --silent package
ls ./*.vsix >/dev/null
log "done in $((SECONDS - t0)) s"
