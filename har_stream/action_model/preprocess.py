"""Turn an image of any shape into the square model input, and normalise it per backbone (numpy only).

The same functions serve training and inference, in Keras and on ONNX Runtime, without importing TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

#: Caffe-style mean (BGR) that VGG16's ImageNet and HED weights both expect subtracted.
VGG16_BGR_MEAN = np.array([103.939, 116.779, 123.68], dtype=np.float32)
#: Normalisation of the TensorFlow Lite checkpoints EfficientNet-Lite's weights come from (RGB, 0..255 input).
LITE_MEAN_RGB = 127.0
LITE_STD_RGB = 128.0


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


def vgg16_preprocess_bgr(crops: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) BGR uint8 → float32 BGR minus the ImageNet mean, as VGG16 (Caffe weights) expects."""
    return crops.astype(np.float32) - VGG16_BGR_MEAN


def lite_preprocess_bgr(crops: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) BGR uint8 → float32 RGB ``(x - 127) / 128``, as EfficientNet-Lite expects."""
    crops = np.asarray(crops)
    if crops.ndim != 4 or crops.shape[-1] != 3:
        raise ValueError(f"expected (N, H, W, 3) BGR crops, got shape {crops.shape}")
    return (crops[..., ::-1].astype(np.float32) - LITE_MEAN_RGB) / LITE_STD_RGB


def preprocessor_for(backbone: str) -> Callable[[np.ndarray], np.ndarray]:
    """The input normalisation of a backbone by name (``vgg16``, ``efficientnet_lite0``, ...)."""
    if backbone == "vgg16":
        return vgg16_preprocess_bgr
    if backbone.startswith("efficientnet_lite"):
        return lite_preprocess_bgr
    raise ValueError(f"unknown backbone {backbone!r}")
