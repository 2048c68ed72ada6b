#!/usr/bin/env bash
# Install code-server from npm into $1 (default /opt/code-server) with Node 20, without its postinstall
# downloads: ripgrep comes from Debian (`ripgrep`), native modules are rebuilt locally.
# Needs: node 20 + npm, ripgrep, libkrb5-dev, pkg-config, python3, make, g++.
set -euo pipefail
PREFIX="${1:-/opt/code-server}"
VERSION="${CODE_SERVER_VERSION:-4.100.3}"   # 4.103+ needs Node 22

mkdir -p "$PREFIX" && cd "$PREFIX"
npm init -y >/dev/null
npm install --ignore-scripts --omit=dev "code-server@${VERSION}"
npm rebuild argon2

cd "$PREFIX/node_modules/code-server/lib/vscode"
npm install --ignore-scripts --omit=dev
mkdir -p node_modules/@vscode/ripgrep/bin
ln -sf /usr/bin/rg node_modules/@vscode/ripgrep/bin/rg
npm_config_yes=true npm rebuild          # node-pty builds with `npx node-gyp`
ln -sfn node_modules node_modules.asar
ln -sf code-linux.sh bin/remote-cli/code-server
ln -sf browser-linux.sh bin/helpers/browser.sh
cd extensions
npm install --unsafe-perm --omit=dev

npm cache clean --force
