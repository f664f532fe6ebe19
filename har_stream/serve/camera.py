"""One camera of a site: its own pipeline (models, tracker, rules state) running on its own thread."""

from __future__ import annotations

import collections
import logging
import socket
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from har_stream.config.schema import HarStreamConfig
from har_stream.config.site import MediaConfig
from har_stream.frame import FrameRecord
from har_stream.rules.events import ALERT_START, AlertEvent
from har_stream.serve.clips import ClipRecorder
from har_stream.serve.health import LOCAL_NODE, STARTING, CameraHealth, LineCount, ZoneOccupancy
from har_stream.serve.live import LatestFrame, encode_jpeg
from har_stream.sinks.snapshots import SnapshotSink
from har_stream.sources import FrameSource, SourceError, open_source, redact

log = logging.getLogger(__name__)

#: Statuses of a camera worker besides the source's own (connecting, connected, reconnecting, lost, finished),
#: and ``starting`` (:data:`~har_stream.serve.health.STARTING`).
ERROR, STOPPED = "error", "stopped"
#: Source counters that health() adds up over every source the camera opened.
#: The host name this process reports for its cameras.
HOSTNAME = socket.gethostname()
SOURCE_COUNTERS = ("frames_in", "frames_dropped", "reconnects", "outages", "decode_errors")


class AlertPublisher(Protocol):
    """Where a camera worker sends alerts and clips: the site's hub, or a cluster actor's outbox."""

    def publish_alert(self, event: AlertEvent, snapshot: str | None = None) -> None: ...

    def clip_ready(self, alert_ids: list[str], clip: str) -> None: ...


