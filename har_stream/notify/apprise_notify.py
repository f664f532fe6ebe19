"""Apprise delivery: each alert as a short text (and its snapshot) to a chat, phone or mailbox.

Apprise (https://github.com/caronc/apprise) knows about a hundred services by URL: ``tgram://``, ``slack://``,
``discord://``, ``mailto://``, ``ntfy://``, ``pover://``, ``json://`` ... Its ``notify()`` only says whether
delivery worked, so every failed attempt is retried: the queue, the backoff and the counters are
:class:`~har_stream.notify.delivery.DeliveryQueue`'s, as for webhooks.

The URL is a secret (it holds tokens): logs, health and metrics name only its scheme, and whatever Apprise
logs passes through a filter that blanks the URL's parts.
"""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path
from typing import Any

import apprise

from har_stream.config.site import AppriseConfig
from har_stream.notify.delivery import Attempt, DeliveryQueue

log = logging.getLogger(__name__)

#: Parts of an Apprise URL shorter than this are not treated as secrets (ports, "json", "www").
MIN_SECRET_PART = 6
HIDDEN = "<hidden>"


class _Redact(logging.Filter):
    """Blanks the registered secrets in every record of Apprise's logger (one filter for the process)."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, secrets: set[str]) -> None:
        with self._lock:
            self._secrets |= secrets

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        text = record.getMessage()
        scrubbed = text
        for secret in secrets:
            scrubbed = scrubbed.replace(secret, HIDDEN)
        if scrubbed != text:
            record.msg, record.args = scrubbed, ()
        return True


_REDACT = _Redact()
#: Apprise and its plugins log to one logger; requests log through urllib3's. A logger's filter does not apply to
#: its children's records, so each logger that may print a URL gets it.
for _name in ("apprise", "urllib3", "urllib3.connectionpool", "urllib3.util.retry", "requests"):
    logging.getLogger(_name).addFilter(_REDACT)


def secret_parts(url: str) -> set[str]:
    """The URL and its parts that may be tokens, passwords or private addresses."""
    parts = {url}
    rest = url.split("://", 1)[-1]
    parts |= {p for p in re.split(r"[/:@?&=#,]", rest) if len(p) >= MIN_SECRET_PART}
    return parts


def alert_text(message: dict[str, Any]) -> tuple[str, str]:
    """A title and a body for people, from an alert message."""
    who = f"person {message.get('track_id')}"
    action = message.get("action", "?")
    where = f"{message.get('camera')}" + (f" ({message['zone']})" if message.get("zone") else "")
    if message.get("type") == "alert_end":
        title = f"Ended: {message.get('rule')} on {where}"
        lines = [f"{who}, {action}, after {float(message.get('duration_s') or 0):.1f} s ({message.get('reason')})"]
    else:
        title = f"{str(message.get('severity', '')).upper()}: {message.get('rule')} on {where}"
        lines = [f"{who}: {action} ({float(message.get('confidence') or 0):.0%})"]
    lines.append(str(message.get("time", "")))
    for key in ("snapshot_url", "event_url"):
        if message.get(key):
            lines.append(str(message[key]))
    return title, "\n".join(lines)


def _notify_type(message: dict[str, Any]) -> str:
    if message.get("type") == "alert_end":
        return apprise.NotifyType.SUCCESS
    if message.get("severity") in ("high", "critical"):
        return apprise.NotifyType.FAILURE
    return apprise.NotifyType.WARNING


class AppriseNotifier(DeliveryQueue):
    """Sends alert messages to one Apprise URL. ``submit`` never blocks; ``close`` drains for a bounded time."""

    config: AppriseConfig

    def __init__(self, config: AppriseConfig, media_folder: Path, name: str = "apprise") -> None:
        url = config.url.get_secret_value()
        _REDACT.add(secret_parts(url))
        self.media_folder = Path(media_folder)
        service = apprise.Apprise.instantiate(url)
        if service is None:  # the config checked it: only a changed Apprise gets here
            raise ValueError(f"{name}: Apprise cannot use this {url.split('://', 1)[0]}:// URL")
        # timeout_s bounds each attempt's network waits (Apprise's call timeout would leave a late
        # attempt running while the retry goes out: the alert could arrive twice).
        service.socket_connect_timeout = service.socket_read_timeout = config.timeout_s
        self._apprise = apprise.Apprise()
        self._apprise.add(service)
        super().__init__(config, name, f"{url.split('://', 1)[0]}://{HIDDEN}")

    def _attachment(self, message: dict[str, Any]) -> str | None:
        relative = message.get("snapshot_path")
        if not self.config.attach_snapshot or not relative:
            return None
        path = (self.media_folder / relative).resolve()
        if not path.is_relative_to(self.media_folder.resolve()) or not path.is_file():
            log.warning("%s: snapshot %s is missing; sending without it", self.name, relative)
            return None
        return str(path)

    def send(self, message: dict[str, Any], attempt: int, delivery: str) -> Attempt:
        """One ``notify()`` call; Apprise says only whether it worked, so every failure may be retried."""
        title, body = alert_text(message)
        problems: list[str] = []

        def keep(entry: Any, _service: Any) -> None:
            level = logging.getLevelName(str(getattr(entry, "level", "")))
            if isinstance(level, int) and level >= logging.WARNING:
                problems.append(str(getattr(entry, "message", entry)))

        attach = self._attachment(message)
        result = self._apprise.notify(
            body=body,
            title=title,
            notify_type=_notify_type(message),
            attach=attach,
            log_callback=keep,
        )
        if result:
            return Attempt(True, "delivered")
        reason = problems[-1] if problems else "Apprise could not deliver"
        for secret in sorted(secret_parts(self.config.url.get_secret_value()), key=len, reverse=True):
            reason = reason.replace(secret, HIDDEN)
        return Attempt(False, reason[:200])
