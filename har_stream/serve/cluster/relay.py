"""Inside a camera actor: stands in for the alert hub and keeps every alert event until the head acknowledges it."""

from __future__ import annotations

import collections
import logging
import threading
from typing import Any

from har_stream.rules.events import AlertEvent
from har_stream.serve.health import CameraHealth

log = logging.getLogger(__name__)

#: One outgoing item: (sequence number, kind, arguments), kind ``alert`` or ``clip`` as for the hub.
Item = tuple[int, str, tuple[Any, ...]]


class EventRelay:
    """An outbox with the hub's producer methods; the head drains it and acknowledges by sequence number.

    Items stay until acknowledged, so a reply lost on the way to the head is sent again with the next one
    (delivery at least once; the head drops repeats). When ``limit`` items wait, the oldest is dropped.
    """

    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit
        self.dropped = 0
        self._lock = threading.Lock()
        self._items: collections.deque[Item] = collections.deque()
        self._seq = 0

    def publish_alert(self, event: AlertEvent, snapshot: str | None = None) -> None:
        """An alert started or ended (``snapshot`` relative to the media folder)."""
        self._add("alert", (event, snapshot))

    def clip_ready(self, alert_ids: list[str], clip: str) -> None:
        """A clip was written for these alerts."""
        self._add("clip", (alert_ids, clip))

    def publish_health(self, camera: str, health: CameraHealth) -> None:
        """Health is sent with every drain instead."""

    def _add(self, kind: str, args: tuple[Any, ...]) -> None:
        with self._lock:
            self._seq += 1
            self._items.append((self._seq, kind, args))
            if len(self._items) > self.limit:
                self._items.popleft()
                self.dropped += 1
                log.error("camera outbox full: dropped an %s update the head never collected", kind)

    def pending(self, acked: int) -> list[Item]:
        """Forget items up to ``acked``; return the rest, oldest first."""
        with self._lock:
            while self._items and self._items[0][0] <= acked:
                self._items.popleft()
            return list(self._items)
