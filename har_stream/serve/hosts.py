"""Refuse requests for host names the server does not answer to, so a web page on another site cannot reach the
dashboard through DNS rebinding (its requests carry that site's name in ``Host``)."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterable

from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from har_stream.config.site import WILDCARD_BINDS

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def allowed_host_names(bind_host: str, configured: Iterable[str]) -> set[str]:
    """The names a server bound to ``bind_host`` answers to: that address, loopback names, the configured
    ``server.allowed_hosts``, and, when bound to every interface, this machine's name and addresses."""
    names = {name.lower().strip("[]") for name in (*LOOPBACK_NAMES, bind_host, *configured) if name}
    if bind_host in WILDCARD_BINDS:
        hostname = socket.gethostname()
        names.add(hostname.lower())
        with contextlib.suppress(OSError):  # the name may not resolve; the addresses are a convenience
            names |= {str(info[4][0]).lower() for info in socket.getaddrinfo(hostname, None)}
    names.discard("")
    return names


def host_of(header: str) -> str:
    """The host name of a ``Host`` header value, without the port (``[::1]:8080`` → ``::1``)."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class HostCheck:
    """ASGI middleware: 421 for a ``Host`` the server does not answer to (``*`` in the list allows any)."""

    def __init__(self, app: ASGIApp, allowed: set[str]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or "*" in self.allowed:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        raw = headers.get(b"host")
        if raw is None or host_of(raw.decode("latin-1")) in self.allowed:
            await self.app(scope, receive, send)
            return
        name = host_of(raw.decode("latin-1"))
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        message = (
            f"host {name!r} is not one this server answers to; to allow it, add it to server.allowed_hosts in the "
            "site config"
        )
        response: Response
        if scope["path"].startswith("/api/"):
            response = JSONResponse({"detail": message}, status_code=421)
        else:
            response = PlainTextResponse(message, status_code=421)
        await response(scope, receive, send)
