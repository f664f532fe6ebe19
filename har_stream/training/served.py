"""Training inputs as the pipeline serves them: person crops cut from photos by the pipeline's own detector and
crop function, and augmentation that makes a sharp web photo look like a small, soft, high-angle CCTV person.

Photos with several people are cut around the largest person (the one the photo is about; in interaction
classes like hugging or fighting the padded crop usually holds part of the partner too). Photos where the
detector finds nobody are kept whole (square-resized, as today's whole-image protocol).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
from tqdm import tqdm

from har_stream.action_model.preprocess import square_resize
from har_stream.classification.crops import square_box
from har_stream.training.dataset import LabelledImage, load_bgr
from har_stream.training.features import cache_key, feature_cache_dir

if TYPE_CHECKING:
    from har_stream.detection.detector import PersonDetector

log = logging.getLogger(__name__)


def person_boxes(rows: Sequence[LabelledImage], detector: PersonDetector, cache: bool = True) -> np.ndarray:
    """Per image: the largest detected person's box ``x1, y1, x2, y2``, NaN when nobody was found (cached)."""
    # the weights' content, not only their name: a re-made int8 detector of the same name finds other boxes
    weights = hashlib.sha1(detector.model_path.read_bytes()).hexdigest()[:16]
    key = cache_key(["person-boxes", detector.model_path.name, weights, detector.config.imgsz], rows)
    path = feature_cache_dir() / f"person-boxes-{key}.npy"
    if cache and path.is_file():
        return np.load(path)
    boxes = np.full((len(rows), 4), np.nan, dtype=np.float32)
    for i, row in enumerate(tqdm(rows, desc="finding people in photos", unit="img")):
        image = load_bgr(row.path)
        if image is None:
            continue
        found = detector.detect(image)
        if len(found):
            areas = (found.xyxy[:, 2] - found.xyxy[:, 0]) * (found.xyxy[:, 3] - found.xyxy[:, 1])
            boxes[i] = found.xyxy[int(np.argmax(areas))]
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, boxes)
    return boxes


def served_crop(image: np.ndarray, box: np.ndarray, padding: float, size: int) -> np.ndarray:
    """The crop the classifier stage would cut around ``box`` (the whole image when ``box`` is NaN)."""
    if np.isnan(box).any():
        return square_resize(image, size)
    height, width = image.shape[:2]
    left, top, right, bottom = square_box(box, padding, width, height)
    if right - left < 2 or bottom - top < 2:
        return square_resize(image, size)
    return square_resize(image[top:bottom, left:right], size)


def cctv_degrade(crop: np.ndarray, rng: np.random.Generator, padding: float = 0.15) -> np.ndarray:
    """Make a square person crop look like CCTV: a person 40-150 px tall resampled back up, blur, JPEG
    artefacts, sometimes greyscale, and a high camera angle (the feet end foreshortened)."""
    size = crop.shape[0]
    out = crop
    if rng.random() < 0.7:  # high angle: narrow the bottom edge and squash the height a little
        shrink = rng.uniform(0.0, 0.18) * size
        squash = rng.uniform(0.85, 1.0)
        src = np.float32([[0, 0], [size, 0], [size, size], [0, size]])
        dst = np.float32([[0, 0], [size, 0], [size - shrink, size * squash], [shrink, size * squash]])
        out = cv2.warpPerspective(out, cv2.getPerspectiveTransform(src, dst), (size, size))
    person_px = rng.uniform(40, 150)  # the person fills about 1 / (1 + 2 * padding) of the crop
    small = max(8, round(size * person_px / (size / (1 + 2 * padding))))
    if small < size:
        out = cv2.resize(out, (small, small), interpolation=cv2.INTER_AREA)
        out = cv2.resize(out, (size, size), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.5, 1.5))
    if rng.random() < 0.3:
        out = cv2.cvtColor(cv2.cvtColor(out, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    quality = int(rng.integers(20, 70))
    ok, encoded = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if ok:
        out = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
    return np.ascontiguousarray(out)


def count_found(boxes: np.ndarray) -> int:
    """How many photos have a person box."""
    return int((~np.isnan(boxes[:, 0])).sum())


def read_crop(path: Path, size: int | None = None) -> np.ndarray | None:
    """A harvested crop file (None when unreadable), resized to ``size`` x ``size`` when given.

    Harvested crops are square, cut at ``clips harvest``' crop size (260 px); a model served at another input
    size gets them rescaled to it (``square_resize``), as its trunk would see a crop the pipeline cuts at that
    size."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return image if image is None or size is None else square_resize(image, size)
