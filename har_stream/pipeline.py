"""The har-stream pipeline, top to bottom: source → detect → track → classify → smooth → temporal → falls → label →
count → rules → privacy → render → sinks."""

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
from har_stream.output_paths import check_output_paths, local_file
from har_stream.render.labels import PersonLabeler
from har_stream.render.overlay import OverlayRenderer
from har_stream.render.privacy import PrivacyMask
from har_stream.rules.counting import LineCounter
from har_stream.rules.engine import RuleEngine
from har_stream.rules.events import AlertEvent
from har_stream.rules.zones import ZoneError
from har_stream.sinks import EventLogSink, SnapshotSink, VideoExportSink, WindowSink
from har_stream.smoothing import ActionSmoother
from har_stream.sources import CameraStatus, FrameSource, SourceError, open_source
from har_stream.stage_thread import RecordReader, StageThread, inline_stage
from har_stream.stats import ClassifierInfo, MeanP95, RunStats, RunSummary
from har_stream.temporal.fall_stage import FallStage
from har_stream.temporal.model import TemporalModel, load_temporal_model
from har_stream.temporal.stage import TemporalStage
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

    summary: RunSummary = field(default_factory=RunSummary.empty)
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
        temporal_model: TemporalModel | str | None = "config",
    ) -> None:
        self.config = config
        self.detector = detector or PersonDetector(config.detector)
        self.action_model = (
            load_classifier(config.classifier.model, config.classifier.runtime, config.classifier.threads)
            if action_model == "config"
            else action_model  # type: ignore[arg-type]
        )
        self.temporal_model = (
            load_temporal_model(config.temporal.model) if temporal_model == "config" else temporal_model  # type: ignore[arg-type]
        )
        self._stop = threading.Event()
        self._finishing = False

    @property
    def finishing(self) -> bool:
        """Whether a run is finalising its outputs (closing alerts, flushing the export and event log)."""
        return self._finishing

    def request_stop(self) -> None:
        """Ask :meth:`run` to finish after the current frame (thread- and signal-safe).

        A request made before ``run`` starts is kept: that run stops at once. Each run clears the request
        when it ends, so the pipeline can run again.
        """
        self._stop.set()

    def run(
        self,
        source: FrameSource | str | int | None = None,
        max_frames: int | None = None,
        on_frame: Callable[[FrameRecord], None] | None = None,
        progress: bool = False,
        on_closed_alerts: Callable[[list[AlertEvent]], None] | None = None,
    ) -> RunResult:
        """Process ``source`` (default: ``config.source.uri``) until it ends, ``max_frames``, or a stop request.

        ``on_frame`` is called with every rendered record (e.g. for a dashboard); ``on_closed_alerts`` with
        alerts closed between frames (camera down) or at shutdown. Outputs are always finalised: the export
        stays playable and open alerts get an end record, also on Ctrl-C. An output that is the source file or
        another output (whatever the spelling: ``..``, symlinks, hard links) raises
        :class:`~har_stream.output_paths.OutputPathError` before anything is opened.
        """
        if source is None:
            if self.config.source.uri is None:
                raise SourceError("no source given: pass --source or set source.uri in the config")
            source = self.config.source.uri
        check_output_paths(
            {"source": local_file(source.info.name if isinstance(source, FrameSource) else source)},
            output_paths(self.config),
        )  # before anything is opened for writing
        if not isinstance(source, FrameSource):
            source = open_source(source, self.config.source)
        run = _Run(self, source, on_frame, on_closed_alerts, progress)
        result = RunResult(outputs=run.outputs)
        try:
            read = run.start()  # source -> detect
            while not self._stop.is_set():
                try:
                    record = read(0.2)
                except StopIteration:
                    break
                run.report_health()
                if record is None:
                    run.idle()
                    continue
                run.process(record)  # track -> classify -> ... -> label -> count -> rules -> privacy -> render -> sinks
                if (max_frames is not None and run.stats.frames >= max_frames) or run.quit_requested:
                    break
        except KeyboardInterrupt:
            result.interrupted = True
            log.warning("interrupted: finishing outputs")
        except (SourceError, ZoneError) as exc:  # e.g. a camera that changes to a size its pixel zones miss
            result.error = str(exc)
            log.error("%s", exc)
        finally:
            self._finishing = True
            result.interrupted = result.interrupted or self._stop.is_set()
            try:
                run.finish(result)
            finally:
                self._stop.clear()
                self._finishing = False
        return result


