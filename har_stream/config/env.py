"""``${NAME}`` references in a site config: resolved from the environment, and never shown in config errors.

A value that arrives from the environment may be a secret (a camera password inside a source URL, a token),
so a config error must not echo it, whichever way it got into the message: as the ``(got ...)`` echo of the
field that references it, through ``defaults`` merged into every camera, or quoted inside a validator's own
message. :class:`EnvValues` remembers what was substituted and :meth:`EnvValues.scrub` masks it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from har_stream.config.loading import ConfigIssue

ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
HIDDEN = "<value from the environment hidden>"
#: Substituted values shorter than this are not searched for in messages (masking "1" would garble them);
#: the fields that reference them still lose their ``(got ...)`` echo.
MIN_MASKED_LENGTH = 3


@dataclass
class EnvValues:
    """What the environment put into a config: the values, and the field paths that referenced them."""

    values: set[str] = field(default_factory=set)
    fields: set[str] = field(default_factory=set)

    def scrub(self, issue: ConfigIssue) -> ConfigIssue:
        """``issue`` without any environment value in its message."""
        message = issue.message
        if self._references(issue.field) and "(got " in message:
            message = message.split(" (got ", 1)[0] + f" ({HIDDEN})"
        for value in sorted(self.values, key=len, reverse=True):
            if len(value) >= MIN_MASKED_LENGTH:
                message = message.replace(value, HIDDEN)
        return ConfigIssue(issue.field, message)

    def _references(self, path: str) -> bool:
        # A camera's field also came from the environment when ``defaults`` holds the same field.
        unprefixed = re.sub(r"^cameras\[\d+\]\.", "defaults.", path)
        return any(p in (path, unprefixed) or path.startswith(p + ".") or unprefixed.startswith(p + ".")
                   for p in self.fields)  # fmt: skip


def resolve_env(
    data: Any, env: Mapping[str, str] | None = None, path: str = "", used: EnvValues | None = None
) -> tuple[Any, list[ConfigIssue]]:
    """Replace ``${NAME}`` in every string of ``data`` by the environment variable; unset ones are issues.

    ``used``, when given, collects the substituted values and the paths of the fields that referenced them.
    """
    env = os.environ if env is None else env
    issues: list[ConfigIssue] = []
    if isinstance(data, str):

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                issues.append(ConfigIssue(path, f"environment variable {name} is not set"))
                return ""
            if used is not None:
                used.values.add(env[name])
                used.fields.add(path)
            return env[name]

        resolved = ENV_REFERENCE.sub(substitute, data)
        if used is not None and resolved != data:
            used.values.add(resolved)  # the whole string, e.g. a URL around a password, is masked as one
        return resolved, issues
    if isinstance(data, Mapping):
        out: dict[Any, Any] = {}
        for key, value in data.items():
            out[key], found = resolve_env(value, env, f"{path}.{key}" if path else str(key), used)
            issues += found
        return out, issues
    if isinstance(data, list):
        items = []
        for i, value in enumerate(data):
            item, found = resolve_env(value, env, f"{path}[{i}]", used)
            items.append(item)
            issues += found
        return items, issues
    return data, issues
