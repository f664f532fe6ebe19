"""A frame source: a reader thread that decodes frames into a bounded queue, and the health it reports.

Files lose no frame (the reader waits for room). Live sources keep only the newest frames: when the queue
is full the oldest frame is dropped and counted, so processing never lags behind the camera. A live
source that fails or stalls is reopened with capped exponential backoff.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from har_stream.config.schema import ReconnectConfig
from har_stream.stats import SourceCounters

log = logging.getLogger(__name__)


class SourceError(RuntimeError):
    """A source cannot be opened or has failed for good; the message says which and why."""


class StreamFinished(Exception):
    """Raised by a live reader whose stream has ended for good (e.g. a file replayed once): no reconnect."""


class SourceLostError(SourceError):
    """A live source stayed unreachable for longer than the configured give-up time."""


class CameraStatus(StrEnum):
    """Connection state of a source, as reported in health events."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    LOST = "lost"
    FINISHED = "finished"


#: Statuses of a source that is down (an outage lasts from entering one of them to the next connection).
_DOWN = frozenset({CameraStatus.RECONNECTING, CameraStatus.LOST})


@dataclass(frozen=True)
class RawFrame:
    """A decoded frame as a reader yields it: BGR pixels and its media time in seconds (None if unknown)."""

    image: np.ndarray
    media_time: float | None
    decode_ms: float = 0.0  # time spent decoding and converting this frame, when the reader measures it


@dataclass(frozen=True)
class CapturedFrame:
    """A frame taken off the source queue, with its place and times."""

    image: np.ndarray
    index: int  # frames read from the source so far (dropped frames leave gaps)
    timestamp: float  # media seconds (files) or wall-clock epoch seconds (live)
    wall_time: float  # epoch seconds
    captured_at: float  # time.monotonic() when decoded
    decode_ms: float = 0.0


@dataclass(frozen=True)
class HealthEvent:
    """A change of connection state, or a problem worth logging (e.g. undecodable data)."""

    status: CameraStatus
    wall_time: float
    detail: str = ""
    attempt: int = 0
    retry_in_s: float | None = None  # reconnecting: the backoff delay before the next attempt


@dataclass
class SourceStats:
    """Counters since the source was opened."""

    frames_in: int = 0
    frames_dropped: int = 0
    reconnects: int = 0  # reconnection attempts
    outages: int = 0  # times the source went from connecting or connected to reconnecting or lost
    decode_errors: int = 0
    fps_in: float = 0.0


#: Opens the underlying stream and yields its frames; raising or returning ends one connection.
FrameReader = Callable[[], Iterator[RawFrame]]


@dataclass
class SourceInfo:
    """What is known about a source once it is opened."""

    name: str
    live: bool
    fps: float | None = None
    frame_count: int | None = None
    width: int | None = None
    height: int | None = None


