"""What an HTTP request must pass before the MCP app sees it: a Host (and Origin) naming this
server exactly, and the bearer token or, on loopback without one, a client of this server's own
user.

Who connects to a loopback port is known on Linux: the kernel keeps the uid that made every TCP
socket, and tells it for the client's end of a connection (its address and port as the server
sees them) through sock_diag, as `ss -e` shows it, or in /proc/net/tcp. Elsewhere nothing tells,
and a token is the only way to keep other local users out.
"""

from __future__ import annotations

import hmac
import json
import os
import re
import socket
import struct
from collections.abc import Iterable

TCP_TABLES = ("/proc/net/tcp", "/proc/net/tcp6")


async def _refuse(send, status: int, body: dict, headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), *headers]})
    await send({"type": "http.response.body", "body": json.dumps(body).encode()})


class BearerToken:
    """Every HTTP request must carry `Authorization: Bearer <token>`, else 401."""

    def __init__(self, app, token: str):
        self.app = app
        self.expected = token.encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            scheme, _, credentials = given.strip().partition(b" ")
            # The scheme is case-insensitive (RFC 9110 §11.1); the token is compared in constant time
            if scheme.lower() != b"bearer" or not hmac.compare_digest(credentials.strip(), self.expected):
                await _refuse(send, 401, {"error": "unauthorized: send Authorization: Bearer <token>"},
                              [(b"www-authenticate", b"Bearer")])
                return
        await self.app(scope, receive, send)


class SameUser:
    """Loopback without a token: every request must come from a process of this server's uid,
    else 403 (the kernel's socket table says whose the client's socket is)."""

    def __init__(self, app):
        self.app = app
        self.uid = os.getuid()

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            uid = peer_uid(scope.get("client"), scope.get("server"))
            if uid != self.uid:
                who = "a client whose user cannot be told" if uid is None else f"a client of uid {uid}"
                await _refuse(send, 403, {"error": f"forbidden: this server serves uid {self.uid} alone, not {who}; "
                                                   "its owner can start it with --token to share it"})
                return
        await self.app(scope, receive, send)


def can_tell_peers() -> bool:
    """Whether this system says which user a loopback TCP client is (Linux)."""
    return hasattr(socket, "AF_NETLINK") or os.path.exists(TCP_TABLES[0])


def peer_uid(client, server) -> int | None:
    """The uid of the socket at `client` (host, port) connected to `server` (host, port), as the
    kernel says (sock_diag, else its TCP tables); None when no such connection is known."""
    if not client or not server:
        return None
    try:
        return _diag_uid(client, server)
    except OSError:  # no sock_diag here (a container without it): the tables say the same, slower
        return _table_uid(client, server)


NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST = 4, 20, 1
_NO_COOKIE = 0xFFFFFFFF
_UID_AT = 16 + 4 + 48 + 12  # nlmsghdr, inet_diag_msg's family/state/timer/retrans, its sockid, 3 words


def _diag_uid(client, server) -> int | None:
    """One exact lookup of the connection, by its four addresses and ports (as `ss` does)."""
    families = [socket.AF_INET6] if ":" in client[0] else [socket.AF_INET, socket.AF_INET6]
    for family in families:
        try:
            local, remote = (_packed(family, address[0]) for address in (client, server))
        except (OSError, ValueError):
            continue
        sockid = struct.pack("!HH16s16s", client[1], server[1], local, remote) + struct.pack(
            "=III", 0, _NO_COOKIE, _NO_COOKIE)
        request = struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 0, 0, 0xFFFFFFFF) + sockid
        with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG) as diag:
            diag.settimeout(1.0)
            diag.sendto(struct.pack("=IHHII", 16 + len(request), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, 1, 0)
                        + request, (0, 0))
            answer = diag.recv(8192)
        if len(answer) >= _UID_AT + 4 and struct.unpack_from("=H", answer, 4)[0] == SOCK_DIAG_BY_FAMILY:
            return struct.unpack_from("=I", answer, _UID_AT)[0]
    return None  # an error message: no such connection


def _packed(family: int, host: str) -> bytes:
    if family == socket.AF_INET6 and ":" not in host:
        host = f"::ffff:{host}"
    return socket.inet_pton(family, host).ljust(16, b"\0")


def _table_uid(client, server) -> int | None:
    for table in TCP_TABLES:
        wanted = (_hex_address(client, table), _hex_address(server, table))
        try:
            with open(table) as lines:
                next(lines)  # the header
                for line in lines:
                    fields = line.split()
                    if len(fields) > 7 and (fields[1], fields[2]) == wanted:
                        return int(fields[7])
        except (OSError, StopIteration, ValueError):
            continue
    return None


def _hex_address(address, table: str) -> str | None:
    """`host:port` as the kernel prints it in `table`: the address's 32-bit words in the
    machine's byte order, in hex; an IPv4 address in tcp6 as its IPv4-mapped form."""
    family = socket.AF_INET6 if table.endswith("6") else socket.AF_INET
    try:
        packed = _packed(family, address[0])
    except (OSError, ValueError, TypeError):
        return None
    words = struct.unpack("=4I", packed)[:4 if family == socket.AF_INET6 else 1]
    return "".join(f"{word:08X}" for word in words) + f":{int(address[1]):04X}"


# A Host header: a name or an address (IPv6 in brackets), then at most a port of digits.
_HOST = r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?"
_HOST_HEADER = re.compile(rf"^{_HOST}$")
_ORIGIN_HEADER = re.compile(rf"^https?://{_HOST}$")


class ExactHost:
    """The Host header (and an Origin header, when sent) must name one of `names` exactly, with
    any port: `localhost:1@evil` or `http://localhost:1@evil.com` is no name of ours (421, 403).
    The SDK's own check (DNS rebinding) compares prefixes; this one runs first."""

    def __init__(self, app, names: Iterable[str]):
        self.app = app
        self.names = {name.strip("[]").lower() for name in names}

    def _ours(self, pattern: re.Pattern, value: str) -> bool:
        match = pattern.match(value)
        return bool(match) and match.group(1).strip("[]").lower() in self.names

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            host = headers.get(b"host", b"").decode("latin-1")
            origin = headers.get(b"origin", b"").decode("latin-1")
            if not self._ours(_HOST_HEADER, host):
                await _refuse(send, 421, {"error": f"this server is not {host!r}: send the Host it listens as"})
                return
            if origin and not self._ours(_ORIGIN_HEADER, origin):
                await _refuse(send, 403, {"error": f"requests from the origin {origin!r} are not served"})
                return
        await self.app(scope, receive, send)
