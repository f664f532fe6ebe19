"""Annotated video export: H.264 in a fragmented MP4 that browsers play, encoded on its own thread.

Fragmented MP4 (a fragment every keyframe, every ``gop_s`` seconds) stays playable up to the last
fragment even if the process is killed; a normal close finalises it completely.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from har_stream.frame import FrameRecord

log = logging.getLogger(__name__)

MS = Fraction(1, 1000)


class VideoExportError(RuntimeError):
    """The export file cannot be written."""


class VideoExportSink:
    """Writes each rendered frame to ``path``; the encoder runs on a worker thread so it overlaps inference."""

    def __init__(
        self,
        path: str | Path,
        fps: float = 25.0,
        crf: int = 23,
        preset: str = "ultrafast",
        gop_s: float = 2.0,
        queue_size: int = 8,
    ) -> None:
        self.path = Path(path)
        self.fps = fps
        self.crf = crf
        self.preset = preset
        self.gop = max(1, round(gop_s * fps))
        self.frames_written = 0
        self.encode_ms: list[float] = []  # per frame, measured on the encoder thread
        self._queue: queue.Queue[tuple[np.ndarray, float] | None] = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._container: av.container.OutputContainer | None = None
        self._stream: av.video.stream.VideoStream | None = None
        self._size: tuple[int, int] | None = None
        self._first_time: float | None = None
        self._last_pts = -1
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise VideoExportError(f"cannot create folder for {self.path}: {exc}") from None

    def _open(self, width: int, height: int) -> None:
        try:
            container = av.open(
                str(self.path), "w", format="mp4", options={"movflags": "+frag_keyframe+empty_moov+default_base_moof"}
            )
        except (av.FFmpegError, OSError) as exc:
            raise VideoExportError(f"cannot write {self.path}: {exc}") from None
        stream = container.add_stream(
            "libx264",
            rate=Fraction(self.fps).limit_denominator(1000),
            options={"crf": str(self.crf), "preset": self.preset, "g": str(self.gop), "bf": "0"},
        )
        # yuv420p needs even sizes; odd frames are padded by one pixel.
        stream.width, stream.height = width + width % 2, height + height % 2
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = MS
        self._container, self._stream, self._size = container, stream, (width, height)

    def _encode(self, image: np.ndarray, timestamp: float) -> None:
        height, width = image.shape[:2]
        if self._container is None:
            self._open(width, height)
        assert self._stream is not None and self._container is not None and self._size is not None
        if (width, height) != self._size:
            image = cv2.resize(image, self._size)  # the export keeps the size of its first frame
            width, height = self._size
        if width % 2 or height % 2:
            image = np.pad(image, ((0, height % 2), (0, width % 2), (0, 0)))
        if self._first_time is None:
            self._first_time = timestamp
        pts = max(self._last_pts + 1, round((timestamp - self._first_time) * 1000))
        self._last_pts = pts
        # OpenCV's BGR->I420 costs a fifth of swscale's conversion inside the encoder.
        frame = av.VideoFrame.from_ndarray(cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420), format="yuv420p")
        frame.pts, frame.time_base = pts, MS
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames_written += 1

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._error is not None:
                continue  # keep draining so the producer never blocks
            try:
                started = time.perf_counter()
                self._encode(*item)
                self.encode_ms.append((time.perf_counter() - started) * 1000)
            except BaseException as exc:
                self._error = exc
                log.error("video export to %s failed: %s", self.path, exc)

    def write(self, record: FrameRecord) -> None:
        """Queue the rendered frame (waits if the encoder is behind: the export never drops frames)."""
        if self._error is not None:
            raise VideoExportError(f"video export to {self.path} failed: {self._error}") from self._error
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="video-export", daemon=True)
            self._thread.start()
        self._queue.put((record.image, record.timestamp))

    def close(self) -> None:
        """Encode what is queued, flush the encoder and finalise the file."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        if self._container is not None:
            try:
                assert self._stream is not None
                for packet in self._stream.encode():
                    self._container.mux(packet)
            finally:
                self._container.close()
                self._container = None
        if self._error is not None:
            raise VideoExportError(f"video export to {self.path} failed: {self._error}") from self._error
