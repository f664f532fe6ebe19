"""Privacy masks: the configured regions blacked out or blurred in the frame every output is made from.

The stage runs after the rules and before the overlay, so detection, tracking, classification, the temporal and
fall stages and the rules have seen the real pixels, while the export, snapshots, alert clips, the live view and
the local window (all made from ``record.image`` after the overlay) only ever see masked ones. The overlay is
drawn on top: a person behind a mask keeps their box and label, so the operator knows someone is there without
seeing who.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from har_stream.config.schema import PrivacyConfig
from har_stream.frame import FrameRecord
from har_stream.rules.zones import frame_polygon

#: Blur cell size as a fraction of the frame's long side (1280 px wide: cells of about 43 px).
BLUR_CELL_FRACTION = 1 / 30


class PrivacyMask:
    """Pipeline stage: hides ``config.masks`` in ``record.image``, in place, in ``config.style``."""

    def __init__(self, config: PrivacyConfig) -> None:
        self.config = config
        self._size: tuple[int, int] | None = None
        self._box: tuple[int, int, int, int] = (0, 0, 0, 0)  # x0, y0, x1, y1 of the union of the masks
        self._inside = np.zeros((0, 0), dtype=bool)  # mask pixels within that box

    @property
    def enabled(self) -> bool:
        """Whether there is anything to hide."""
        return bool(self.config.masks)

    def __call__(self, record: FrameRecord) -> FrameRecord:
        """Mask ``record.image`` in place and return the record."""
        if not self.enabled:
            return record
        image = record.image
        self._fit(image.shape[1], image.shape[0])
        x0, y0, x1, y1 = self._box
        if x1 <= x0 or y1 <= y0:
            return record
        region = image[y0:y1, x0:x1]
        if self.config.style == "black":
            region[self._inside] = 0
        else:
            region[self._inside] = _coarse_blur(region, max(image.shape[:2]))[self._inside]
        return record

    def pixels(self, width: int, height: int) -> np.ndarray:
        """The masked pixels of a ``width`` x ``height`` frame, as a boolean (height, width) array."""
        self._fit(width, height)
        full = np.zeros((height, width), dtype=bool)
        x0, y0, x1, y1 = self._box
        full[y0:y1, x0:x1] = self._inside
        return full

    def _fit(self, width: int, height: int) -> None:
        """Scale the polygons to this frame size (once per size; raises ZoneError naming a mask that misses it)."""
        if self._size == (width, height):
            return
        canvas = np.zeros((height, width), dtype=np.uint8)
        for i, mask in enumerate(self.config.masks):
            polygon = frame_polygon(mask, width, height, f"privacy.masks[{i}]")
            cv2.fillPoly(canvas, [polygon.astype(np.int32).reshape(-1, 1, 2)], 255)
        x, y, w, h = cv2.boundingRect(canvas)
        self._box = (x, y, x + w, y + h)
        self._inside = canvas[y : y + h, x : x + w] > 0
        self._size = (width, height)


def _coarse_blur(region: np.ndarray, long_side: int) -> np.ndarray:
    """``region`` averaged over cells of ``BLUR_CELL_FRACTION`` of ``long_side`` and smoothly scaled back up."""
    cell = max(8, round(long_side * BLUR_CELL_FRACTION))
    height, width = region.shape[:2]
    small = cv2.resize(
        region, (max(1, math.ceil(width / cell)), max(1, math.ceil(height / cell))), interpolation=cv2.INTER_AREA
    )
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
