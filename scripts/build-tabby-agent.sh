#!/usr/bin/env bash
# Build tabby-agent (1.9.0-dev, the one with chat edit) from a TabbyML/tabby checkout, for the
# benchmark's side-by-side section (benchmarks/tabby_bench.py, docs/performance.md):
#
#   scripts/build-tabby-agent.sh PATH_TO_TABBY_CHECKOUT [OUT_DIR]
#   TTA_BENCH_TABBY_AGENT=OUT_DIR/dist/node/index.js python -m benchmarks tabby
#
# OUT_DIR defaults to .tools/tabby-agent (git-ignored). Needs node >= 18 and npm, and the npm
# registry; nothing else is downloaded. Not part of setup: CI never builds tabby-agent.
#
# Why not the upstream build: clients/tabby-agent is a pnpm workspace member. Its package.json
# names the workspace-only `tabby-openapi` (the source imports only types from it, which
# esbuild erases) and tooling the bundle does not need (tsup, eslint, mocha, ...). So the
# folder is copied out on its own, those entries are dropped, the rest are pinned to the
# versions the checkout's pnpm-lock.yaml resolved them to (what upstream ships), install from
# the npm registry with `npm install --ignore-scripts`, and esbuild bundles src/index.ts with
# the options of tsup.config.ts's "lsp-node" entry. Re-running rebuilds in place.
set -euo pipefail

usage() { echo "usage: $0 PATH_TO_TABBY_CHECKOUT [OUT_DIR]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
src="$1/clients/tabby-agent"
[ -f "$src/package.json" ] && [ -f "$src/src/index.ts" ] || {
  echo "$0: $src has no tabby-agent (package.json, src/index.ts); give the root of a TabbyML/tabby checkout" >&2
  exit 2
}
repo_root="$(cd "$(dirname "$0")/.." && pwd)"
out="${2:-$repo_root/.tools/tabby-agent}"
command -v node >/dev/null && command -v npm >/dev/null || { echo "$0: needs node (>= 18) and npm" >&2; exit 2; }
major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$major" -ge 18 ] || { echo "$0: node $(node --version) is too old; tabby-agent needs >= 18" >&2; exit 2; }

mkdir -p "$out"
out="$(cd "$out" && pwd)"
echo "tabby-agent: $src -> $out" >&2
rm -rf "$out/src" "$out/wasm" "$out/dist"
cp -R "$src/src" "$out/"
if [ -d "$src/wasm" ]; then cp -R "$src/wasm" "$out/"; else mkdir "$out/wasm"; fi
cp "$src/package.json" "$src/tsconfig.json" "$out/"

# Drop the workspace-only and tooling entries; keep esbuild and every runtime library, each
# at the version in the monorepo's lock (else npm takes the newest its range allows).
lock="$1/pnpm-lock.yaml"
[ -f "$lock" ] || lock=""
node - "$out/package.json" "$lock" <<'EOF'
const fs = require("fs");
const [file, lockFile] = process.argv.slice(2);
const pkg = JSON.parse(fs.readFileSync(file, "utf8"));
const tooling = [
  /^tabby-openapi$/, /^@types\//, /^@typescript-eslint\//, /^eslint/, /^prettier$/, /^mocha$/,
  /^chai$/, /^ts-node$/, /^tsc-watch$/, /^tsup$/, /^typescript$/, /^esbuild-plugin-polyfill-node$/,
];
const dropped = [];
for (const key of ["dependencies", "devDependencies"]) {
  for (const name of Object.keys(pkg[key] || {})) {
    if (tooling.some((re) => re.test(name))) {
      delete pkg[key][name];
      dropped.push(name);
    }
  }
}
if (!(pkg.devDependencies || {}).esbuild && !(pkg.dependencies || {}).esbuild) {
  console.error("package.json names no esbuild: not the tabby-agent this script knows");
  process.exit(1);
}
// pnpm-lock.yaml: importers -> "  clients/tabby-agent:" -> "      name:" then
// "        version: 1.2.3(peer@x)"; a line at two spaces starts the next importer.
const locked = {};
if (lockFile) {
  let inside = false, name = null;
  for (const line of fs.readFileSync(lockFile, "utf8").split("\n")) {
    if (/^  \S/.test(line) || /^\S/.test(line)) { inside = line === "  clients/tabby-agent:"; continue; }
    if (!inside) continue;
    let m = line.match(/^      '?([^':]+)'?:\s*$/);
    if (m) { name = m[1]; continue; }
    m = line.match(/^        version: (\d[^(\s]*)/);
    if (m && name) locked[name] = m[1];
  }
}
let pinned = 0;
for (const key of ["dependencies", "devDependencies"]) {
  for (const name of Object.keys(pkg[key] || {})) {
    if (locked[name]) { pkg[key][name] = locked[name]; pinned++; }
  }
}
console.error(lockFile ? `pinned ${pinned} to pnpm-lock.yaml's versions` : "no pnpm-lock.yaml: npm picks versions in range");
delete pkg.scripts;
fs.writeFileSync(file, JSON.stringify(pkg, null, 2) + "\n");
console.error(`package.json: dropped ${dropped.length} workspace/tooling entries`);
EOF

cd "$out"
npm install --ignore-scripts --no-audit --no-fund --loglevel=error
# tsup.config.ts "lsp-node": node 18, .md prompts as text, not a test or browser build;
# win-ca/mac-ca load only on Windows/macOS, and the browser LSP transport never in node.
./node_modules/.bin/esbuild src/index.ts --bundle --platform=node --target=node18 \
  --outfile=dist/node/index.js --loader:.md=text \
  --define:process.env.IS_TEST=false --define:process.env.IS_BROWSER=false \
  --external:vscode-languageserver/browser --external:win-ca --external:mac-ca \
  --log-level=warning
cp -R wasm dist/node/wasm
if grep -qs "git-lfs.github.com" dist/node/wasm/*.wasm; then
  # A checkout without Git LFS has pointer files here. 1.9.0-dev's chat edit and completion
  # never load a tree-sitter parser (src/syntax/parser.ts has no caller), so it runs as is.
  echo "note: wasm/ holds Git LFS pointers, not grammars (unused by this tabby-agent)" >&2
fi

# Smoke test: it must answer `initialize` over stdio.
node - dist/node/index.js <<'EOF'
const { spawn } = require("child_process");
const agent = spawn(process.execPath, [process.argv[2], "--stdio"], { stdio: ["pipe", "pipe", "inherit"] });
const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize",
  params: { processId: process.pid, rootUri: null, capabilities: {}, clientInfo: { name: "build-check" } } });
agent.stdin.write(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
let seen = "";
// Hang guard: a healthy agent answers in about a second.
const timer = setTimeout(() => { console.error("tabby-agent did not answer initialize in 60 s"); agent.kill(); process.exit(1); }, 60000);
agent.stdout.on("data", (chunk) => {
  seen += chunk;
  if (seen.includes('"id":1') && seen.includes('"capabilities"')) {
    clearTimeout(timer);
    const version = (seen.match(/"serverInfo":\{[^}]*"version":"([^"]+)"/) || [])[1] || "?";
    console.error(`tabby-agent ${version} answers initialize`);
    agent.kill();
    process.exit(0);
  }
});
agent.on("exit", (code) => { console.error(`tabby-agent exited (${code}) before answering initialize`); process.exit(1); });
EOF
echo "$out/dist/node/index.js"
