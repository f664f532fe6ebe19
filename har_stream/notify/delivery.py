"""Reliable delivery of alert messages: a bounded queue, one sender thread, retries with exponential backoff.

Shared by every notifier that sends each alert on its own (webhooks, Apprise). The pipeline only appends to
the queue, so a slow or dead receiver never holds up video; when the queue is full the oldest waiting alert is
dropped and counted. A message leaves the queue once it was delivered, refused for good, or out of attempts:
each alert is sent once per target (a retry only follows a failed attempt).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from har_stream.config.site import DeliveryConfig

log = logging.getLogger(__name__)


@dataclass
class DeliveryStats:
    """Counters of one delivery target."""

    delivered: int = 0
    failed: int = 0  # gave up after max_attempts, or refused for good
    dropped: int = 0  # queue full
    attempts: int = 0
    last_error: str | None = None
    last_delivery_at: float | None = None
    history: collections.deque[dict[str, Any]] = field(default_factory=lambda: collections.deque(maxlen=50))


@dataclass(frozen=True)
class Attempt:
    """The outcome of one try: delivered or not, whether trying again may help, and how long to wait at least."""

    ok: bool
    outcome: str
    retryable: bool = True
    retry_after: float | None = None


class DeliveryQueue:
    """Sends queued alert messages with :meth:`send`. ``submit`` never blocks; ``close`` drains for a bounded time.

    Subclasses implement :meth:`send` (one attempt) and may wrap the sender thread's life in :meth:`session`.
    """

    def __init__(self, config: DeliveryConfig, name: str, target: str) -> None:
        self.config = config
        self.name = name
        #: What logs, health and metrics call the receiver (never a secret).
        self.target = target
        self.stats = DeliveryStats()
        self._queue: collections.deque[dict[str, Any]] = collections.deque()
        self._cond = threading.Condition()
        self._closing = threading.Event()
        self._abort = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"{name}-sender", daemon=True)
        self._thread.start()

    # -- for subclasses ------------------------------------------------------------------------------
    def send(self, message: dict[str, Any], attempt: int, delivery: str) -> Attempt:
        """Try to deliver ``message`` once (``delivery`` identifies it across attempts)."""
        raise NotImplementedError

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """Held open around the sender thread's work (e.g. an HTTP client)."""
        yield

    # -- any thread ----------------------------------------------------------------------------------
    def submit(self, message: dict[str, Any]) -> bool:
        """Queue an alert message if this target wants its type; returns whether it was queued."""
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

    def health(self) -> dict[str, Any]:
        """Counters for the health endpoint and metrics."""
        return {
            "name": self.name,
            "target": self.target,
            "delivered": self.stats.delivered,
            "failed": self.stats.failed,
            "dropped": self.stats.dropped,
            "pending": self.pending,
            "attempts": self.stats.attempts,
            "last_error": self.stats.last_error,
        }

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

    # -- sender thread -------------------------------------------------------------------------------
    def _run(self) -> None:
        with self.session():
            while True:
                with self._cond:
                    while not self._queue and not self._closing.is_set():
                        self._cond.wait()
                    if not self._queue or self._abort.is_set():
                        return
                    message = self._queue[0]
                self._deliver(message)
                with self._cond:
                    if self._queue and self._queue[0] is message:
                        self._queue.popleft()

    def _deliver(self, message: dict[str, Any]) -> None:
        delivery = f"{message.get('alert_id')}:{message.get('type')}"
        for attempt in range(1, self.config.max_attempts + 1):
            if self._abort.is_set():
                return
            self.stats.attempts += 1
            try:
                result = self.send(message, attempt, delivery)
            except Exception as exc:  # a bug or an odd library error: counted and retried like a failure
                # the type alone: a message or traceback may quote the target's URL, and with it a secret
                log.debug("%s %s: attempt raised %s", self.name, self.target, type(exc).__name__)
                result = Attempt(False, type(exc).__name__)
            self._note(delivery, attempt, result.outcome)
            if result.ok:
                self.stats.delivered += 1
                self.stats.last_delivery_at = time.time()
                return
            self.stats.last_error = result.outcome
            if not result.retryable or attempt == self.config.max_attempts:
                self.stats.failed += 1
                log.warning(
                    "%s %s: giving up on alert %s after %d attempts (%s)",
                    self.name, self.target, delivery, attempt, result.outcome,
                )  # fmt: skip
                return
            delay = min(self.config.backoff_max_s, self.config.backoff_initial_s * 2 ** (attempt - 1))
            if result.retry_after is not None:
                delay = min(self.config.backoff_max_s, max(delay, result.retry_after))
            log.info(
                "%s %s: attempt %d failed (%s), retry in %.1fs", self.name, self.target, attempt, result.outcome, delay
            )
            if self._abort.wait(delay):
                return

    def _note(self, delivery: str, attempt: int, outcome: str) -> None:
        self.stats.history.append({"delivery": delivery, "attempt": attempt, "outcome": outcome, "at": time.time()})
