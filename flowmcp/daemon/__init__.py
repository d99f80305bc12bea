"""The project server: one long-lived flowmcp server per project root that `flowmcp call` reuses.

A headless call used to start a server, a warm worker and a flow description from nothing and
throw them away; now it connects to the root's project server over a Unix socket and starts one
in the background when none is running. The server keeps its warm workers, descriptions and
caches between calls, and stops by itself when idle, when flowmcp changes, or when its root goes.

- `identity`: which server a call may use (its options, flowmcp's build, the environment that
  configures Metaflow) and where its files are. Standard library only: every call pays for it.
- `client`: the `flowmcp call` side — find or start the server, then one MCP tool call over
  the socket with a small JSON-RPC client (no SDK import: a call starts in milliseconds).
- `server`: the server process — MCP sessions over the socket, sharing one App.
"""
