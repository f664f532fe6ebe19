"""Backbone features computed once per image (and per augmented view) and cached on disk.

Head trials then take seconds instead of re-running the backbone. Images load on a thread pool while
the backbone runs; unreadable images are reported and dropped (their rows are marked in ``kept``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from har_stream.action_model.network import BackboneSpec
from har_stream.action_model.preprocess import square_resize
from har_stream.training.dataset import LabelledImage, load_bgr

log = logging.getLogger(__name__)

#: ``orig``: the image as the pipeline sees it; ``flip``: mirrored; ``jitter``: random crop, colour and flip.
VIEWS = ("orig", "flip", "jitter")


def feature_cache_dir() -> Path:
    """``$HAR_STREAM_FEATURE_CACHE`` or ``~/.cache/har-stream/features``."""
    env = os.environ.get("HAR_STREAM_FEATURE_CACHE")
    if env:
        return Path(env).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "har-stream" / "features"


def make_view(image: np.ndarray, size: int, view: str, seed: int) -> np.ndarray:
    """The square model input for one view of an image (deterministic for a given seed)."""
    if view == "flip":
        image = image[:, ::-1]
    elif view == "jitter":
        rng = np.random.default_rng(seed)
        h, w = image.shape[:2]
        scale = rng.uniform(0.75, 1.0)
        ch, cw = max(1, int(h * scale)), max(1, int(w * scale))
        top, left = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
        image = image[top : top + ch, left : left + cw]
        if rng.random() < 0.5:
            image = image[:, ::-1]
        hsv = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_BGR2HSV).astype(np.float32)
        hsv[..., 1] *= rng.uniform(0.7, 1.3)
        hsv[..., 2] *= rng.uniform(0.7, 1.3)
        image = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2BGR)
    elif view != "orig":
        raise ValueError(f"unknown view {view!r}; choose one of {VIEWS}")
    return square_resize(np.ascontiguousarray(image), size)


@dataclass
class FeatureSet:
    """Features of ``rows`` (one row per image; rows of unreadable images are zeros and ``kept`` False)."""

    features: np.ndarray
    kept: np.ndarray
    rows: list[LabelledImage]

    @property
    def labels(self) -> np.ndarray:
        """Class index per row."""
        return np.array([row.class_index for row in self.rows], dtype=np.int64)


def cache_key(parts: Sequence[object], rows: Sequence[LabelledImage]) -> str:
    """Short hash of ``parts`` and the images (path and size): the file name of a cached result."""
    digest = hashlib.sha1(json.dumps(list(parts), default=str).encode())
    for row in rows:
        digest.update(f"{row.path}:{row.path.stat().st_size}\n".encode())
    return digest.hexdigest()[:20]


def _batches(rows: Sequence[LabelledImage], size: int, view: str, batch: int) -> Iterator[tuple[np.ndarray, list]]:
    def load(index: int) -> np.ndarray | None:
        image = load_bgr(rows[index].path)
        return None if image is None else make_view(image, size, view, seed=index)

    with ThreadPoolExecutor(max_workers=2) as pool:
        starts = range(0, len(rows), batch)
        pending = pool.map(lambda s: [load(i) for i in range(s, min(s + batch, len(rows)))], starts)
        yield from zip(starts, pending, strict=True)  # type: ignore[misc]


def extract_features(
    trunk: Any,
    spec: BackboneSpec,
    weights_tag: str,
    cut: str,
    rows: Sequence[LabelledImage],
    view: str = "orig",
    batch: int = 32,
    cache: bool = True,
) -> FeatureSet:
    """Run ``trunk`` (backbone up to ``cut``) over ``rows`` once, caching float16 features on disk."""
    rows = list(rows)
    key = cache_key([spec.name, spec.input_size, weights_tag, cut, view], rows)
    path = feature_cache_dir() / f"{spec.name}-{cut}-{view}-{key}.npz"
    if cache and path.is_file():
        with np.load(path) as stored:
            log.info("features from cache %s", path)
            return FeatureSet(stored["features"], stored["kept"], rows)
    shape = tuple(int(d) for d in trunk.output.shape[1:])
    features = np.zeros((len(rows), *shape), dtype=np.float16)
    kept = np.ones(len(rows), dtype=bool)
    progress = tqdm(total=len(rows), desc=f"{spec.name} features ({view})", unit="img")
    for start, images in _batches(rows, spec.input_size, view, batch):
        good = [i for i, image in enumerate(images) if image is not None]
        for i, image in enumerate(images):
            if image is None:
                kept[start + i] = False
                log.warning("skipping unreadable image %s", rows[start + i].path)
        if good:
            stack = np.stack([images[i] for i in good])
            out = np.asarray(trunk.predict_on_batch(spec.preprocess(stack)))
            features[[start + i for i in good]] = out.astype(np.float16)
        progress.update(len(images))
    progress.close()
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, features=features, kept=kept)
        tmp.replace(path)
    return FeatureSet(features, kept, rows)
