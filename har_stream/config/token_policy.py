"""How strong ``server.token`` must be: long, varied, and not a well-known word."""

from __future__ import annotations

import math
import re
from collections import Counter

MIN_LENGTH = 16
MIN_DISTINCT = 8
#: Estimated bits: length times the Shannon entropy of the token's own characters.
MIN_BITS = 40.0
GENERATE = "python -c 'import secrets; print(secrets.token_urlsafe(24))'"
_WELL_KNOWN = (
    "password", "passw0rd", "letmein", "changeme", "admin", "secret", "qwerty", "123456", "abcdef", "iloveyou",
    "welcome", "default", "token", "har-stream", "harstream", "camera", "monkey", "dragon", "trustno1",
)  # fmt: skip


def _fold(text: str) -> str:
    """Lower case letters and digits only: ``Pass-Word!`` → ``password``."""
    return re.sub(r"[^a-z0-9]", "", text.lower())


_WELL_KNOWN_FOLDED = tuple((word, _fold(word)) for word in _WELL_KNOWN)


def estimated_bits(token: str) -> float:
    """Length times the Shannon entropy (bits per character) of the characters the token uses."""
    counts = Counter(token)
    per_char = -sum(n / len(token) * math.log2(n / len(token)) for n in counts.values()) if token else 0.0
    return per_char * len(token)


def token_weakness(token: str) -> str | None:
    """Why ``token`` is too weak to guard the server, or ``None`` when it is acceptable."""
    rule = (
        f"a token needs at least {MIN_LENGTH} characters, {MIN_DISTINCT} of them different, about "
        f"{MIN_BITS:.0f} bits of entropy and no well-known words; generate one with: {GENERATE}"
    )
    if token != token.strip() or not token.strip():
        return f"the token must not be blank or start or end with spaces; {rule}"
    if len(token) < MIN_LENGTH:
        return f"the token has {len(token)} characters; {rule}"
    if len(set(token)) < MIN_DISTINCT:
        return f"the token uses only {len(set(token))} different characters; {rule}"
    folded = _fold(token)
    words = [(word, bare) for word, bare in _WELL_KNOWN_FOLDED if bare in folded]
    # A long token that merely contains a short word is fine when the rest carries the entropy.
    rest = folded
    for _, bare in words:
        rest = rest.replace(bare, "")
    if words and estimated_bits(rest) < MIN_BITS:
        return f"the token is built on a well-known word ({words[0][0]!r}); {rule}"
    if estimated_bits(token) < MIN_BITS:
        return f"the token is too predictable (about {estimated_bits(token):.0f} bits); {rule}"
    return None
