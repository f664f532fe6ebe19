"""Evaluate a model folder on any labelled image folder (``labels.csv`` + ``images/``), through the real model."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from har_stream.action_model.loading import load_action_model
from har_stream.action_model.preprocess import square_resize
from har_stream.training.dataset import LabelledImage, load_bgr, load_split, read_labels
from har_stream.training.metrics import classification_report
from har_stream.training.reports import plot_confusion
from har_stream.training.served import served_crop

log = logging.getLogger(__name__)


@dataclass
class Evaluation:
    """Figures (``accuracy``, ``log_loss``, ``per_class``, ``n_images``, ...) and the files written."""

    figures: dict[str, Any]
    confusion_png: Path
    json_path: Path


def select_rows(model: Any, rows: list[LabelledImage], split: str) -> tuple[list[LabelledImage], str]:
    """Rows to score: ``all``; ``train``/``val``/``test`` of the model's saved split; ``auto`` = the held-out
    test split when the data is the model's own training data, else every image."""
    split_file = model.folder / "split.csv" if model.folder else None
    assignment = load_split(split_file) if split_file and split_file.is_file() else {}
    if split == "auto":
        overlap = sum(1 for r in rows if r.filename in assignment)
        split = "test" if assignment and overlap == len(rows) else "all"
    if split == "all":
        return rows, "all"
    if not assignment:
        raise ValueError(f"--split {split}: the model has no split.csv to take it from")
    chosen = [r for r in rows if assignment.get(r.filename) == split]
    if not chosen:
        raise ValueError(f"--split {split}: none of the images are in the model's {split} split")
    return chosen, split


def predict_rows(
    model: Any, rows: list[LabelledImage], batch: int = 32, boxes: np.ndarray | None = None, padding: float = 0.15
) -> tuple[np.ndarray, list[int]]:
    """Probabilities for every readable image; indices of the unreadable ones (reported and skipped).

    With ``boxes`` (one person box per image, NaN for nobody) each image is cut as the pipeline cuts a person
    (the crop protocol); without, the whole image is classified (the whole-image protocol)."""
    probs, skipped = [], []
    for start in tqdm(range(0, len(rows), batch), desc=f"evaluating {model.name}", unit="batch"):
        crops = []
        for index in range(start, min(start + batch, len(rows))):
            image = load_bgr(rows[index].path)
            if image is None:
                log.warning("skipping unreadable image %s", rows[index].path)
                skipped.append(index)
                continue
            if boxes is None:
                crops.append(square_resize(image, model.input_size))
            else:
                crops.append(served_crop(image, boxes[index], padding, model.input_size))
        if crops:
            probs.append(model.predict(np.stack(crops)))
    out = np.concatenate(probs) if probs else np.zeros((0, len(model.classes)), dtype=np.float32)
    return out, skipped


def evaluate(
    model_dir: str | Path,
    data: str | Path,
    split: str = "auto",
    out: Path | None = None,
    json_path: Path | None = None,
    runtime: str = "keras",
    protocol: str = "whole",
) -> Evaluation:
    """Score a model (on ``runtime``: keras or onnx-int8) on a labelled folder; write ``metrics.json`` and
    ``confusion.png`` to ``out``. ``protocol``: ``whole`` images (comparable with published figures) or
    ``crops``, the largest person the pipeline's detector finds, cut as the classifier stage cuts it."""
    if protocol not in ("whole", "crops"):
        raise ValueError(f"protocol must be whole or crops, not {protocol!r}")
    model = load_action_model(model_dir, runtime)
    rows, used_split = select_rows(model, read_labels(data), split)
    boxes = None
    if protocol == "crops":
        from har_stream.config.schema import DetectorConfig
        from har_stream.detection.detector import PersonDetector
        from har_stream.training.served import person_boxes

        boxes = person_boxes(rows, PersonDetector(DetectorConfig()))
    probs, skipped = predict_rows(model, rows, boxes=boxes)
    unreadable = set(skipped)
    kept = [r for i, r in enumerate(rows) if i not in unreadable]
    y_true = np.array([model.classes.index(r.label) for r in kept], dtype=np.int64)
    figures = classification_report(y_true, probs, model.classes)
    figures.update({"model": model.name, "runtime": model.runtime, "data": str(data), "split": used_split})
    figures["protocol"] = protocol
    figures["unreadable"] = len(skipped)
    out = out or Path("out") / "eval" / model.name
    out.mkdir(parents=True, exist_ok=True)
    confusion = plot_confusion(
        np.array(figures["confusion_matrix"]), list(model.classes), out / "confusion.png",
        f"{model.name} on {Path(data).name} ({used_split}): accuracy {figures['accuracy']:.3f}",
    )  # fmt: skip
    json_path = json_path or out / "metrics.json"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(figures, indent=2) + "\n")
    return Evaluation(figures, confusion, json_path)
