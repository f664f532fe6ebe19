"""A running site: the event store, notifiers, alert hub and one worker per camera, started and stopped together."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from har_stream.config.site import SiteConfig
from har_stream.notify.apprise_notify import AppriseNotifier
from har_stream.notify.mqtt import MqttNotifier
from har_stream.notify.webhook import WebhookNotifier
from har_stream.serve.camera import CameraWorker
from har_stream.serve.health import CameraHandle
from har_stream.serve.hub import AlertHub
from har_stream.serve.retention import MediaPruner
from har_stream.store import EventStore

log = logging.getLogger(__name__)

HEALTH_INTERVAL_S = 1.0


def _cluster_cameras(site: SiteConfig, hub: AlertHub) -> dict[str, CameraHandle]:
    """Cluster mode: each camera runs as a Ray actor (imported only here, so one machine never loads Ray)."""
    from har_stream.serve.cluster.supervisor import remote_cameras

    return dict(remote_cameras(site, hub))


class SiteRuntime:
    """Everything ``har-stream serve`` runs besides the web server itself.

    ``start_cameras=False`` builds it without processing video (e.g. to test the API).
    """

    def __init__(self, site: SiteConfig) -> None:
        self.site = site
        self.media_root = Path(site.media.folder).resolve()
        self.started_at = time.time()
        self.stopping = threading.Event()
        for sub in ("snapshots", "clips"):
            (self.media_root / sub).mkdir(parents=True, exist_ok=True)
        self.store = EventStore(site.store_path)
        interrupted = self.store.end_interrupted()
        if interrupted:
            log.warning("%d alerts were left open by a previous run; marked interrupted", interrupted)
        self.webhooks = [
            WebhookNotifier(hook, self.media_root, name=f"webhooks[{i}]") for i, hook in enumerate(site.notify.webhooks)
        ]
        self.apprise = [
            AppriseNotifier(url, self.media_root, name=f"apprise[{i}]") for i, url in enumerate(site.notify.apprise)
        ]
        names = [c.camera for c in site.cameras]
        rules = {c.camera: [r.name for r in c.rules] for c in site.cameras}
        self.mqtt = MqttNotifier(site.notify.mqtt, names, rules) if site.notify.mqtt is not None else None
        queued = [*self.webhooks, *self.apprise]  # the hub hands each alert to every queued notifier alike
        self.hub = AlertHub(self.store, self.media_root, site.server.base_url, queued=queued, mqtt=self.mqtt)
        self.cameras: dict[str, CameraHandle] = (
            _cluster_cameras(site, self.hub)
            if site.cluster is not None
            else {c.camera: CameraWorker(c, site.media, self.hub) for c in site.cameras}
        )
        retention = site.media.retention
        self.pruner = MediaPruner(self.media_root, self.store, retention) if retention is not None else None
        self._monitor = threading.Thread(target=self._watch_health, name="health-monitor", daemon=True)
        self._started = False
        self._shut_down = False
        self._shutdown_lock = threading.Lock()
        self._stopped = False
        self._stop_lock = threading.Lock()

    def start(self) -> SiteRuntime:
        """Start every camera, the health monitor and the media clean-up (``media.retention``)."""
        if not self._started:
            self._started = True
            for worker in self.cameras.values():
                worker.start()
            self._monitor.start()
            if self.pruner is not None:
                self.pruner.start()
        return self

    def _watch_health(self) -> None:
        while not self.stopping.wait(HEALTH_INTERVAL_S):
            for name, worker in self.cameras.items():
                self.hub.publish_health(name, worker.health())

    def shutdown(self) -> None:
        """Stop cameras (open alerts get end records), deliver what is queued and close the notifiers.

        The event store stays open for requests still being answered (:meth:`stop` closes it). Safe to call
        from several threads: later callers wait until the first one has finished.
        """
        self.stopping.set()
        with self._shutdown_lock:
            if self._shut_down:
                return
            self._shut_down = True  # also after a failure: a second try would stop what is already stopped
            threads = [threading.Thread(target=w.stop, name=f"stop-{n}") for n, w in self.cameras.items()]
            for thread in threads:
                thread.start()
            if self.pruner is not None:
                self.pruner.stop()
            for thread in threads:
                thread.join()
            for name, worker in self.cameras.items():
                self.hub.publish_health(name, worker.health())
            self.hub.close()
            queued = [*self.webhooks, *self.apprise]
            closers = [threading.Thread(target=w.close, name=f"close-{w.name}") for w in queued]
            if self.mqtt is not None:
                closers.append(threading.Thread(target=self.mqtt.close, name="close-mqtt"))
            for thread in closers:  # each drains its own queue: side by side, not one after the other
                thread.start()
            for thread in closers:
                thread.join()

    def stop(self) -> None:
        """:meth:`shutdown`, then close the event store."""
        self.shutdown()
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
        self.store.close()
        if self.site.cluster is not None:
            from har_stream.serve.cluster.engine import disconnect

            disconnect()
        log.info("site stopped")

    def notify_health(self) -> dict[str, Any]:
        """Delivery counters for the health endpoint."""
        hooks = [hook.health() for hook in self.webhooks]
        apprise = [target.health() for target in self.apprise]
        mqtt = None
        if self.mqtt is not None:
            mqtt = {
                "broker": f"{self.mqtt.config.host}:{self.mqtt.config.port}",
                "connected": self.mqtt.connected.is_set(),
                "published": self.mqtt.published,
                "outages": self.mqtt.outages,
                "last_error": self.mqtt.last_error,
            }
        return {"webhooks": hooks, "apprise": apprise, "mqtt": mqtt}
