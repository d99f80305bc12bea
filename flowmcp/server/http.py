"""Streamable HTTP at /mcp: loopback by default, for this user's clients alone; anything else
needs a bearer token.

Without a token, a loopback server serves only clients of its own uid, where the system says
who connects (Linux: `http_checks.SameUser`); where it cannot tell, a token is required unless
the user opts out (`--any-local-user`), and any other address always needs one.

The SDK turns DNS-rebinding protection on by itself only for loopback hosts; we keep it on for
every bind, allowing the bound host (and this machine's name for a wildcard bind) plus any
`--allowed-host`, and check Host and Origin as whole names first (`http_checks.ExactHost`).

Before the token is checked, a client holds only a connection: so every connection must deliver
a whole request (headers and body) within REQUEST_TIMEOUT_S of starting it, and at most
MAX_CONNECTIONS are open at once. A new connection beyond them takes the place of one that
waits for nothing (idle between requests), else of the oldest event stream (a GET the client
reopens: the spec lets a server close one any time); only when every connection is busy with a
request is it closed. The server's log says the same thing at most a few times a minute,
however many clients misbehave.
"""

from __future__ import annotations

import logging
import os
import socket
import time

from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings

from .http_checks import BearerToken, ExactHost, SameUser, can_tell_peers
from .protocol import InvalidRequests

LOOPBACK = ("127.0.0.1", "localhost", "::1")
TOKEN_ENV = "FLOWMCP_TOKEN"


class TokenRequired(ValueError):
    pass


def _names(host: str, allowed_hosts: list[str]) -> list[str]:
    names = [host] if host not in ("0.0.0.0", "::") else [socket.gethostname(), socket.getfqdn()]
    return [*names, *LOOPBACK, *allowed_hosts]


def security_for(host: str, allowed_hosts: list[str]) -> TransportSecuritySettings:
    hosts = sorted({f"[{n}]:*" if ":" in n else f"{n}:*" for n in _names(host, allowed_hosts)})
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=hosts,
        allowed_origins=sorted({f"http://{h}" for h in hosts} | {f"https://{h}" for h in hosts}),
    )


def build_app(server: MCPServer, host: str, token: str | None, allowed_hosts: list[str],
              any_local_user: bool = False):
    """The ASGI app to serve; refuses a bind that would serve other users without a token."""
    token = token or os.environ.get(TOKEN_ENV) or None
    if host not in LOOPBACK and not token:
        raise TokenRequired(
            f"binding {host} exposes the project to the network: pass --token or set {TOKEN_ENV} "
            "(clients then send Authorization: Bearer <token>)"
        )
    if not token and not any_local_user and not can_tell_peers():
        raise TokenRequired(
            f"this system does not say which user connects to a local port, so without a token every user of "
            f"this machine could call the tools: pass --token or set {TOKEN_ENV} (clients then send "
            "Authorization: Bearer <token>), or pass --any-local-user to serve them all"
        )
    app = InvalidRequests(server.streamable_http_app(host=host, transport_security=security_for(host, allowed_hosts)))
    if token:
        app = BearerToken(app, token)
    elif not any_local_user:
        app = SameUser(app)
    return ExactHost(app, _names(host, allowed_hosts))


def serve(server: MCPServer, host: str, port: int, token: str | None, allowed_hosts: list[str],
          any_local_user: bool = False) -> None:
    import anyio
    import uvicorn

    app = build_app(server, host, token, allowed_hosts, any_local_user)
    for name in ("uvicorn.error", "uvicorn", "mcp", "flowmcp"):
        logging.getLogger(name).addFilter(RateLimited())
    # No proxy headers: X-Forwarded-For from a local client would stand in for its own address.
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", http=bounded_protocol(),
                            proxy_headers=False)
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
        _opened = 0.0

        def connection_made(self, transport):
            super().connection_made(transport)
            self._opened = self.loop.time()
            if sum(not c.transport.is_closing() for c in self.connections) > MAX_CONNECTIONS and not self._room():
                transport.close()  # refused now rather than left waiting behind the others
                return
            self._arm()

        def _room(self) -> bool:
            """Close a connection that waits for nothing, else the oldest event stream: whether one was."""
            others = [c for c in self.connections if c is not self and not c.transport.is_closing()]
            idle = [c for c in others if c.timeout_keep_alive_task is not None]
            streams = [c for c in others if c.cycle is not None and c.cycle.response_started
                       and not c.cycle.response_complete and c.scope.get("method") == "GET"]
            for victim in idle[:1] or sorted(streams, key=lambda c: c._opened)[:1]:
                victim.transport.close()
                return True
            return False

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