class CameraWorker:
    """Runs :class:`~har_stream.pipeline.Pipeline` for one camera and publishes frames, alerts and health.

    The :class:`~har_stream.serve.health.CameraHandle` of a camera in this process.

    A source that cannot be opened or fails is retried every ``restart_delay_s`` seconds; a file that
    ends (without ``source.loop``) leaves the camera ``finished``. Model loading errors are final
    (status ``error``).
    """

    def __init__(
        self,
        config: HarStreamConfig,
        media: MediaConfig,
        hub: AlertPublisher,
        restart_delay_s: float = 5.0,
    ) -> None:
        self.config = config
        self.name = config.camera
        self.media = media
        self.hub = hub
        self.restart_delay_s = restart_delay_s
        self.live = LatestFrame()
        self.media_root = Path(media.folder).resolve()
        self._snapshots = SnapshotSink(self.media_root / "snapshots" / _folder_name(self.name))
        self._clips: ClipRecorder | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._state = STARTING
        self._error: str | None = None
        self._source: FrameSource | None = None
        self._pipeline: Any = None
        self._frames = 0
        self._active_alerts = 0
        self._people: int | None = None
        self._size: tuple[int, int] | None = None
        self._times: collections.deque[float] = collections.deque(maxlen=30)
        self._captured_at: float | None = None  # time.monotonic() when the newest processed frame was decoded
        self._past: collections.Counter[str] = collections.Counter()  # counters of the sources already closed
        self._stages: dict[str, list[float]] = {}  # stage -> [frames, seconds in total]
        # Line crossings: the current run's (record.line_counts) on top of those of the runs already ended
        self._lines_past: collections.Counter[tuple[str, str]] = collections.Counter()
        self._lines_run: dict[str, dict[str, int]] = {}
        self._occupancy: dict[str, int] = {}  # zone -> people on the newest frame
        self._thread = threading.Thread(target=self._run, name=f"camera-{self.name}", daemon=True)

    # -- control -------------------------------------------------------------------------------------
    def start(self) -> CameraWorker:
        """Start loading models and processing."""
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop processing; outputs and open alerts are finalised by the pipeline."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        while self._thread.is_alive() and time.monotonic() < deadline:
            if self._pipeline is not None:
                self._pipeline.request_stop()  # repeated: the pipeline may still be loading models at first
            self._thread.join(0.2)
        if self._thread.is_alive():
            log.warning("camera %s did not stop within %.0fs", self.name, timeout)
        with self._lock:
            self._state = STOPPED

    # -- health --------------------------------------------------------------------------------------
    def health(self) -> CameraHealth:
        """Status and counters for the dashboard, API and MQTT (counters run across reconnections and reopens)."""
        with self._lock:
            state, error, source = self._state, self._error, self._source
            frames, active, size, people = self._frames, self._active_alerts, self._size, self._people
            times = list(self._times)
            captured_at, past = self._captured_at, self._past.copy()
            lines = self._lines_past.copy()
            for line, counts in self._lines_run.items():
                lines.update({(line, direction): n for direction, n in counts.items()})
            occupancy = dict(self._occupancy)
        counters = source.counters() if source is not None else None
        if counters is not None:
            for key in SOURCE_COUNTERS:
                past[key] += getattr(counters, key)
        status = counters.status if counters is not None and state == "running" else state
        now = time.monotonic()
        fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) >= 2 and times[-1] > times[0] else 0.0
        if times and now - times[-1] > 5.0:
            fps = 0.0
        return CameraHealth(
            name=self.name,
            status=status,
            connected=status == "connected",
            source=redact(str(self.config.source.uri)) if self.config.source.uri is not None else None,
            fps_in=counters.fps_in if counters is not None else 0.0,
            fps_processed=round(fps, 2),
            frames_in=past["frames_in"],
            frames_processed=frames,
            frames_dropped=past["frames_dropped"],
            reconnects=past["reconnects"],
            outages=past["outages"],
            decode_errors=past["decode_errors"],
            frame_age_s=round(now - captured_at, 3) if captured_at is not None else None,
            active_alerts=active,
            people=people,
            width=size[0] if size else None,
            height=size[1] if size else None,
            last_frame_at=self.live.updated_at,
            error=error,
            line_counts=[
                LineCount(line=line.name, in_count=lines[line.name, "in"], out_count=lines[line.name, "out"])
                for line in self.config.lines
            ],
            zone_occupancy=[ZoneOccupancy(zone=z.name, people=occupancy.get(z.name, 0)) for z in self.config.zones],
            node=LOCAL_NODE,
            host=HOSTNAME,
        )

    def stage_totals(self) -> dict[str, tuple[int, float]]:
        """Per pipeline stage (decode, detect, track, classify, ...): frames timed and seconds spent in total."""
        with self._lock:
            return {stage: (int(n), total) for stage, (n, total) in self._stages.items()}

    # -- worker thread -------------------------------------------------------------------------------
    def _set(self, state: str, error: str | None = None) -> None:
        with self._lock:
            self._state = state
            self._error = error

    def _run(self) -> None:
        from har_stream.pipeline import Pipeline

        try:
            self._pipeline = Pipeline(self.config)
        except Exception as exc:  # weights missing, bad model: nothing to retry
            log.error("camera %s: cannot load models: %s", self.name, exc)
            self._set(ERROR, f"cannot load models: {exc}")
            return
        uri = self.config.source.uri
        while not self._stop.is_set():
            try:
                if uri is None:
                    raise SourceError("no source.uri configured for this camera")
                source = open_source(uri, self.config.source)
            except SourceError as exc:
                log.error("camera %s: %s; retrying in %.0fs", self.name, exc, self.restart_delay_s)
                self._set(ERROR, str(exc))
                self._stop.wait(self.restart_delay_s)
                continue
            with self._lock:
                self._source = source
                self._state, self._error = "running", None
            fps = source.info.fps or 25.0
            clips_folder = self.media_root / "clips" / _folder_name(self.name)
            self._clips = (
                ClipRecorder(clips_folder, self.media.clip_pre_s, self.media.clip_post_s, fps, self._clip_ready)
                if self.media.clips
                else None
            )
            try:
                result = self._pipeline.run(source, on_frame=self._on_frame, on_closed_alerts=self._on_closed_alerts)
            except Exception as exc:  # e.g. a zone that does not fit the frame: reported, then retried
                log.exception("camera %s failed", self.name)
                result = None
                error = f"{type(exc).__name__}: {exc}"
            else:
                error = result.error
            finally:
                if self._clips is not None:
                    self._clips.close()
            final = source.counters()
            with self._lock:
                self._source = None
                self._active_alerts = 0
                self._people = None  # unknown until the next source delivers frames
                for line, counts in self._lines_run.items():  # a new run counts from 0: keep this one's counts
                    self._lines_past.update({(line, direction): n for direction, n in counts.items()})
                self._lines_run, self._occupancy = {}, {}
                for key in SOURCE_COUNTERS:
                    self._past[key] += getattr(final, key)
            if self._stop.is_set():
                break
            if error:
                self._set(ERROR, error)
                self._stop.wait(self.restart_delay_s)
                continue
            self._set("finished")
            log.info("camera %s: source ended after %d frames", self.name, result.summary.frames if result else 0)
            return
        self._set(STOPPED)

    def _relative(self, path: str | None) -> str | None:
        if path is None:
            return None
        try:
            return Path(path).resolve().relative_to(self.media_root).as_posix()
        except ValueError:
            return None

    def _on_frame(self, record: FrameRecord) -> None:
        if self._stop.is_set() and self._pipeline is not None:
            self._pipeline.request_stop()
        started = [e for e in record.alerts if e.type == ALERT_START]
        if started:
            self._snapshots.write(record)  # sets event.snapshot
        jpeg = encode_jpeg(record.image, self.media.live_max_width, self.media.jpeg_quality)
        self.live.put(jpeg)
        if self._clips is not None:
            self._clips.add(record.timestamp, jpeg, [e.alert_id for e in started])
        for event in record.alerts:
            self.hub.publish_alert(event, self._relative(event.snapshot) if event.type == ALERT_START else None)
        with self._lock:
            self._frames += 1
            self._active_alerts = record.active_alerts
            self._people = len(record.detections)
            self._size = (record.width, record.height)
            self._times.append(time.monotonic())
            self._captured_at = record.captured_at
            self._lines_run, self._occupancy = record.line_counts, record.zone_occupancy
            for stage, ms in record.timings.items():
                totals = self._stages.setdefault(stage, [0, 0.0])
                totals[0] += 1
                totals[1] += ms / 1000

    def _on_closed_alerts(self, events: list[AlertEvent]) -> None:
        for event in events:
            self.hub.publish_alert(event)

    def _clip_ready(self, alert_ids: list[str], path: Path) -> None:
        relative = self._relative(str(path))
        if relative is not None:
            self.hub.clip_ready(alert_ids, relative)


def _folder_name(camera: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in camera)
