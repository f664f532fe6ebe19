"""Token access control for the whole server (pages, API, live streams, media and API docs), roles and CSRF.

A token is accepted from an ``Authorization: Bearer`` or ``X-HAR-Token`` header, the ``har_stream_token``
cookie, or a ``token`` query parameter. Opening a page with ``?token=...`` sets the cookie (HttpOnly,
SameSite=Strict) and redirects to the same page without the token, so the browser's image, live-update and API
requests carry it and the token does not stay in the address bar.

Each token has a name and a role (:class:`Principal`); the request's principal is in ``scope[PRINCIPAL]``.
Without tokens (loopback only) every request is the operator ``local``.

CSRF: a request that changes state (any method but GET, HEAD, OPTIONS) must carry its token in a header, or
the ``X-CSRF-Token`` that ``GET /api/session`` gives to the token's holder. A cookie alone is refused, so a form
or script on another origin (another port of this host is same-site, so SameSite does not stop it) cannot
act with a logged-in browser's cookie: it can neither set the header nor read the CSRF token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import Headers
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from har_stream.config.site import AccessToken

COOKIE = "har_stream_token"
TOKEN_HEADER = "x-har-token"
CSRF_HEADER = "x-csrf-token"
#: Where the request's :class:`Principal` is kept in the ASGI scope.
PRINCIPAL = "har_stream.principal"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Who a request is when the server has no tokens (loopback only).
LOCAL = "local"


@dataclass(frozen=True)
class Principal:
    """Who sent a request: the token's name, its role and the CSRF token that goes with it."""

    name: str
    role: str
    csrf: str

    @property
    def can_review(self) -> bool:
        """Whether this principal may review alerts (operators only)."""
        return self.role == "operator"


def _csrf(key: bytes) -> str:
    return hmac.new(key, b"har-stream csrf v1", hashlib.sha256).hexdigest()


class TokenAuth:
    """ASGI middleware: 401 without a known token, 403 for a write without a header token or CSRF token."""

    def __init__(self, app: ASGIApp, tokens: Sequence[AccessToken] = ()) -> None:
        self.app = app
        self._tokens = [
            (
                t.token.get_secret_value().encode("utf-8"),
                Principal(t.name, t.role, _csrf(t.token.get_secret_value().encode())),
            )
            for t in tokens
        ]
        self._open = Principal(LOCAL, "operator", _csrf(secrets.token_bytes(32))) if not self._tokens else None

    def _match(self, supplied: str | None) -> Principal | None:
        """The principal whose token is ``supplied``; every token is compared, in constant time each."""
        if supplied is None:
            return None
        raw = supplied.encode("utf-8")
        found = None
        for secret, principal in self._tokens:
            if hmac.compare_digest(raw, secret):
                found = principal
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        principal, in_header = self._open, False
        if principal is None:
            authorization = headers.get("authorization", "")
            bearer = authorization[7:].strip() if authorization.lower().startswith("bearer ") else None
            principal = self._match(bearer) or self._match(headers.get(TOKEN_HEADER))
            in_header = principal is not None
        if principal is None:  # a token in the address wins over the cookie: opening ?token=... switches tokens
            query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
            supplied = next((value for key, value in query if key == "token"), None)
            principal = self._match(supplied)
            if principal is not None and _is_page_request(scope, headers):
                rest = urlencode([(k, v) for k, v in query if k != "token"])
                response: Response = RedirectResponse(_same_site(scope["path"]) + (f"?{rest}" if rest else ""), 303)
                response.set_cookie(
                    COOKIE,
                    str(supplied),
                    httponly=True,
                    samesite="strict",
                    path="/",
                    secure=_over_https(scope, headers),
                )
                await response(scope, receive, send)
                return
        if principal is None:
            cookie = SimpleCookie()
            try:
                cookie.load(headers.get("cookie", ""))
            except Exception:  # a malformed cookie header is just no cookie
                cookie = SimpleCookie()
            principal = self._match(cookie[COOKIE].value) if COOKIE in cookie else None
        if principal is None:
            await self._deny(scope, receive, send, headers)
            return
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS and not in_header:
            supplied_csrf = headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(supplied_csrf.encode("utf-8"), principal.csrf.encode("utf-8")):
                detail = (
                    "a request that changes something needs the token in a header (Authorization: Bearer or "
                    "X-HAR-Token) or the X-CSRF-Token header from GET /api/session; the cookie alone is not enough"
                )
                await JSONResponse({"detail": detail}, status_code=403)(scope, receive, send)
                return
        scope[PRINCIPAL] = principal
        await self.app(scope, receive, send)

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


def _is_page_request(scope: Scope, headers: Headers) -> bool:
    return scope["type"] == "http" and scope["method"] == "GET" and "text/html" in headers.get("accept", "")


def _same_site(path: str) -> str:
    """``path`` as a path on this server: leading slashes and backslashes collapsed to one slash, so that a
    request for ``//evil.example/?token=...`` cannot redirect to another host (``//host`` is protocol-relative)."""
    return "/" + path.lstrip("/\\")


def _over_https(scope: Scope, headers: Headers) -> bool:
    """Whether the browser reached us over TLS, directly or through a reverse proxy that says so: the cookie is
    then ``Secure`` and never travels over plain HTTP."""
    return scope.get("scheme") == "https" or headers.get("x-forwarded-proto", "").lower() == "https"
