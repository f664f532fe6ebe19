"""Turn an image of any shape into the square model input, the same way for training and inference."""

from __future__ import annotations

import cv2
import numpy as np


def square_resize(image: np.ndarray, size: int, fill: int = 0) -> np.ndarray:
    """Pad ``image`` (H, W, 3) to a square around its centre with ``fill``, then resize to ``size``.

    Keeps the aspect ratio, so a tall person crop and a wide scene photo are both undistorted.
    """
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) image, got shape {image.shape}")
    h, w = image.shape[:2]
    if h == 0 or w == 0:
        raise ValueError(f"cannot resize an empty image of shape {image.shape}")
    side = max(h, w)
    top = (side - h) // 2
    left = (side - w) // 2
    if side != h or side != w:
        image = cv2.copyMakeBorder(
            image, top, side - h - top, left, side - w - left, cv2.BORDER_CONSTANT, value=(fill, fill, fill)
        )
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(image, (size, size), interpolation=interpolation)
