"""The har-stream pipeline, top to bottom: source → detect → track → classify → smooth → rules → render → sinks."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from har_stream.action_model.base import ActionModel
from har_stream.classification.model_choice import load_classifier
from har_stream.classification.stage import ActionClassifierStage
from har_stream.config.schema import HarStreamConfig
from har_stream.detection.detector import PersonDetector
from har_stream.frame import FrameRecord
from har_stream.render.overlay import OverlayRenderer
from har_stream.rules.engine import RuleEngine
from har_stream.rules.events import AlertEvent
from har_stream.sinks import EventLogSink, SnapshotSink, VideoExportSink, WindowSink
from har_stream.smoothing import ActionSmoother
from har_stream.sources import FrameSource, HealthEvent, SourceError, open_source
from har_stream.stage_thread import RecordReader, StageThread, inline_stage
from har_stream.stats import RunStats, mean_p95
from har_stream.tracking.tracker import PersonTracker

log = logging.getLogger(__name__)

HEALTH_INTERVAL_S = 10.0


class Sink(Protocol):
    """Anything that consumes rendered frame records."""

    def write(self, record: FrameRecord) -> None:
        """Consume one record."""

    def close(self) -> None:
        """Flush and release."""


@dataclass
class RunResult:
    """What a run did: statistics, where outputs went, and how it ended."""

    summary: dict[str, Any]
    outputs: dict[str, str] = field(default_factory=dict)
    interrupted: bool = False
    error: str | None = None
    source_problems: list[str] = field(default_factory=list)


class Pipeline:
    """Runs one camera's config over a source and writes the configured outputs.

    Models are loaded once here; per-stream state (tracks, smoothing, alerts) is created fresh by each
    :meth:`run`.
    """

    def __init__(
        self,
        config: HarStreamConfig,
        detector: PersonDetector | None = None,
        action_model: ActionModel | str | None = "config",
    ) -> None:
        self.config = config
        self.detector = detector or PersonDetector(config.detector)
        self.action_model = (
            load_classifier(config.classifier.model) if action_model == "config" else action_model  # type: ignore[arg-type]
        )
        self._stop = threading.Event()

    def request_stop(self) -> None:
        """Ask :meth:`run` to finish after the current frame (thread- and signal-safe).

        A request made before ``run`` starts is kept: that run stops at once. Each run clears the request
        when it ends, so the pipeline can run again.
        """
        self._stop.set()

    def _sinks(self, fps: float) -> tuple[list[Sink], EventLogSink | None, WindowSink | None, dict[str, str]]:
        out = self.config.output
        sinks: list[Sink] = []
        outputs: dict[str, str] = {}
        events = None
        window = None
        if out.events is not None:
            snapshots = out.snapshots or out.events.with_name(out.events.stem + "_snapshots")
            sinks.append(SnapshotSink(snapshots))  # before the event log: it adds snapshot paths to events
            outputs["snapshots"] = str(snapshots)
            events = EventLogSink(out.events)
            sinks.append(events)
            outputs["events"] = str(out.events)
        elif out.snapshots is not None:
            sinks.append(SnapshotSink(out.snapshots))
            outputs["snapshots"] = str(out.snapshots)
        if out.video is not None:
            sinks.append(VideoExportSink(out.video, fps=fps, crf=out.video_crf, preset=out.video_preset))
            outputs["video"] = str(out.video)
        if out.show:
            window = WindowSink(f"har-stream: {self.config.camera}")
            sinks.append(window)
        return sinks, events, window, outputs

    def run(
        self,
        source: FrameSource | str | int | None = None,
        max_frames: int | None = None,
        on_frame: Callable[[FrameRecord], None] | None = None,
        progress: bool = False,
        on_final_alerts: Callable[[list[AlertEvent]], None] | None = None,
    ) -> RunResult:
        """Process ``source`` (default: ``config.source.uri``) until it ends, ``max_frames``, or a stop request.

        ``on_frame`` is called with every rendered record (e.g. for a dashboard); ``on_final_alerts`` with the
        end records of alerts still open when the run stops, which belong to no frame. Outputs are always
        finalised: the export stays playable and open alerts get an end record, also on Ctrl-C.
        """
        config = self.config
        if source is None:
            if config.source.uri is None:
                raise SourceError("no source given: pass --source or set source.uri in the config")
            source = config.source.uri
        if not isinstance(source, FrameSource):
            source = open_source(source, config.source)
        fps = source.info.fps or 25.0
        tracker = PersonTracker(config.tracker, frame_rate=fps)
        classifier = ActionClassifierStage(self.action_model, config.classifier)
        smoother = ActionSmoother(config.smoothing, classifier.classes)
        rules = RuleEngine(config.rules, config.zones, camera=config.camera)
        renderer = OverlayRenderer(config.render, config.zones)
        stats = RunStats()
        sinks, events, window, outputs = self._sinks(fps)
        bar = _progress_bar(source, progress)
        result = RunResult(summary={}, outputs=outputs)
        last: FrameRecord | None = None
        last_health = time.monotonic()
        worker: StageThread | None = None
        try:
            source.start()
            read = _records_from(source, config.camera)
            if config.detector.pipelined:
                worker = StageThread(read, self.detector, "detect")
                read = worker.read
            else:
                read = inline_stage(read, self.detector, "detect")
            while not self._stop.is_set():
                try:
                    record = read(0.2)  # source -> detect
                except StopIteration:
                    break
                self._report_health(source, source.drain_events(), events, config.camera, stats)
                if record is None:
                    continue
                calls_before = classifier.calls
                _timed("track", tracker, record)
                _timed("classify", classifier, record)
                _timed("smooth", smoother, record)
                _timed("rules", rules, record)
                start = time.perf_counter()
                renderer(record, fps=stats.recent_fps)
                record.timings["render"] = (time.perf_counter() - start) * 1000
                start = time.perf_counter()
                for sink in sinks:
                    sink.write(record)
                record.timings["output"] = (time.perf_counter() - start) * 1000
                stats.add(record, time.monotonic() - record.captured_at, classifier.calls - calls_before)
                if on_frame is not None:
                    on_frame(record)
                last = record
                if bar is not None:
                    bar.update(1)
                if time.monotonic() - last_health >= HEALTH_INTERVAL_S:
                    last_health = time.monotonic()
                    health = _health_entry(source, config.camera, stats, "periodic")
                    log.info("camera %s: %s", config.camera, _health_text(health))
                    if events is not None:
                        events.append(health)
                if max_frames is not None and stats.frames >= max_frames:
                    break
                if window is not None and window.quit_requested:
                    break
        except KeyboardInterrupt:
            result.interrupted = True
            log.warning("interrupted: finishing outputs")
        except SourceError as exc:
            result.error = str(exc)
            log.error("%s", exc)
        finally:
            result.interrupted = result.interrupted or self._stop.is_set()
            self._stop.clear()
            if bar is not None:
                bar.close()
            if worker is not None:
                worker.close()
            source.close()
            if last is not None:
                closing = rules.close_all(last, reason="shutdown")
                if closing and events is not None:
                    for event in closing:
                        events.append(event.to_json())
                if closing and on_final_alerts is not None:
                    on_final_alerts(closing)
            self._report_health(source, source.drain_events(), events, config.camera, stats)
            if events is not None:
                events.append(_health_entry(source, config.camera, stats, "final"))
            for sink in sinks:
                try:
                    sink.close()
                except Exception as exc:  # one failing sink must not stop the others from finalising
                    log.error("closing %s failed: %s", type(sink).__name__, exc)
                    result.error = result.error or str(exc)
            result.summary = stats.summary()
            for sink in sinks:
                if isinstance(sink, VideoExportSink) and sink.encode_ms:
                    result.summary["stages_ms"]["encode"] = mean_p95(sink.encode_ms)
            result.summary["source"] = source.health()
            result.source_problems = list(source.problems)
        return result

    @staticmethod
    def _report_health(
        source: FrameSource, changes: list[HealthEvent], events: EventLogSink | None, camera: str, stats: RunStats
    ) -> None:
        if events is None:
            return
        for change in changes:
            entry = {
                "type": "camera_health",
                "camera": camera,
                "status": change.status.value,
                "wall_time": change.wall_time,
                "time": _iso(change.wall_time),
            }
            if change.detail:
                entry["detail"] = change.detail
            if change.attempt:
                entry["attempt"] = change.attempt
            if change.retry_in_s is not None:
                entry["retry_in_s"] = round(change.retry_in_s, 3)
            entry.update(source.health())
            entry["status"] = change.status.value
            entry["fps_processed"] = round(stats.recent_fps, 2)
            events.append(entry)


def _records_from(source: FrameSource, camera: str) -> RecordReader:
    """Wrap each captured frame of ``source`` in a :class:`FrameRecord`."""

    def read(timeout: float) -> FrameRecord | None:
        captured = source.read(timeout=timeout)
        if captured is None:
            return None
        record = FrameRecord(
            index=captured.index,
            timestamp=captured.timestamp,
            wall_time=captured.wall_time,
            captured_at=captured.captured_at,
            image=captured.image,
            camera=camera,
        )
        record.timings["decode"] = captured.decode_ms
        return record

    return read


def _timed(name: str, stage: Callable[[FrameRecord], FrameRecord], record: FrameRecord) -> None:
    start = time.perf_counter()
    stage(record)
    record.timings[name] = (time.perf_counter() - start) * 1000


def _iso(wall_time: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(wall_time, dt.UTC).isoformat(timespec="milliseconds")


def _health_entry(source: FrameSource, camera: str, stats: RunStats, why: str) -> dict[str, Any]:
    now = time.time()
    entry: dict[str, Any] = {"type": "camera_health", "camera": camera, "wall_time": now, "time": _iso(now)}
    entry.update(source.health())
    entry["fps_processed"] = round(stats.recent_fps, 2)
    entry["frames_processed"] = stats.frames
    entry["report"] = why
    return entry


def _health_text(entry: dict[str, Any]) -> str:
    keys = ("status", "fps_in", "fps_processed", "frames_in", "frames_processed", "frames_dropped", "reconnects")
    return ", ".join(f"{key} {entry[key]}" for key in keys if key in entry)


def _progress_bar(source: FrameSource, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(
        total=source.info.frame_count,
        unit="frame",
        desc=Path(source.info.name).name[:30],
        dynamic_ncols=True,
        leave=True,
    )
