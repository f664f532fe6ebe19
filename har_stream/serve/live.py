"""The newest annotated frame of a camera as JPEG, shared by every live viewer."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np


def encode_jpeg(image: np.ndarray, max_width: int, quality: int) -> bytes:
    """``image`` (BGR) scaled down to at most ``max_width`` pixels wide and encoded as JPEG."""
    height, width = image.shape[:2]
    if width > max_width:
        image = cv2.resize(image, (max_width, max(1, round(height * max_width / width))), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return data.tobytes()


class LatestFrame:
    """Holds one JPEG and a sequence number that grows with every new frame (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jpeg: bytes | None = None
        self._seq = 0
        self._at: float | None = None

    def put(self, jpeg: bytes) -> None:
        """Replace the frame."""
        with self._lock:
            self._jpeg = jpeg
            self._seq += 1
            self._at = time.time()

    def get(self) -> tuple[int, bytes | None]:
        """(sequence number, JPEG); (0, None) before the first frame."""
        with self._lock:
            return self._seq, self._jpeg

    @property
    def updated_at(self) -> float | None:
        """Epoch seconds of the newest frame."""
        with self._lock:
            return self._at
