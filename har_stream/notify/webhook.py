"""Webhook delivery: POST each alert as JSON, on a worker thread, with retries and exponential backoff.

The queue, the retries and the counters are :class:`~har_stream.notify.delivery.DeliveryQueue`'s; this module
only makes one POST per attempt.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from har_stream.config.site import WebhookConfig
from har_stream.notify.delivery import Attempt, DeliveryQueue, DeliveryStats
from har_stream.notify.message import safe_host

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
#: The counters of one webhook (the shared delivery counters).
WebhookStats = DeliveryStats


class WebhookNotifier(DeliveryQueue):
    """Sends alert messages to one URL. ``submit`` never blocks; ``close`` drains for a bounded time."""

    config: WebhookConfig

    def __init__(self, config: WebhookConfig, media_folder: Path, name: str = "webhook") -> None:
        self.media_folder = Path(media_folder)
        self._client: httpx.Client | None = None
        super().__init__(config, name, safe_host(config.url))

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """One HTTP client (connection pool) for the sender thread's life."""
        headers = {"Content-Type": "application/json", "User-Agent": "har-stream"}
        headers.update({k: v.get_secret_value() for k, v in self.config.headers.items()})
        with httpx.Client(timeout=self.config.timeout_s, follow_redirects=False, headers=headers) as client:
            self._client = client
            yield

    def _body(self, message: dict[str, Any]) -> bytes:
        body = dict(message)
        image = self.config.image
        if image != "url":
            body.pop("snapshot_url", None)
        if image == "inline" and message.get("snapshot_path"):
            path = (self.media_folder / message["snapshot_path"]).resolve()
            try:
                body["snapshot_jpeg"] = base64.b64encode(path.read_bytes()).decode("ascii")
            except OSError as exc:
                log.warning("%s: snapshot %s unreadable: %s", self.name, message["snapshot_path"], exc)
        return json.dumps(body, separators=(",", ":")).encode("utf-8")

    def send(self, message: dict[str, Any], attempt: int, delivery: str) -> Attempt:
        """One POST; connection errors, 5xx, 408, 425 and 429 may be retried (``Retry-After`` is honoured)."""
        assert self._client is not None
        extra = {"X-Har-Stream-Delivery": delivery, "X-Attempt": str(attempt)}
        try:
            response = self._client.post(self.config.url, content=self._body(message), headers=extra)
        except httpx.HTTPError as exc:
            return Attempt(False, type(exc).__name__)
        status = response.status_code
        if 200 <= status < 300:
            return Attempt(True, f"HTTP {status}")
        retry_after = _retry_after(response.headers.get("Retry-After"))
        return Attempt(False, f"HTTP {status}", retryable=status in RETRY_STATUSES, retry_after=retry_after)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