class _Run:
    """One run of a pipeline: the per-stream stages, the sinks, and the statistics."""

    def __init__(
        self,
        pipeline: Pipeline,
        source: FrameSource,
        on_frame: Callable[[FrameRecord], None] | None,
        on_closed_alerts: Callable[[list[AlertEvent]], None] | None,
        progress: bool,
    ) -> None:
        config = self.config = pipeline.config
        self.detector = pipeline.detector
        self.source = source
        self.on_frame = on_frame
        self.on_closed_alerts = on_closed_alerts
        fps = source.info.fps or 25.0
        self.tracker = PersonTracker(config.tracker, frame_rate=fps, zones=config.zones)
        self.classifier = ActionClassifierStage(pipeline.action_model, config.classifier)
        self.smoother = ActionSmoother(config.smoothing, self.classifier.classes)
        self.temporal = TemporalStage(pipeline.temporal_model, config.temporal)
        self.falls = FallStage(config.falls)
        self.labeler = PersonLabeler(config.render.min_label_confidence)
        self.counter = LineCounter(config.lines, config.zones)
        self.rules = RuleEngine(
            config.rules, config.zones, camera=config.camera, min_label_confidence=config.render.min_label_confidence
        )
        self.privacy = PrivacyMask(config.privacy)
        self.renderer = OverlayRenderer(config.render, config.zones, config.lines)
        self.stats = RunStats()
        self.sinks, self.events, self.window, self.outputs = _build_sinks(config, fps)
        self.bar = _progress_bar(source, progress)
        self.worker: StageThread | None = None
        self.last: FrameRecord | None = None
        self.last_frame_at = time.monotonic()
        self.last_health = time.monotonic()

    @property
    def quit_requested(self) -> bool:
        """Whether the user closed the live window."""
        return self.window is not None and self.window.quit_requested

    def start(self) -> RecordReader:
        """Start the source and the detector; return the reader of detected records."""
        self.source.start()
        read = _records_from(self.source, self.config.camera)
        if self.config.detector.pipelined:
            self.worker = StageThread(read, self.detector, "detect")
            return self.worker.read
        return inline_stage(read, self.detector, "detect")

    def process(self, record: FrameRecord) -> None:
        """Run one detected record through the remaining stages and the sinks."""
        calls_before = self.classifier.calls
        _timed("track", self.tracker, record)
        _timed("classify", self.classifier, record)
        _timed("smooth", self.smoother, record)
        _timed("temporal", self.temporal, record)
        _timed("falls", self.falls, record)  # person down: a fast drop ending lying low, and for how long
        _timed("label", self.labeler, record)  # the one label each person is shown with
        _timed("count", self.counter, record)  # line crossings (in / out) and people per zone
        _timed("rules", self.rules, record)
        if self.privacy.enabled:  # every output below is made from the masked frame; the stages above saw it whole
            _timed("privacy", self.privacy, record)
        start = time.perf_counter()
        self.renderer(record, fps=self.stats.recent_fps)
        record.timings["render"] = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        for sink in self.sinks:
            sink.write(record)
        record.timings["output"] = (time.perf_counter() - start) * 1000
        self.stats.add(record, time.monotonic() - record.captured_at, self.classifier.calls - calls_before)
        if self.on_frame is not None:
            self.on_frame(record)
        self.last = record
        self.last_frame_at = time.monotonic()
        if self.bar is not None:
            self.bar.update(1)
        if time.monotonic() - self.last_health >= HEALTH_INTERVAL_S:
            self.last_health = time.monotonic()
            health = _health_entry(self.source, self.config.camera, self.stats, "periodic", record)
            log.info("camera %s: %s", self.config.camera, _health_text(health))
            if self.events is not None:
                self.events.append(health)

    def idle(self) -> None:
        """No frame arrived: once the camera has been down longer than tracks are kept, end them all."""
        down_for = time.monotonic() - self.last_frame_at
        if (
            self.last is not None
            and self.tracker.registry.tracks
            and self.source.status is not CameraStatus.CONNECTED
            and down_for > self.config.tracker.lost_track_buffer_s + 0.5
        ):
            log.warning("camera %s: no frames for %.1fs, ending its tracks", self.config.camera, down_for)
            self._close_alerts("camera_down")
            ended = self.tracker.reset()
            self.classifier.scheduler.forget(ended)
            self.smoother.forget(ended)
            self.temporal.forget(ended)
            self.falls.forget(ended)
            self.counter.forget(ended)

    def report_health(self) -> None:
        """Write the source's connection changes to the event log."""
        changes = self.source.drain_events()
        if self.events is None:
            return
        for change in changes:
            entry: dict[str, Any] = {
                "type": "camera_health",
                "camera": self.config.camera,
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
            entry.update(self.source.counters().model_dump())
            entry["status"] = change.status.value
            entry["fps_processed"] = round(self.stats.recent_fps, 2)
            self.events.append(entry)

    def _close_alerts(self, reason: str) -> None:
        if self.last is None:
            return
        closing = self.rules.close_all(self.last, reason=reason)
        if closing and self.events is not None:
            for event in closing:
                self.events.append(event.to_json())
        if closing and self.on_closed_alerts is not None:
            self.on_closed_alerts(closing)

    def finish(self, result: RunResult) -> None:
        """Stop the threads, close open alerts, finalise every sink, and fill in the summary."""
        if self.bar is not None:
            self.bar.close()
        if self.outputs:
            log.info("finishing outputs (%s)", ", ".join(self.outputs))
        if self.worker is not None:
            self.worker.close()
        self.source.close()
        self._close_alerts("shutdown")
        self.report_health()
        if self.events is not None:
            self.events.append(_health_entry(self.source, self.config.camera, self.stats, "final", self.last))
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as exc:  # one failing sink must not stop the others from finalising
                log.error("closing %s failed: %s", type(sink).__name__, exc)
                result.error = result.error or str(exc)
        summary = result.summary = self.stats.summary()
        for sink in self.sinks:
            if isinstance(sink, VideoExportSink) and sink.encode_ms:
                summary.stages_ms["encode"] = MeanP95.of(sink.encode_ms)
        summary.source = self.source.counters()
        temporal = self.temporal.model
        summary.temporal_model = temporal.name if temporal is not None else "none"
        model = self.classifier.model
        summary.classifier = ClassifierInfo(
            model=model.name if model is not None else "none",
            runtime=getattr(model, "runtime", "") if model is not None else "",
        )
        result.source_problems = list(self.source.problems)
        unwritten = {
            "video": not any(sink.frames_written for sink in self.sinks if isinstance(sink, VideoExportSink)),
            "snapshots": not any(sink.saved for sink in self.sinks if isinstance(sink, SnapshotSink)),
        }
        for kind, empty in unwritten.items():
            if empty:
                result.outputs.pop(kind, None)  # nothing was written there: do not point the user at it


def output_paths(config: HarStreamConfig) -> dict[str, Path | None]:
    """Every file or folder a run of ``config`` writes, by config field."""
    out = config.output
    snapshots = out.snapshots
    if snapshots is None and out.events is not None:
        snapshots = out.events.with_name(out.events.stem + "_snapshots")
    return {"output.video": out.video, "output.events": out.events, "output.snapshots": snapshots}


def _build_sinks(
    config: HarStreamConfig, fps: float
) -> tuple[list[Sink], EventLogSink | None, WindowSink | None, dict[str, str]]:
    """The sinks the config asks for, in the order they must run."""
    out = config.output
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
        window = WindowSink(f"har-stream: {config.camera}")
        sinks.append(window)
    return sinks, events, window, outputs


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


def _health_entry(
    source: FrameSource, camera: str, stats: RunStats, why: str, last: FrameRecord | None = None
) -> dict[str, Any]:
    now = time.time()
    entry: dict[str, Any] = {"type": "camera_health", "camera": camera, "wall_time": now, "time": _iso(now)}
    entry.update(source.counters().model_dump())
    entry["fps_processed"] = round(stats.recent_fps, 2)
    entry["frames_processed"] = stats.frames
    entry["report"] = why
    if last is not None and last.line_counts:
        entry["line_counts"] = last.line_counts  # {line: {"in": n, "out": m}} since the run started
    if last is not None and last.zone_occupancy:
        entry["zone_occupancy"] = last.zone_occupancy  # {zone: people in it on the newest frame}
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
