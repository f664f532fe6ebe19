"""Local cameras (``--source 0``) read with OpenCV."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import cv2

from har_stream.config.schema import SourceConfig
from har_stream.sources.base import FrameSource, RawFrame, SourceError, SourceInfo


@contextlib.contextmanager
def quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's own log while a camera is opened (a missing one prints a screenful per attempt)."""
    previous = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(previous)


def video_devices() -> list[int]:
    """Indices of the local cameras the OS lists (Linux ``/dev/video*``; empty elsewhere)."""
    found = (p.name.removeprefix("video") for p in Path("/dev").glob("video*"))
    return sorted(int(n) for n in found if n.isdigit())


def probe_webcam(index: int) -> None:
    """Check once, quietly, that camera ``index`` exists; raise :class:`SourceError` saying which ones do."""
    if sys.platform.startswith("linux"):
        if Path(f"/dev/video{index}").exists():
            return  # it exists; a busy camera is retried by the reader
        present = video_devices()
        listed = ", ".join(map(str, present)) if present else "none: no /dev/video* device"
        raise SourceError(f"camera {index} not found (cameras on this machine: {listed})")
    with quiet_opencv():
        capture = cv2.VideoCapture(index)
        opened = capture.isOpened()
        capture.release()
    if not opened:
        raise SourceError(f"camera {index} cannot be opened (no such device, or it is busy)")


def read_webcam(index: int, config: SourceConfig) -> Iterator[RawFrame]:
    """Open camera ``index`` and yield frames until a read fails (the caller reconnects)."""
    with quiet_opencv():
        capture = cv2.VideoCapture(index)
    try:
        if not capture.isOpened():
            raise OSError(f"camera {index} cannot be opened (no such device, or it is busy)")
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        last_frame = time.monotonic()
        while True:
            ok, image = capture.read()
            if not ok or image is None:
                if time.monotonic() - last_frame > config.read_timeout_s:
                    raise TimeoutError(f"camera {index} gave no frame for {config.read_timeout_s}s")
                time.sleep(0.01)
                continue
            last_frame = time.monotonic()
            yield RawFrame(image, None)
    finally:
        capture.release()


def open_webcam(index: int, config: SourceConfig) -> FrameSource:
    """A live :class:`FrameSource` for a local camera; it reconnects on failure.

    A camera that does not exist at all is refused at once (:class:`SourceError`) rather than retried.
    """
    probe_webcam(index)
    return FrameSource(
        info=SourceInfo(name=f"camera{index}", live=True),
        reader=lambda: read_webcam(index, config),
        queue_size=config.queue_size,
        reconnect=config.reconnect,
    )
