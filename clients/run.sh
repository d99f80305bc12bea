#!/usr/bin/env bash
# Real MCP clients against flowmcp (issue 7): the Inspector CLI and the TypeScript SDK over stdio
# and HTTP, and Claude Code's `claude mcp add` + `claude mcp get`. Pinned npm versions, installed
# into clients/node_modules. Needs the flowmcp command on PATH (the CI venv) and the npm registry.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
[ -d node_modules/@modelcontextprotocol/inspector ] || npm install --no-audit --no-fund --loglevel=error
export PATH="$here/node_modules/.bin:$PATH"
export USER="${USER:-ci}"

source "$here/../.ci/flowmcp-http.sh"  # $project, served over HTTP at $url; stdio clients use it too
flow=product_flow.py
inspector() { node "$here/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js" --cli "$@"; }

echo "== Inspector CLI over stdio"
listed="$(inspector --cwd "$project" flowmcp --method tools/list)"
grep -q '"name": "spin"' <<<"$listed"
inspector --cwd "$project" flowmcp --method tools/call --tool-name run --tool-arg flow=$flow >/dev/null
inspector --cwd "$project" flowmcp --method tools/call --tool-name spin --tool-arg flow=$flow \
  --tool-arg step=train >/dev/null
if inspector --cwd "$project" flowmcp --method tools/call --tool-name spin --tool-arg flow=$flow \
  --tool-arg step=nope >/dev/null 2>&1; then echo "a failing spin must exit non-zero"; exit 1; fi
echo "ok: tools/list, run, spin; a bad spin exits non-zero"

echo "== Inspector CLI over HTTP"
listed="$(inspector "$url" --transport http --method tools/list)"
grep -q '"name": "run"' <<<"$listed"
inspector "$url" --transport http --method tools/call --tool-name spin --tool-arg flow=$flow \
  --tool-arg step=train >/dev/null
echo "ok: tools/list, spin"

echo "== TypeScript SDK"
node "$here/ts_sdk_check.mjs" stdio "$project" "$flow"
node "$here/ts_sdk_check.mjs" http "$url" "$flow"

echo "== Claude Code"
home="$(mktemp -d)"
(cd "$project" && HOME="$home" claude mcp add flowmcp -- "$(command -v flowmcp)" --root "$project" >/dev/null)
# `claude mcp get` exits 0 even when the server fails: read what it says
status="$(cd "$project" && HOME="$home" claude mcp get flowmcp 2>&1)"
echo "$status" | grep -q "Connected" || { echo "$status"; exit 1; }
echo "ok: claude mcp get flowmcp reports Connected"

echo "== Claude Code validates the plugin flowmcp init --plugin writes"
plugin="$(mktemp -d)/flowmcp-plugin"
flowmcp init --plugin "$plugin" >/dev/null
(cd "$plugin" && HOME="$home" claude plugin validate . | tail -3)
HOME="$home" claude plugin validate "$plugin/.claude-plugin/plugin.json" | grep -q "Validation passed"
echo "ok: claude plugin validate passes the plugin and its marketplace"
