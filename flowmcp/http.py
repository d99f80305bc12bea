"""Streamable HTTP at /mcp: loopback by default; any other address needs a bearer token.

The SDK turns DNS-rebinding protection on by itself only for loopback hosts; we keep it on for
every bind, allowing the bound host (and this machine's name for a wildcard bind) plus any
`--allowed-host`.
"""

from __future__ import annotations

import hmac
import os
import socket

from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings

LOOPBACK = ("127.0.0.1", "localhost", "::1")
TOKEN_ENV = "FLOWMCP_TOKEN"


class TokenRequired(ValueError):
    pass


class BearerToken:
    """ASGI middleware: every HTTP request must carry `Authorization: Bearer <token>`, else 401."""

    def __init__(self, app, token: str):
        self.app = app
        self.expected = token.encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            scheme, _, credentials = given.strip().partition(b" ")
            # The scheme is case-insensitive (RFC 9110 §11.1); the token is compared in constant time
            if scheme.lower() != b"bearer" or not hmac.compare_digest(credentials.strip(), self.expected):
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")]})
                await send({"type": "http.response.body",
                            "body": b'{"error": "unauthorized: send Authorization: Bearer <token>"}'})
                return
        await self.app(scope, receive, send)


def security_for(host: str, allowed_hosts: list[str]) -> TransportSecuritySettings:
    names = [host] if host not in ("0.0.0.0", "::") else [socket.gethostname(), socket.getfqdn()]
    names += [*LOOPBACK, *allowed_hosts]
    hosts = sorted({f"[{n}]:*" if ":" in n else f"{n}:*" for n in names})
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=hosts,
        allowed_origins=sorted({f"http://{h}" for h in hosts} | {f"https://{h}" for h in hosts}),
    )


def build_app(server: MCPServer, host: str, token: str | None, allowed_hosts: list[str]):
    """The ASGI app to serve; refuses a non-loopback bind without a token."""
    token = token or os.environ.get(TOKEN_ENV) or None
    if host not in LOOPBACK and not token:
        raise TokenRequired(
            f"binding {host} exposes the project to the network: pass --token or set {TOKEN_ENV} "
            "(clients then send Authorization: Bearer <token>)"
        )
    app = server.streamable_http_app(host=host, transport_security=security_for(host, allowed_hosts))
    return BearerToken(app, token) if token else app


def serve(server: MCPServer, host: str, port: int, token: str | None, allowed_hosts: list[str]) -> None:
    import anyio
    import uvicorn

    app = build_app(server, host, token, allowed_hosts)
    anyio.run(uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning")).serve)
