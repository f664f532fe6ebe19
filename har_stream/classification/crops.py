"""Cut square, padded person crops out of a frame for the action classifier."""

from __future__ import annotations

import numpy as np

from har_stream.action_model.preprocess import square_resize


def square_box(box: np.ndarray, padding: float, width: int, height: int) -> tuple[int, int, int, int]:
    """The box grown by ``padding`` (fraction of its size), made square around its centre, clipped to the frame."""
    x1, y1, x2, y2 = (float(v) for v in box)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    side = max(x2 - x1, y2 - y1) * (1 + 2 * padding)
    half = side / 2
    left = max(0, round(cx - half))
    top = max(0, round(cy - half))
    right = min(width, round(cx + half))
    bottom = min(height, round(cy + half))
    return left, top, right, bottom


def crop_people(image: np.ndarray, boxes: np.ndarray, padding: float, size: int) -> np.ndarray:
    """Square ``size`` x ``size`` BGR crops, one per box; parts cut off by the frame edge are padded black."""
    height, width = image.shape[:2]
    crops = np.empty((len(boxes), size, size, 3), dtype=np.uint8)
    for i, box in enumerate(boxes):
        left, top, right, bottom = square_box(box, padding, width, height)
        if right <= left or bottom <= top:
            crops[i] = 0
            continue
        crops[i] = square_resize(image[top:bottom, left:right], size)
    return crops
