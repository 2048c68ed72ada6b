#!/usr/bin/env bash
# Install code-server (VS Code in the browser) for Paved's "VS Code" interface, without a global install and
# without downloads outside the npm registry and Debian.
#
#   scripts/install-code-server.sh [--prefix DIR] [--link PATH] [--paved-extension DIR] [--no-apt] [--force]
#
#   --prefix DIR  where code-server is installed (default: <repo>/node_modules/.code-server; npm leaves
#                 dot-folders in node_modules alone, so the project's own `npm install` never prunes it)
#   --link PATH   a symlink made to the `code-server` command (default: <repo>/node_modules/.bin/code-server,
#                 which is where Paved's spawner and `paved up` look; in an image e.g. /usr/local/bin/code-server;
#                 an empty PATH makes no link)
#   --paved-extension DIR  Paved's own VS Code extension (default: <repo>/extensions/paved-vscode), copied
#                 into code-server's built-in extensions on every run (so an edit is picked up by `make`)
#   --no-apt      never apt-get the Debian build dependencies (fail with a message instead)
#   --force       reinstall even when the stamp says this version is installed
#
# Environment: CODE_SERVER_VERSION (default 4.100.3: the 4.100.x line is the newest that runs on Node 20).
#
# Why not a plain `npm install code-server`: its postinstall downloads ripgrep from GitHub (no switch to skip
# it; it stops early when @vscode/ripgrep/bin exists) and tries a GitHub download for argon2. So: install
# with --ignore-scripts, then do the postinstall's work by hand: rebuild argon2 from source, install VS Code's
# own dependencies with ripgrep's bin/ pointing at Debian's rg, rebuild the native modules (node-pty runs
# `npx node-gyp`, which an npmrc `yes=false` blocks, hence npm_config_yes=true), make the links the
# postinstall makes, and install the built-in extensions' dependencies.
#
# Idempotent: a stamp (<prefix>/.paved-installed = the version) makes a second run return at once.
set -euo pipefail

VERSION="${CODE_SERVER_VERSION:-4.100.3}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX="$ROOT/node_modules/.code-server"
LINK="$ROOT/node_modules/.bin/code-server"
PAVED_EXTENSION="$ROOT/extensions/paved-vscode"
APT=1
FORCE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="$2"; shift 2 ;;
    --link) LINK="$2"; shift 2 ;;
    --no-apt) APT=0; shift ;;
    --force) FORCE=1; shift ;;
    --paved-extension) PAVED_EXTENSION="$2"; shift 2 ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "install-code-server: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
mkdir -p "$PREFIX"
PREFIX="$(cd "$PREFIX" && pwd)"
PKG="$PREFIX/node_modules/code-server"
STAMP="$PREFIX/.paved-installed"

link_command() {
  [ -n "$LINK" ] || return 0
  mkdir -p "$(dirname "$LINK")"
  ln -sfn "$PREFIX/node_modules/.bin/code-server" "$LINK"
}

# Paved's extension (status bar entry and hub links) as a built-in extension: code-server scans that folder at
# every start, for every user, with nothing to install per user and nothing downloaded. A copy, not a link: the
# files must stay readable by every server's account and outlive the source (an image build's /tmp).
install_paved_extension() {
  [ -f "$PAVED_EXTENSION/package.json" ] || { say "no Paved extension at $PAVED_EXTENSION (skipped)"; return 0; }
  local target="$PKG/lib/vscode/extensions/paved-vscode"
  rm -rf "$target.tmp"
  cp -R "$PAVED_EXTENSION" "$target.tmp"
  chmod -R a+rX "$target.tmp"
  rm -rf "$target"
  mv "$target.tmp" "$target"
}

say() { echo "install-code-server: $*"; }

if [ "$FORCE" = 0 ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$VERSION" ] && [ -e "$PKG/out/node/entry.js" ]; then
  install_paved_extension
  link_command
  exit 0
fi

start=$(date +%s)

# --- prerequisites: Node 20, a C++ toolchain, Debian's ripgrep, Kerberos headers (VS Code's kerberos module) ---
node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo none)"
if [ "$node_major" != 20 ] && [ -z "${FORCE_NODE_VERSION:-}" ]; then
  say "code-server $VERSION needs Node 20 (found: $node_major). Set FORCE_NODE_VERSION to try anyway." >&2
  exit 1
fi
missing=()
command -v rg >/dev/null || missing+=(ripgrep)
command -v pkg-config >/dev/null || missing+=(pkg-config)
[ -e /usr/include/gssapi/gssapi.h ] || command -v krb5-config >/dev/null || missing+=(libkrb5-dev)
for tool in make g++ python3; do command -v "$tool" >/dev/null || missing+=("$([ "$tool" = g++ ] && echo build-essential || echo "$tool")"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$APT" = 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing Debian packages: ${missing[*]}"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  else
    say "missing: ${missing[*]} (Debian: apt-get install ${missing[*]})" >&2
    exit 1
  fi
fi

npm_q=(--no-audit --no-fund --loglevel=error)
say "installing code-server $VERSION into $PREFIX"
rm -f "$STAMP"
[ -f "$PREFIX/package.json" ] || echo '{"private": true, "description": "code-server for Paved (scripts/install-code-server.sh)"}' > "$PREFIX/package.json"
(cd "$PREFIX" && npm install "${npm_q[@]}" --ignore-scripts "code-server@$VERSION")
(cd "$PREFIX" && npm rebuild "${npm_q[@]}" argon2)

cd "$PKG/lib/vscode"
npm install "${npm_q[@]}" --ignore-scripts --omit=dev
mkdir -p node_modules/@vscode/ripgrep/bin
ln -sfn "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
npm_config_yes=true npm rebuild "${npm_q[@]}"
ln -sfn node_modules node_modules.asar
ln -sfn code-linux.sh bin/remote-cli/code-server
ln -sfn browser-linux.sh bin/helpers/browser.sh
(cd extensions && npm install "${npm_q[@]}" --unsafe-perm --omit=dev)

"$PKG/out/node/entry.js" --version >/dev/null
echo "$VERSION" > "$STAMP"
install_paved_extension
link_command
say "done in $(( $(date +%s) - start ))s; $(du -sh "$PREFIX" | cut -f1) in $PREFIX; command: ${LINK:-$PREFIX/node_modules/.bin/code-server}"
