"""An ensemble model folder: the weighted mean of other model folders' probabilities, behind one ActionModel.

Its ``model.json`` names the members (folders, relative to the ensemble's own folder or under ``models/``) and
their weights; it holds no network of its own. Each member runs on the runtime asked for (its int8 copy under
``auto``) and sees the crop resized to its own input size, so the members may differ in backbone and size. The
crop the pipeline cuts is the size of the largest member. With ``ensemble.test_time_flip: true`` every member
also sees the mirrored crop and contributes the mean of both views (twice the cost, chosen on val by
``har-stream models ensemble --flip auto``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from har_stream.action_model.base import ActionModelError, check_crops
from har_stream.action_model.meta import ENSEMBLE_KEY, read_meta
from har_stream.weights import MODELS_DIR


def member_folder(ensemble: Path, member: str) -> Path:
    """Where a member named in ``model.json`` lives: relative to the ensemble folder, else under ``models/``."""
    for candidate in (ensemble / member, MODELS_DIR / member):
        if (candidate / "model.json").is_file():
            return candidate
    raise ActionModelError(
        f"{ensemble}: member {member!r} not found (tried {ensemble / member} and {MODELS_DIR / member})"
    )


class EnsembleActionModel:
    """Weighted mean of member models' probabilities over the same classes."""

    def __init__(
        self, members: list[Any], weights: list[float], meta: dict[str, Any], folder: Path, flip: bool = False
    ) -> None:
        if not members or len(members) != len(weights):
            raise ActionModelError(f"{folder}: an ensemble needs one weight per member")
        if any(w < 0 for w in weights) or sum(weights) <= 0:
            raise ActionModelError(f"{folder}: ensemble weights must be >= 0 with a positive sum, not {weights}")
        classes = {tuple(m.classes) for m in members}
        if len(classes) != 1:
            names = ", ".join(f"{m.name} ({len(m.classes)} classes)" for m in members)
            raise ActionModelError(f"{folder}: ensemble members must share their classes, in order: {names}")
        self.members = members
        self.weights = np.asarray(weights, dtype=np.float64) / float(sum(weights))
        self.meta = meta
        self.folder = folder
        self.name: str = meta["name"]
        self.classes: tuple[str, ...] = tuple(members[0].classes)
        self.input_size: int = max(m.input_size for m in members)
        self.runtime = "+".join(dict.fromkeys(m.runtime for m in members))
        self.flip = flip

    def predict(self, crops: np.ndarray) -> np.ndarray:
        """Class probabilities (N, classes) for square BGR uint8 crops (N, input_size, input_size, 3)."""
        if not check_crops(self, crops):
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        total = np.zeros((len(crops), len(self.classes)), dtype=np.float64)
        for model, weight in zip(self.members, self.weights, strict=True):
            total += weight * member_probs(model, fit_crops(crops, model.input_size), self.flip)
        return total.astype(np.float32)


def mirrored(crops: np.ndarray) -> np.ndarray:
    """The crops (N, S, S, 3) flipped left to right."""
    return np.ascontiguousarray(crops[:, :, ::-1])


def member_probs(model: Any, crops: np.ndarray, flip: bool) -> np.ndarray:
    """A member's probabilities for crops of its own size; with ``flip``, the mean over the crops and their mirrors."""
    probs = model.predict(crops).astype(np.float64)
    if flip:
        probs = (probs + model.predict(mirrored(crops))) / 2
    return probs


def fit_crops(crops: np.ndarray, size: int) -> np.ndarray:
    """Square crops (N, S, S, 3) resized to ``size`` (area interpolation); unchanged when already that size."""
    if crops.shape[1] == size:
        return crops
    return np.stack([cv2.resize(c, (size, size), interpolation=cv2.INTER_AREA) for c in crops])


def load_ensemble(
    folder: Path,
    meta: dict[str, Any],
    runtime: str,
    threads: int | None,
    load_member: Callable[[Path, str, int | None], Any],
) -> EnsembleActionModel:
    """Load every member of the ensemble folder on ``runtime`` with ``load_member`` (``load_action_model``, which
    calls this for an ensemble folder: passed in, so this module need not import the loader); nested ensembles are
    refused."""
    spec = meta[ENSEMBLE_KEY]
    members = spec.get("members") if isinstance(spec, dict) else None
    if not isinstance(members, list) or not all(isinstance(m, dict) and "model" in m for m in members):
        raise ActionModelError(
            f"{folder}/model.json: '{ENSEMBLE_KEY}.members' must be a list of {{model: FOLDER, weight: W}}"
        )
    flip = spec.get("test_time_flip", False)
    if not isinstance(flip, bool):
        raise ActionModelError(
            f"{folder}/model.json: '{ENSEMBLE_KEY}.test_time_flip' must be true or false, not {flip!r}"
        )
    loaded, weights = [], []
    for entry in members:
        path = member_folder(folder, str(entry["model"]))
        if ENSEMBLE_KEY in read_meta(path):
            raise ActionModelError(f"{folder}: member {entry['model']!r} is itself an ensemble; list its members")
        loaded.append(load_member(path, runtime, threads))
        weights.append(float(entry.get("weight", 1.0)))
    return EnsembleActionModel(loaded, weights, meta, folder, flip=flip)
