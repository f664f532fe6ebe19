"""One place that hides secrets in source URLs before they reach a log, an error, the API or MQTT.

The password in the userinfo is masked (the userinfo ends at the *last* ``@`` before the host, so a password
containing ``@`` is masked whole), a userinfo without a password is masked whole (it may be a token), and query
parameters whose names look like secrets (``pass``, ``pwd``, ``token``, ``key``, ``secret``, ``auth``, ``sig``) have
their values masked.
"""

from __future__ import annotations

import re

MASK = "***"
SECRET_PARAMETER = re.compile(r"pass|pwd|token|key|secret|auth|sig", re.IGNORECASE)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def redact(url: str) -> str:
    """``url`` with its credentials and secret-looking query values replaced by ``***``; other text unchanged.

    When in doubt it masks more: everything before the last ``@`` of the URL is taken as userinfo (a password may
    hold ``@``, ``/``, ``?`` or ``#``), so an ``@`` in a path hides the part before it too.
    """
    scheme = _SCHEME.match(url)
    if scheme is None:
        return url
    start = scheme.end()
    at = url.rfind("@", start)
    if at == -1:
        host_start, netloc = start, ""
    else:
        user, has_password, _ = url[start:at].partition(":")
        netloc = f"{user}:{MASK}@" if has_password else f"{MASK}@"
        host_start = at + 1
    host_end = min((p for p in (url.find(m, host_start) for m in "/?#") if p != -1), default=len(url))
    return f"{url[:start]}{netloc}{url[host_start:host_end]}{_redact_query(url[host_end:])}"


def _redact_query(rest: str) -> str:
    path, question, query = rest.partition("?")
    if not question:
        return rest
    query, hash_mark, fragment = query.partition("#")
    parts = []
    for item in query.split("&"):
        name, equals, value = item.partition("=")
        parts.append(f"{name}={MASK}" if equals and value and SECRET_PARAMETER.search(name) else item)
    return f"{path}?{'&'.join(parts)}{hash_mark}{fragment}"
