"""Short annotated clips around alerts: a ring buffer of recent JPEG frames plus the frames after the alert.

Frames are kept as the live view's JPEGs (small), so a few seconds of history cost a few megabytes per
camera. When an alert starts, the buffered frames (``pre_s`` media seconds) open a clip that collects
``post_s`` more seconds; alerts that start while a clip is open share it. A writer thread encodes each clip to
browser-playable H.264 MP4 (the existing :class:`VideoExportSink`) while it is being collected, so a clip is
ready soon after its last frame, and closing the recorder (at shutdown) only has the last few frames left.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from har_stream.frame import FrameRecord
from har_stream.sinks.video import VideoExportSink

log = logging.getLogger(__name__)

MAX_CLIP_FRAMES = 600
EPSILON_S = 1e-6  # media times are floats: 0.8 + 0.4 must reach 1.2


@dataclass
class _Clip:
    alert_ids: list[str]
    end: float  # media time after which the clip is complete
    frames: collections.deque[tuple[float, bytes]] = field(default_factory=collections.deque)  # not yet encoded
    count: int = 0  # frames added so far
    complete: bool = False


class ClipRecorder:
    """Collects frames per camera and writes ``<folder>/<first alert id>.mp4``.

    ``on_ready(alert_ids, path)`` is called on the writer thread once a clip file is complete.
    """

    def __init__(
        self,
        folder: Path,
        pre_s: float,
        post_s: float,
        fps: float,
        on_ready: Callable[[list[str], Path], None],
        max_queued: int = 8,
    ) -> None:
        self.folder = Path(folder)
        self.pre_s = pre_s
        self.post_s = post_s
        self.fps = fps
        self.on_ready = on_ready
        self.written = 0
        self.skipped = 0
        self.frames_encoded = 0  # clip frames handed to the encoder so far (it runs at most a few frames behind)
        self._ring: collections.deque[tuple[float, bytes]] = collections.deque(maxlen=MAX_CLIP_FRAMES)
        self._open: _Clip | None = None
        self._changed = threading.Condition()  # guards the frames, ids and completeness of queued clips
        self._queue: queue.Queue[_Clip | None] = queue.Queue(maxsize=max_queued)
        self._thread = threading.Thread(target=self._run, name=f"clips-{self.folder.name}", daemon=True)
        self._thread.start()

    def add(self, timestamp: float, jpeg: bytes, started: list[str]) -> None:
        """Add a frame (media time ``timestamp``); ``started`` lists the alert ids that start on it."""
        self._ring.append((timestamp, jpeg))
        while self._ring and self._ring[0][0] < timestamp - self.pre_s - EPSILON_S:
            self._ring.popleft()
        clip = self._open
        if clip is not None:
            with self._changed:
                clip.frames.append((timestamp, jpeg))
                clip.count += 1
                clip.alert_ids += started
                self._changed.notify_all()
        elif started:
            clip = _Clip(list(started), timestamp + self.post_s, collections.deque(self._ring), len(self._ring))
            try:
                self._queue.put_nowait(clip)  # the writer starts encoding it now
            except queue.Full:
                self.skipped += 1
                log.warning("clip writer behind: no clip for alerts %s", ", ".join(clip.alert_ids))
                return
            self._open = clip
        if clip is not None and (timestamp >= clip.end - EPSILON_S or clip.count >= MAX_CLIP_FRAMES):
            self._finish()

    def _finish(self) -> None:
        clip, self._open = self._open, None
        if clip is None:
            return
        with self._changed:
            clip.complete = True
            self._changed.notify_all()

    def close(self, timeout: float = 30.0) -> None:
        """Write the open clip with what it has, and wait for the writer."""
        self._finish()
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            clip = self._queue.get()
            if clip is None:
                return
            try:
                path = self._write(clip)
            except Exception as exc:  # a broken clip must not stop later ones
                log.error("writing clip for alerts %s failed: %s", ", ".join(clip.alert_ids), exc)
                continue
            self.written += 1
            with self._changed:
                alert_ids = list(clip.alert_ids)
            try:
                self.on_ready(alert_ids, path)
            except Exception as exc:
                log.error("clip callback failed: %s", exc)

    def _next_frames(self, clip: _Clip) -> list[tuple[float, bytes]] | None:
        """The clip's frames not encoded yet, waiting for some; None once it is complete and all are taken."""
        with self._changed:
            while not clip.frames and not clip.complete:
                self._changed.wait()
            if not clip.frames:
                return None
            frames = list(clip.frames)
            clip.frames.clear()
            return frames

    def _write(self, clip: _Clip) -> Path:
        path = self.folder / f"{clip.alert_ids[0]}.mp4"
        sink = VideoExportSink(path, fps=self.fps, crf=28, preset="veryfast", gop_s=1.0)
        index = 0
        try:
            while (frames := self._next_frames(clip)) is not None:
                for timestamp, jpeg in frames:
                    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
                    if image is None:
                        continue
                    record = FrameRecord(index=index, timestamp=timestamp, wall_time=0.0, captured_at=0.0, image=image)
                    sink.write(record)
                    index += 1
                    self.frames_encoded += 1
        finally:
            sink.close()
        return path
