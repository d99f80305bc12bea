"""Streamable HTTP at /mcp: loopback by default; any other address needs a bearer token.

The SDK turns DNS-rebinding protection on by itself only for loopback hosts; we keep it on for
every bind, allowing the bound host (and this machine's name for a wildcard bind) plus any
`--allowed-host`.

Before the token is checked, a client holds only a connection: so every connection must deliver
a whole request (headers and body) within REQUEST_TIMEOUT_S of starting it, at most
MAX_CONNECTIONS are open at once (more are closed as they arrive), and the server's log says the
same thing at most a few times a minute, however many clients misbehave.
"""

from __future__ import annotations

import hmac
import logging
import os
import socket
import time

from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings

from .protocol import InvalidRequests

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
    app = InvalidRequests(server.streamable_http_app(host=host, transport_security=security_for(host, allowed_hosts)))
    return BearerToken(app, token) if token else app


def serve(server: MCPServer, host: str, port: int, token: str | None, allowed_hosts: list[str]) -> None:
    import anyio
    import uvicorn

    app = build_app(server, host, token, allowed_hosts)
    for name in ("uvicorn.error", "uvicorn", "mcp", "flowmcp"):
        logging.getLogger(name).addFilter(RateLimited())
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", http=bounded_protocol())
    anyio.run(uvicorn.Server(config).serve)


def _setting(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name) or default)
    except ValueError:
        return default


REQUEST_TIMEOUT_S = _setting("FLOWMCP_HTTP_REQUEST_TIMEOUT_S", 10.0)  # headers and body of one request
MAX_CONNECTIONS = int(_setting("FLOWMCP_HTTP_MAX_CONNECTIONS", 256))


def bounded_protocol():
    """uvicorn's h11 protocol with a deadline on each request's arrival and a connection cap.

    uvicorn arms its keep-alive timer only after a response, and any byte cancels it: a client
    sending a header a byte at a time would hold its connection forever, before any check."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    incomplete = (h11.IDLE, h11.SEND_BODY)  # the client has not finished sending its request

    class BoundedH11Protocol(H11Protocol):
        _deadline = None

        def connection_made(self, transport):
            super().connection_made(transport)
            if len(self.connections) > MAX_CONNECTIONS:
                transport.close()  # refused now rather than left waiting behind the others
                return
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.transport.is_closing():
                return
            if self.conn.their_state in incomplete and (data or self.conn.their_state is h11.SEND_BODY):
                self._arm()
            else:
                self._disarm()

        def connection_lost(self, exc) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            if self._deadline is None:
                self._deadline = self.loop.call_later(REQUEST_TIMEOUT_S, self._too_slow)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _too_slow(self) -> None:
            self._deadline = None
            if not self.transport.is_closing() and self.conn.their_state in incomplete:
                logging.getLogger("flowmcp").warning(
                    "closed a connection that sent no whole request within %g s", REQUEST_TIMEOUT_S)
                self.transport.close()

    return BoundedH11Protocol


class RateLimited(logging.Filter):
    """At most `burst` records of one message per `window_s`; then one line saying how many of it
    were left out. A flood of bad clients cannot fill the disk or drown the real messages."""

    def __init__(self, burst: int = 5, window_s: float = 60.0):
        super().__init__()
        self.burst, self.window_s = burst, window_s
        self._seen: dict[str, list[float]] = {}  # message -> [window start, count]

    def filter(self, record: logging.LogRecord) -> bool:
        key = f"{record.name}:{record.msg}"
        now = time.monotonic()
        start, count = self._seen.get(key, (now, 0))
        if now - start > self.window_s:
            if count > self.burst:
                record.msg = f"{record.msg} (and {count - self.burst} more like it in the last {self.window_s:g} s)"
            start, count = now, 0
        count += 1
        self._seen[key] = [start, count]
        if len(self._seen) > 1000:  # messages with ever-new text: forget the oldest
            self._seen.pop(next(iter(self._seen)))
        return count <= self.burst
