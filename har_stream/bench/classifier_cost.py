"""Cost per person crop of several action classifiers, measured side by side in one process.

Each model is loaded as the pipeline loads it (``classifier.model`` and ``classifier.runtime``), then timed on
the same real person crops cut from a video, in interleaved rounds (model A, model B, A, B, ...) so that load
from other jobs on the machine falls on every model alike. Figures are medians in milliseconds per crop at
batch 1 and batch 8 (the pipeline classifies up to ``classifier.max_per_frame`` crops per frame in one batch),
and each model's ratio to the first one.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from har_stream.action_model.base import ActionModel
from har_stream.classification.model_choice import load_classifier

BATCHES = (1, 8)


def person_crops(video: Path, size: int, count: int = 8) -> np.ndarray:
    """``count`` BGR crops of the people the detector finds in ``video``, cut as the pipeline cuts them
    (``crop_people`` with the default padding and minimum height) at ``size`` px (real content)."""
    from har_stream.classification.crops import crop_people
    from har_stream.config import ClassifierConfig, DetectorConfig
    from har_stream.detection.detector import PersonDetector
    from har_stream.sources.video_file import decode_video

    served = ClassifierConfig()
    detector = PersonDetector(DetectorConfig(imgsz=640))
    crops: list[np.ndarray] = []
    for raw in decode_video(video, lambda _problem: None):
        boxes = detector.detect(raw.image).xyxy
        tall = boxes[(boxes[:, 3] - boxes[:, 1]) >= served.min_box_height]
        crops.extend(crop_people(raw.image, tall, served.crop_padding, size))
        if len(crops) >= count:
            return np.stack(crops[:count])
    if not crops:
        raise ValueError(f"no person found in {video}")
    return np.stack([crops[i % len(crops)] for i in range(count)])


def measure(models: dict[str, ActionModel], crops: np.ndarray, rounds: int = 15) -> dict[str, dict[str, Any]]:
    """Median ms per crop of each model at each batch size, timed in interleaved rounds after a warm-up."""
    import cv2

    inputs = {
        name: np.stack([cv2.resize(c, (m.input_size, m.input_size)) for c in crops]) for name, m in models.items()
    }
    times: dict[tuple[str, int], list[float]] = {(name, b): [] for name in models for b in BATCHES}
    for warm_up in (True, False):
        for _ in range(3 if warm_up else rounds):
            for name, model in models.items():
                for batch in BATCHES:
                    start = time.perf_counter()
                    model.predict(inputs[name][:batch])
                    if not warm_up:
                        times[(name, batch)].append((time.perf_counter() - start) * 1000 / batch)
    first = next(iter(models))
    result: dict[str, dict[str, Any]] = {}
    for name, model in models.items():
        entry: dict[str, Any] = {"runtime": getattr(model, "runtime", ""), "input_size": model.input_size}
        for batch in BATCHES:
            entry[f"ms_per_crop_b{batch}"] = round(float(np.median(times[(name, batch)])), 2)
            entry[f"ratio_to_{first}_b{batch}"] = round(
                float(np.median(times[(name, batch)]) / np.median(times[(first, batch)])), 2
            )
        result[name] = entry
    return result


def classifier_cost(video: Path, settings: list[str], runtime: str = "auto", rounds: int = 15) -> dict[str, Any]:
    """Load each ``classifier.model`` setting as the pipeline would and measure them side by side on ``video``."""
    models: dict[str, ActionModel] = {}
    for setting in settings:
        model = load_classifier(setting, runtime=runtime, threads=1)
        if model is None:
            raise ValueError(f"classifier.model {setting!r} loads no model")
        models[setting] = model
    crops = person_crops(video, max(m.input_size for m in models.values()))
    return {"video": str(video), "rounds": rounds, "models": measure(models, crops, rounds)}
