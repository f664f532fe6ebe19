"""Token access control for the whole server (pages, API, live streams, media and API docs).

A token is accepted from an ``Authorization: Bearer`` header, the ``har_stream_token`` cookie, or a
``token`` query parameter. Opening a page with ``?token=...`` sets the cookie (HttpOnly, SameSite=Strict)
and redirects to the same page without the token, so the browser's image, live-update and API requests
carry it and the token does not stay in the address bar.
"""

from __future__ import annotations

import hmac
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import Headers
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

COOKIE = "har_stream_token"


class TokenAuth:
    """ASGI middleware that answers 401 to every request without the right token."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._token = token.encode("utf-8")

    def _ok(self, supplied: str | None) -> bool:
        return supplied is not None and hmac.compare_digest(supplied.encode("utf-8"), self._token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        authorization = headers.get("authorization", "")
        if authorization.lower().startswith("bearer ") and self._ok(authorization[7:].strip()):
            await self.app(scope, receive, send)
            return
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # a malformed cookie header is just no cookie
            cookie = SimpleCookie()
        if COOKIE in cookie and self._ok(cookie[COOKIE].value):
            await self.app(scope, receive, send)
            return
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        supplied = next((value for key, value in query if key == "token"), None)
        if self._ok(supplied):
            if scope["type"] == "http" and scope["method"] == "GET" and "text/html" in headers.get("accept", ""):
                rest = urlencode([(k, v) for k, v in query if k != "token"])
                response: Response = RedirectResponse(_same_site(scope["path"]) + (f"?{rest}" if rest else ""), 303)
                self._set_cookie(response)
                await response(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        await self._deny(scope, receive, send, headers)

    def _set_cookie(self, response: Response) -> None:
        response.set_cookie(COOKIE, self._token.decode("utf-8"), httponly=True, samesite="strict", path="/")

    async def _deny(self, scope: Scope, receive: Receive, send: Send, headers: Headers) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        challenge = {"WWW-Authenticate": 'Bearer realm="har-stream"'}
        if "text/html" in headers.get("accept", "") and not scope["path"].startswith("/api/"):
            page = (
                "<!doctype html><title>har-stream: token required</title><h1>Token required</h1>"
                "<p>This har-stream server needs its access token: open this page as <code>?token=...</code>.</p>"
            )
            response: Response = HTMLResponse(page, status_code=401, headers=challenge)
        else:
            response = JSONResponse({"detail": "missing or wrong access token"}, status_code=401, headers=challenge)
        await response(scope, receive, send)


def _same_site(path: str) -> str:
    """``path`` as a path on this server: leading slashes and backslashes collapsed to one slash, so that a
    request for ``//evil.example/?token=...`` cannot redirect to another host (``//host`` is protocol-relative)."""
    return "/" + path.lstrip("/\\")
