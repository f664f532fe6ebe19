"""Input and output of exported YOLO models: letterboxed input blob, and raw output to people.

This is what ultralytics' predictor does around the network, done with one OpenCV call each way so the
ONNX Runtime and OpenVINO backends need neither PyTorch nor per-frame tensor conversions.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

PAD_VALUE = 114
STRIDE = 32


@dataclass(frozen=True)
class Letterbox:
    """How a frame was scaled and padded into the network input."""

    scale: float
    left: int
    top: int
    width: int  # network input width
    height: int  # network input height


def letterbox_blob(image: np.ndarray, imgsz: int) -> tuple[np.ndarray, Letterbox]:
    """Resize ``image`` so its longer side is ``imgsz``, pad to a multiple of 32, return an NCHW RGB [0,1] blob.

    The padding is minimal (rectangular inference), as in ultralytics: a 1280x720 frame at 640 becomes 640x384.
    """
    h, w = image.shape[:2]
    scale = min(imgsz / h, imgsz / w)
    new_w, new_h = round(w * scale), round(h * scale)
    width = int(np.ceil(new_w / STRIDE) * STRIDE)
    height = int(np.ceil(new_h / STRIDE) * STRIDE)
    left, top = (width - new_w) // 2, (height - new_h) // 2
    if (new_w, new_h) != (w, h):
        image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    if (new_w, new_h) != (width, height):
        pad = (PAD_VALUE, PAD_VALUE, PAD_VALUE)
        image = cv2.copyMakeBorder(
            image, top, height - new_h - top, left, width - new_w - left, cv2.BORDER_CONSTANT, value=pad
        )
    blob = cv2.dnn.blobFromImage(image, scalefactor=1 / 255.0, swapRB=True)
    return blob, Letterbox(scale, left, top, width, height)


@dataclass(frozen=True)
class People:
    """Detected people in frame pixels."""

    xyxy: np.ndarray  # (N, 4) float32
    confidence: np.ndarray  # (N,) float32
    keypoints: np.ndarray | None  # (N, K, 3) float32 for pose models


def decode_output(
    output: np.ndarray,
    box: Letterbox,
    frame_shape: tuple[int, ...],
    confidence: float,
    iou: float,
    max_detections: int,
    num_classes: int,
    keypoint_shape: tuple[int, int] | None,
    person_class: int = 0,
) -> People:
    """Turn a raw YOLO output ``(1, 4 + classes + K*3, anchors)`` into people: threshold, NMS, unletterbox."""
    predictions = output[0].T  # (anchors, channels)
    scores = predictions[:, 4 + person_class]
    keep = scores > confidence
    if num_classes > 1:
        # Keep an anchor only if "person" is its best class, as class-aware NMS would.
        keep &= np.argmax(predictions[:, 4 : 4 + num_classes], axis=1) == person_class
    predictions, scores = predictions[keep], scores[keep]
    empty_kpts = np.zeros((0, *keypoint_shape), np.float32) if keypoint_shape else None
    if len(predictions) == 0:
        return People(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), empty_kpts)
    cx, cy, w, h = predictions[:, 0], predictions[:, 1], predictions[:, 2], predictions[:, 3]
    xywh = np.stack([cx - w / 2, cy - h / 2, w, h], axis=1)
    chosen = np.asarray(cv2.dnn.NMSBoxes(xywh, scores, confidence, iou, top_k=max_detections), dtype=int).reshape(-1)
    xywh, scores, predictions = xywh[chosen], scores[chosen], predictions[chosen]
    xyxy = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
    xyxy[:, [0, 2]] = ((xyxy[:, [0, 2]] - box.left) / box.scale).clip(0, frame_shape[1])
    xyxy[:, [1, 3]] = ((xyxy[:, [1, 3]] - box.top) / box.scale).clip(0, frame_shape[0])
    keypoints = None
    if keypoint_shape is not None:
        keypoints = predictions[:, 4 + num_classes :].reshape(-1, *keypoint_shape).copy()
        keypoints[..., 0] = (keypoints[..., 0] - box.left) / box.scale
        keypoints[..., 1] = (keypoints[..., 1] - box.top) / box.scale
    return People(xyxy.astype(np.float32), scores.astype(np.float32), keypoints)