@dataclass
class FrameSource:
    """Runs ``reader`` on a thread and hands out :class:`CapturedFrame` objects in order.

    For live sources, ``reader`` is called again after a failure or end (reconnect); for files and folders
    it runs once.
    """

    info: SourceInfo
    reader: FrameReader
    queue_size: int = 4
    reconnect: ReconnectConfig = field(default_factory=ReconnectConfig)
    start_wall_time: float | None = None  # files: wall-clock time of media time 0
    problems: list[str] = field(default_factory=list)  # non-fatal problems, e.g. corrupt data skipped

    def __post_init__(self) -> None:
        self.stats = SourceStats()
        self.status = CameraStatus.CONNECTING
        self._queue: queue.Queue[CapturedFrame | None] = queue.Queue(maxsize=self.queue_size)
        self._events: collections.deque[HealthEvent] = collections.deque(maxlen=1000)
        self._stop = threading.Event()
        self._failure: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._fps_window: collections.deque[float] = collections.deque(maxlen=64)
        if self.start_wall_time is None:
            self.start_wall_time = time.time()

    # -- consumer side -------------------------------------------------------------------------------
    def start(self) -> FrameSource:
        """Start the reader thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"source-{self.info.name}", daemon=True)
            self._thread.start()
        return self

    def read(self, timeout: float = 0.5) -> CapturedFrame | None:
        """The next frame, or None if none arrived within ``timeout`` seconds.

        Raises :class:`StopIteration` once a finite source is exhausted, and :class:`SourceError` when a
        source failed for good (after every frame read before the failure was handed out).
        """
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if item is None:
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(None)  # keep the end marker for later calls
            if self._failure is not None:
                raise self._failure
            raise StopIteration
        return item

    def __iter__(self) -> Iterator[CapturedFrame]:
        """Iterate over frames until the source ends (blocking)."""
        self.start()
        while True:
            try:
                frame = self.read(timeout=0.5)
            except StopIteration:
                return
            if frame is not None:
                yield frame

    def drain_events(self) -> list[HealthEvent]:
        """Health events since the last call."""
        events = []
        while self._events:
            events.append(self._events.popleft())
        return events

    def counters(self) -> SourceCounters:
        """A snapshot of status and counters: what the run summary, health records and camera health report."""
        with self._lock:
            return SourceCounters(
                status=self.status.value,
                frames_in=self.stats.frames_in,
                frames_dropped=self.stats.frames_dropped,
                reconnects=self.stats.reconnects,
                outages=self.stats.outages,
                decode_errors=self.stats.decode_errors,
                fps_in=round(self.stats.fps_in, 2),
            )

    def health(self) -> dict[str, object]:
        """:meth:`counters` as a plain dict (for scripts that read it so)."""
        return self.counters().model_dump()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the reader thread and wait for it (bounded by the read timeout of the stream)."""
        self._stop.set()
        # Unblock a file reader waiting for room.
        with contextlib.suppress(queue.Empty):
            while True:
                self._queue.get_nowait()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        """Whether the reader thread is still running."""
        return self._thread is not None and self._thread.is_alive()

    # -- reader thread -------------------------------------------------------------------------------
    def _set_status(
        self, status: CameraStatus, detail: str = "", attempt: int = 0, retry_in_s: float | None = None
    ) -> None:
        with self._lock:
            changed = status != self.status
            if changed and status in _DOWN and self.status not in _DOWN:
                self.stats.outages += 1
            self.status = status
        if changed or detail:
            self._events.append(HealthEvent(status, time.time(), detail, attempt, retry_in_s))
            level = logging.WARNING if status in (CameraStatus.RECONNECTING, CameraStatus.LOST) else logging.INFO
            log.log(level, "source %s: %s%s", self.info.name, status.value, f" ({detail})" if detail else "")

    def report_problem(self, detail: str) -> None:
        """Record a non-fatal problem (called by readers, e.g. for undecodable packets)."""
        with self._lock:
            self.stats.decode_errors += 1
            first = len(self.problems) < 20
            if first:
                self.problems.append(detail)
        if first:
            log.warning("source %s: %s", self.info.name, detail)
            self._events.append(HealthEvent(self.status, time.time(), detail))

    def _run(self) -> None:
        try:
            if self.info.live:
                self._run_live()
            else:
                self._run_once()
        except BaseException as exc:  # handed to the consumer, never lost in the thread
            self._failure = exc if isinstance(exc, SourceError) else SourceError(f"{self.info.name}: {exc}")
        finally:
            if self.status is not CameraStatus.LOST:
                self._set_status(CameraStatus.FINISHED)
            self._put_end()

    def _put_end(self) -> None:
        while True:
            try:
                self._queue.put(None, timeout=0.1)
                return
            except queue.Full:
                if self._stop.is_set():
                    with contextlib.suppress(queue.Empty):
                        self._queue.get_nowait()

    def _run_once(self) -> None:
        self._set_status(CameraStatus.CONNECTED)
        for raw in self.reader():
            if self._stop.is_set():
                return
            frame = self._capture(raw)
            while not self._stop.is_set():
                try:
                    self._queue.put(frame, timeout=0.1)
                    break
                except queue.Full:
                    continue

    def _run_live(self) -> None:
        attempt = 0
        last_frame_at = time.monotonic()
        delay = self.reconnect.initial_delay_s
        while not self._stop.is_set():
            got_frames = False
            try:
                for raw in self.reader():
                    if self._stop.is_set():
                        return
                    if not got_frames:
                        got_frames = True
                        attempt = 0
                        delay = self.reconnect.initial_delay_s
                        self._set_status(CameraStatus.CONNECTED)
                    last_frame_at = time.monotonic()
                    self._offer_newest(self._capture(raw))
                reason = "stream ended"
            except StreamFinished:
                return
            except Exception as exc:  # any reader failure leads to a reconnect
                reason = f"{type(exc).__name__}: {exc}".strip()
            if self._stop.is_set():
                return
            give_up = self.reconnect.give_up_after_s
            down_for = time.monotonic() - last_frame_at
            if give_up is not None and down_for >= give_up:
                self._set_status(CameraStatus.LOST, f"no frames for {down_for:.1f}s; last error: {reason}")
                raise SourceLostError(
                    f"camera {self.info.name!r} lost: no frames for {down_for:.1f}s "
                    f"(give_up_after_s={give_up}); last error: {reason}"
                )
            attempt += 1
            with self._lock:
                self.stats.reconnects += 1
            wait = delay if give_up is None else min(delay, max(0.0, give_up - down_for))
            self._set_status(CameraStatus.RECONNECTING, f"{reason}; retry {attempt} in {wait:.1f}s", attempt, wait)
            if self._stop.wait(wait):
                return
            delay = min(delay * 2, self.reconnect.max_delay_s)

    def _capture(self, raw: RawFrame) -> CapturedFrame:
        now_mono = time.monotonic()
        now_wall = time.time()
        with self._lock:
            index = self.stats.frames_in
            self.stats.frames_in += 1
            self._fps_window.append(now_mono)
            if len(self._fps_window) >= 2:
                span = self._fps_window[-1] - self._fps_window[0]
                self.stats.fps_in = (len(self._fps_window) - 1) / span if span > 0 else 0.0
        if self.info.live:
            timestamp = wall = now_wall
        else:
            fps = self.info.fps or 25.0
            timestamp = raw.media_time if raw.media_time is not None else index / fps
            wall = float(self.start_wall_time or 0.0) + timestamp
        return CapturedFrame(raw.image, index, timestamp, wall, now_mono, raw.decode_ms)

    def _offer_newest(self, frame: CapturedFrame) -> None:
        """Queue a live frame, dropping the oldest queued one if there is no room."""
        while True:
            try:
                self._queue.put_nowait(frame)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    continue
                with self._lock:
                    self.stats.frames_dropped += 1
