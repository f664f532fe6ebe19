"""Local cameras (``--source 0``) read with OpenCV."""

from __future__ import annotations

import time
from collections.abc import Iterator

import cv2

from har_stream.config.schema import SourceConfig
from har_stream.sources.base import FrameSource, RawFrame, SourceInfo


def read_webcam(index: int, config: SourceConfig) -> Iterator[RawFrame]:
    """Open camera ``index`` and yield frames until a read fails (the caller reconnects)."""
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
    """A live :class:`FrameSource` for a local camera; it reconnects on failure."""
    return FrameSource(
        info=SourceInfo(name=f"camera{index}", live=True),
        reader=lambda: read_webcam(index, config),
        queue_size=config.queue_size,
        reconnect=config.reconnect,
    )
