"""Webhook delivery: POST each alert as JSON, on a worker thread, with retries and exponential backoff.

The pipeline only appends to a bounded queue, so a slow or dead endpoint never holds up video. When the
queue is full the oldest waiting alert is dropped and counted.
"""

from __future__ import annotations

import base64
import collections
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from har_stream.config.site import WebhookConfig
from har_stream.notify.message import safe_host

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass
class WebhookStats:
    """Counters of one webhook target."""

    delivered: int = 0
    failed: int = 0  # gave up after max_attempts, or refused with a non-retryable status
    dropped: int = 0  # queue full
    attempts: int = 0
    last_error: str | None = None
    last_delivery_at: float | None = None
    history: collections.deque[dict[str, Any]] = field(default_factory=lambda: collections.deque(maxlen=50))


class WebhookNotifier:
    """Sends alert messages to one URL. ``submit`` never blocks; ``close`` drains for a bounded time."""

    def __init__(self, config: WebhookConfig, media_folder: Path, name: str = "webhook") -> None:
        self.config = config
        self.media_folder = Path(media_folder)
        self.name = name
        self.target = safe_host(config.url)
        self.stats = WebhookStats()
        self._queue: collections.deque[dict[str, Any]] = collections.deque()
        self._cond = threading.Condition()
        self._closing = threading.Event()
        self._abort = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"{name}-sender", daemon=True)
        self._thread.start()

    def submit(self, message: dict[str, Any]) -> bool:
        """Queue an alert message if this webhook wants its type; returns whether it was queued."""
        if message.get("type") not in self.config.events or self._closing.is_set():
            return False
        with self._cond:
            if len(self._queue) >= self.config.queue_size:
                dropped = self._queue.popleft()
                self.stats.dropped += 1
                log.warning("%s %s: queue full, dropped alert %s", self.name, self.target, dropped.get("alert_id"))
            self._queue.append(message)
            self._cond.notify()
        return True

    @property
    def pending(self) -> int:
        """Messages waiting to be sent."""
        with self._cond:
            return len(self._queue)

    def close(self, timeout: float = 5.0) -> None:
        """Stop taking messages, try to deliver what is queued within ``timeout`` seconds, then give up."""
        self._closing.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._abort.set()
            with self._cond:
                self._cond.notify_all()
            self._thread.join(self.config.timeout_s + 1)
        left = self.pending
        if left:
            log.warning("%s %s: %d alerts not delivered at shutdown", self.name, self.target, left)

    # -- worker --------------------------------------------------------------------------------------
    def _run(self) -> None:
        headers = {"Content-Type": "application/json", "User-Agent": "har-stream"}
        headers.update({k: v.get_secret_value() for k, v in self.config.headers.items()})
        with httpx.Client(timeout=self.config.timeout_s, follow_redirects=False, headers=headers) as client:
            while True:
                with self._cond:
                    while not self._queue and not self._closing.is_set():
                        self._cond.wait()
                    if not self._queue or self._abort.is_set():
                        return
                    message = self._queue[0]
                self._deliver(client, message)
                with self._cond:
                    if self._queue and self._queue[0] is message:
                        self._queue.popleft()

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

    def _deliver(self, client: httpx.Client, message: dict[str, Any]) -> None:
        body = self._body(message)
        delivery = f"{message.get('alert_id')}:{message.get('type')}"
        for attempt in range(1, self.config.max_attempts + 1):
            if self._abort.is_set():
                return
            self.stats.attempts += 1
            retry_after: float | None = None
            try:
                extra = {"X-Har-Stream-Delivery": delivery, "X-Attempt": str(attempt)}
                response = client.post(self.config.url, content=body, headers=extra)
                status = response.status_code
                outcome = f"HTTP {status}"
                if 200 <= status < 300:
                    self.stats.delivered += 1
                    self.stats.last_delivery_at = time.time()
                    self._note(delivery, attempt, outcome)
                    return
                retryable = status in RETRY_STATUSES
                retry_after = _retry_after(response.headers.get("Retry-After"))
            except httpx.HTTPError as exc:
                outcome = type(exc).__name__
                retryable = True
            self.stats.last_error = outcome
            self._note(delivery, attempt, outcome)
            if not retryable or attempt == self.config.max_attempts:
                self.stats.failed += 1
                log.warning(
                    "%s %s: giving up on alert %s after %d attempts (%s)",
                    self.name, self.target, delivery, attempt, outcome,
                )  # fmt: skip
                return
            delay = min(self.config.backoff_max_s, self.config.backoff_initial_s * 2 ** (attempt - 1))
            if retry_after is not None:
                delay = min(self.config.backoff_max_s, max(delay, retry_after))
            log.info("%s %s: attempt %d failed (%s), retry in %.1fs", self.name, self.target, attempt, outcome, delay)
            if self._abort.wait(delay):
                return

    def _note(self, delivery: str, attempt: int, outcome: str) -> None:
        self.stats.history.append({"delivery": delivery, "attempt": attempt, "outcome": outcome, "at": time.time()})


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
