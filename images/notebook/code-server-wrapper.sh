#!/usr/bin/env bash
# code-server as jupyter-vscode-proxy starts it, with Paved's default user settings on first use (the home
# folder is the server's PVC, so defaults cannot be baked into it).
settings="${HOME}/.local/share/code-server/User/settings.json"
if [ ! -e "$settings" ]; then
  mkdir -p "$(dirname "$settings")"
  cp /etc/paved/code-server-settings.json "$settings"
fi
exec /opt/code-server/node_modules/.bin/code-server "$@"
