"""The alert hub: takes alerts, clips and camera health from the camera threads and fans them out.

Camera threads only append to a bounded queue. The hub's own thread writes the event store, pushes live
updates to every dashboard connection (server-sent events) and hands alerts to the webhook and MQTT
notifiers, so neither the database nor the network can slow down video.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from har_stream.notify.delivery import DeliveryQueue
from har_stream.notify.message import alert_message
from har_stream.notify.mqtt import MqttNotifier
from har_stream.rules.events import Alert, AlertEvent
from har_stream.serve.health import CameraHealth
from har_stream.store import EventStore, StoreError

log = logging.getLogger(__name__)

MQTT_STATUS_INTERVAL_S = 10.0


class _Subscriber:
    """One live connection: an asyncio queue fed from other threads through its event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, size: int) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=size)
        self.dropped = 0

    def offer(self, message: dict[str, Any]) -> None:
        def put() -> None:
            try:
                self.queue.put_nowait(message)
            except asyncio.QueueFull:
                self.dropped += 1  # a stalled browser misses updates; the rest go on

        with contextlib.suppress(RuntimeError):  # the loop is closed: the connection is gone
            self.loop.call_soon_threadsafe(put)


class AlertHub:
    """Routes alert events and camera health; ``view`` turns a stored alert into what live updates send."""

    def __init__(
        self,
        store: EventStore,
        media_folder: Path,
        base_url: str,
        view: Callable[[Alert], dict[str, Any]] = Alert.live_json,
        queued: list[DeliveryQueue] | None = None,
        mqtt: MqttNotifier | None = None,
        queue_size: int = 10_000,
    ) -> None:
        self.store = store
        self.media_folder = Path(media_folder)
        self.base_url = base_url
        self.view = view
        self.queued = queued or []  # webhooks and Apprise URLs: each retries on its own thread
        self.mqtt = mqtt
        self.dropped = 0
        self.store_errors = 0
        self._queue: queue.Queue[tuple[str, tuple[Any, ...]] | None] = queue.Queue(maxsize=queue_size)
        self._subscribers: set[_Subscriber] = set()
        self._lock = threading.Lock()
        self._statuses: dict[str, str] = {}
        self._alerts: collections.Counter[tuple[str, str, str]] = collections.Counter(store.alert_counts())
        self._mqtt_sent: dict[str, float] = {}
        self._thread = threading.Thread(target=self._run, name="alert-hub", daemon=True)
        self._thread.start()

    # -- producers (any thread) ----------------------------------------------------------------------
    def _put(self, kind: str, *args: Any) -> None:
        try:
            self._queue.put_nowait((kind, args))
        except queue.Full:
            self.dropped += 1
            log.error("alert hub overloaded: dropped a %s update", kind)

    def publish_alert(self, event: AlertEvent, snapshot: str | None = None) -> None:
        """An alert started or ended; ``snapshot`` is relative to the media folder."""
        self._put("alert", event, snapshot)

    def clip_ready(self, alert_ids: list[str], clip: str) -> None:
        """A clip (relative to the media folder) was written for these alerts."""
        self._put("clip", alert_ids, clip)

    def publish_review(self, alert: Alert) -> None:
        """Send a reviewed alert to live clients (the store already has the review)."""
        self._broadcast({"type": "alert", "event": self.view(alert)})

    def publish_health(self, camera: str, health: CameraHealth) -> None:
        """A camera's current health (sent about once a second)."""
        self._put("health", camera, health)

    # -- live connections (event loop thread) -------------------------------------------------------
    def subscribe(self, loop: asyncio.AbstractEventLoop, size: int = 256) -> _Subscriber:
        """Start receiving every update on ``loop``."""
        subscriber = _Subscriber(loop, size)
        with self._lock:
            self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: _Subscriber) -> None:
        """Stop receiving updates."""
        with self._lock:
            self._subscribers.discard(subscriber)

    def alert_counts(self) -> dict[tuple[str, str, str], int]:
        """Alerts in the store by (camera, rule, severity): counted at start, then as the hub stores them."""
        with self._lock:
            return dict(self._alerts)

    @property
    def subscribers(self) -> int:
        """Open live connections."""
        with self._lock:
            return len(self._subscribers)

    def _broadcast(self, message: dict[str, Any]) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            subscriber.offer(message)

    # -- hub thread ----------------------------------------------------------------------------------
    def close(self, timeout: float = 10.0) -> None:
        """Handle what is queued, then stop."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            kind, args = item
            try:
                getattr(self, f"_on_{kind}")(*args)
            except Exception as exc:  # one bad update must not stop the hub
                log.exception("alert hub: handling a %s update failed: %s", kind, exc)

    def _on_alert(self, event: AlertEvent, snapshot: str | None) -> None:
        try:
            if self.store.record(event, snapshot):
                with self._lock:
                    self._alerts[(event.camera, event.rule, event.severity)] += 1
        except StoreError as exc:
            self.store_errors += 1
            log.error("%s", exc)
        row = self.store.get(event.alert_id)
        if row is not None:
            self._broadcast({"type": "alert", "event": self.view(row)})
        message = alert_message(event, snapshot, self.base_url)
        for notifier in self.queued:
            notifier.submit(message)
        if self.mqtt is not None:
            self.mqtt.publish_alert(message)

    def _on_clip(self, alert_ids: list[str], clip: str) -> None:
        for alert_id in alert_ids:
            self.store.set_clip(alert_id, clip)
            row = self.store.get(alert_id)
            if row is not None:
                self._broadcast({"type": "alert", "event": self.view(row)})

    def _on_health(self, camera: str, health: CameraHealth) -> None:
        status = health.status
        changed = self._statuses.get(camera) != status
        self._statuses[camera] = status
        if changed:
            try:
                self.store.set_camera_status(camera, status, health.error)
            except StoreError as exc:
                log.error("%s", exc)
        message = health.as_json()
        self._broadcast({"type": "health", "camera": camera, "health": message})
        now = time.monotonic()
        if self.mqtt is not None and (changed or now - self._mqtt_sent.get(camera, 0.0) >= MQTT_STATUS_INTERVAL_S):
            self._mqtt_sent[camera] = now
            self.mqtt.publish_health(camera, message)
        if self.mqtt is not None:
            self.mqtt.publish_people(camera, health.people)  # sent when it changes (Home Assistant's sensor)
