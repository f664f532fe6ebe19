"""``GET /metrics``: the site's cameras, alerts and delivery in the Prometheus text format.

A collector reads the runtime on every scrape (camera health, stage timings, alert counts, notifier
counters), so nothing is kept twice and nothing is updated on the video path. It is registered on a
private registry together with the process collector (CPU, memory, open files of the server process).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, SummaryMetricFamily
from prometheus_client.registry import Collector

from har_stream import __version__

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from har_stream.serve.runtime import SiteRuntime

#: The classic text format (what ``generate_latest`` writes with its default escaping); every Prometheus reads it.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "har_stream"
ALERT_LABELS = ("camera", "rule", "severity")


class SiteCollector(Collector):
    """Metric families of a :class:`SiteRuntime`, built afresh at each scrape."""

    def __init__(self, runtime: SiteRuntime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        """Yield every metric family (called by the registry on each scrape)."""
        runtime = self.runtime
        info = InfoMetricFamily(PREFIX, "har-stream version")
        info.add_metric([], {"version": __version__})
        yield info
        yield from self._cameras()
        alerts = CounterMetricFamily(
            f"{PREFIX}_alerts", "Alerts in the event store (counted across restarts)", labels=ALERT_LABELS
        )
        for (camera, rule, severity), count in sorted(runtime.hub.alert_counts().items()):
            alerts.add_metric([camera, rule, severity], count)
        yield alerts
        yield from self._delivery()

    def _cameras(self) -> Iterator[Metric]:
        labels = ["camera"]
        connected = GaugeMetricFamily(f"{PREFIX}_camera_connected", "1 while the camera delivers frames", labels=labels)
        fps_in = GaugeMetricFamily(f"{PREFIX}_camera_fps_in", "Frames per second read from the source", labels=labels)
        fps_processed = GaugeMetricFamily(
            f"{PREFIX}_camera_fps_processed", "Frames per second through the pipeline", labels=labels
        )
        frames_in = CounterMetricFamily(f"{PREFIX}_camera_frames_in", "Frames read from the source", labels=labels)
        processed = CounterMetricFamily(
            f"{PREFIX}_camera_frames_processed", "Frames through the pipeline", labels=labels
        )
        dropped = CounterMetricFamily(
            f"{PREFIX}_camera_frames_dropped", "Live frames dropped because processing was behind", labels=labels
        )
        age = GaugeMetricFamily(
            f"{PREFIX}_camera_frame_age_seconds",
            "Seconds since the newest processed frame was captured (grows while the camera or pipeline is stuck)",
            labels=labels,
        )
        reconnects = CounterMetricFamily(
            f"{PREFIX}_camera_reconnects",
            "Outages of the source: times it went down (reconnecting or lost), however many attempts each took",
            labels=labels,
        )
        attempts = CounterMetricFamily(
            f"{PREFIX}_camera_reconnect_attempts", "Attempts to reopen the source", labels=labels
        )
        decode_errors = CounterMetricFamily(f"{PREFIX}_camera_decode_errors", "Undecodable data skipped", labels=labels)
        active = GaugeMetricFamily(f"{PREFIX}_camera_active_alerts", "Alerts open now", labels=labels)
        stages = SummaryMetricFamily(
            f"{PREFIX}_camera_stage_seconds",
            "Time per frame in each pipeline stage (detect, classify, track, ...): _sum / _count is the mean",
            labels=["camera", "stage"],
        )
        for name, worker in self.runtime.cameras.items():
            health = worker.health()
            connected.add_metric([name], 1.0 if health.connected else 0.0)
            fps_in.add_metric([name], health.fps_in)
            fps_processed.add_metric([name], health.fps_processed)
            frames_in.add_metric([name], health.frames_in)
            processed.add_metric([name], health.frames_processed)
            dropped.add_metric([name], health.frames_dropped)
            if health.frame_age_s is not None:
                age.add_metric([name], health.frame_age_s)
            reconnects.add_metric([name], health.outages)
            attempts.add_metric([name], health.reconnects)
            decode_errors.add_metric([name], health.decode_errors)
            active.add_metric([name], health.active_alerts)
            for stage, (count, seconds) in sorted(worker.stage_totals().items()):
                stages.add_metric([name, stage], count_value=count, sum_value=seconds)
        yield from (connected, fps_in, fps_processed, frames_in, processed, dropped, age)
        yield from (reconnects, attempts, decode_errors, active, stages)
        yield from self._counts()

    def _counts(self) -> Iterator[Metric]:
        crossings = CounterMetricFamily(
            f"{PREFIX}_line_crossings",
            "People who crossed a counting line since the camera started, by direction (in, out)",
            labels=["camera", "line", "direction"],
        )
        occupancy = GaugeMetricFamily(
            f"{PREFIX}_zone_occupancy", "People in a zone on the newest processed frame", labels=["camera", "zone"]
        )
        for name, worker in self.runtime.cameras.items():
            health = worker.health()
            for line in health.line_counts:
                crossings.add_metric([name, line.line, "in"], line.in_count)
                crossings.add_metric([name, line.line, "out"], line.out_count)
            for zone in health.zone_occupancy:
                occupancy.add_metric([name, zone.zone], zone.people)
        yield from (crossings, occupancy)

    def _delivery(self) -> Iterator[Metric]:
        notify = self.runtime.notify_health()
        for kind, targets in (("webhook", notify["webhooks"]), ("apprise", notify.get("apprise", []))):
            yield from _queued_delivery(kind, targets)
        mqtt = notify["mqtt"]
        if mqtt is not None:
            connected = 1.0 if mqtt["connected"] else 0.0
            yield GaugeMetricFamily(f"{PREFIX}_mqtt_connected", "1 while connected to the broker", connected)
            yield CounterMetricFamily(f"{PREFIX}_mqtt_published", "Messages published", mqtt["published"])
            yield CounterMetricFamily(f"{PREFIX}_mqtt_outages", "Times the broker connection was lost", mqtt["outages"])


def _queued_delivery(kind: str, targets: list[dict[str, Any]]) -> Iterator[Metric]:
    """Counters of the webhooks or of the Apprise URLs, by config entry and target (``har_stream_<kind>_delivered``
    ...): two Apprise URLs of one service show the same target (``tgram://<hidden>``), never the same name."""
    labels = ["name", "target"]
    delivered = CounterMetricFamily(f"{PREFIX}_{kind}_delivered", "Alerts delivered", labels=labels)
    failed = CounterMetricFamily(f"{PREFIX}_{kind}_failed", "Alerts given up on", labels=labels)
    dropped = CounterMetricFamily(f"{PREFIX}_{kind}_dropped", "Alerts dropped from a full queue", labels=labels)
    pending = GaugeMetricFamily(f"{PREFIX}_{kind}_pending", "Alerts waiting for delivery", labels=labels)
    attempts = CounterMetricFamily(f"{PREFIX}_{kind}_attempts", "Delivery attempts, retries included", labels=labels)
    for target in targets:
        delivered.add_metric([target["name"], target["target"]], target["delivered"])
        failed.add_metric([target["name"], target["target"]], target["failed"])
        dropped.add_metric([target["name"], target["target"]], target["dropped"])
        pending.add_metric([target["name"], target["target"]], target["pending"])
        attempts.add_metric([target["name"], target["target"]], target["attempts"])
    yield from (delivered, failed, dropped, pending, attempts)


def metrics_registry(runtime: SiteRuntime) -> CollectorRegistry:
    """A registry of its own (not the global one) with the site's collector and the process collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SiteCollector(runtime))
    ProcessCollector(registry=registry)
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The exposition of one scrape."""
    return generate_latest(registry)
