# Sourced by conformance/run.sh and clients/run.sh: serve a copy of the bundled example project
# with `flowmcp serve --http` on a free port. Sets $project, $url and $server (killed on exit).
project="$(mktemp -d)"
cp "$(dirname "${BASH_SOURCE[0]}")/../flowmcp/examples/products/"* "$project/"
port="$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
USER="${USER:-ci}" flowmcp serve --http --port "$port" --root "$project" >"$project/http.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  python -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break
  sleep 0.2
done
url="http://127.0.0.1:$port/mcp"
