"""Train the temporal model: gradient-boosted trees on window features, one binary model per motion action,
with recording groups held out; export to ONNX so the pipeline runs it on ONNX Runtime.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from har_stream.clips import LabelledClip
from har_stream.temporal.dataset import Windows, clip_windows
from har_stream.temporal.features import FEATURE_NAMES, WINDOW_S

log = logging.getLogger(__name__)

TEMPORAL_ACTIONS: tuple[str, ...] = ("fighting", "running")


def build_windows(clips: list[LabelledClip], harvest: Path, split: dict[str, str], parts: tuple[str, ...]) -> Windows:
    """Windows of every harvested clip in ``parts``; the split part is carried in ``Windows.variant``'s prefix."""
    sets = []
    for clip in tqdm(clips, desc="window features", unit="clip"):
        part = split.get(clip.file)
        path = harvest / "tracks" / f"{Path(clip.file).stem}.npz"
        if part not in parts or not path.is_file():
            continue
        w = clip_windows(path, clip.label, clip.group, synthetic=part == "train")
        w.variant = np.array([f"{part}:{v}" for v in w.variant], dtype=object)
        sets.append(w)
    return Windows.concat(sets)


@dataclass
class TreeSettings:
    """Gradient-boosted trees' size and regularisation."""

    max_iter: int = 200
    learning_rate: float = 0.05
    max_leaf_nodes: int = 15
    min_samples_leaf: int = 40
    l2_regularization: float = 1.0

    def build(self, seed: int) -> Any:
        """A scikit-learn classifier with these settings."""
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(**self.__dict__, random_state=seed, early_stopping=False)


def fit_action(windows: Windows, action: str, parts: tuple[str, ...], settings: TreeSettings, seed: int = 0) -> Any:
    """One binary model for ``action`` on the rows of ``parts`` that have a target for it; each clip variant
    weighs the same in total, and positives as much as negatives."""
    target = getattr(windows, action)
    part = np.array([v.split(":")[0] for v in windows.variant])
    rows = np.isfinite(target) & np.isin(part, parts)
    y = target[rows].astype(int)
    w = windows.weight[rows].astype(np.float64)
    for label in (0, 1):
        if (y == label).any():
            w[y == label] *= 0.5 / w[y == label].sum()
    model = settings.build(seed)
    model.fit(windows.x[rows], y, sample_weight=w * len(y))
    return model


def track_scores(times: np.ndarray, tracks: np.ndarray, probs: np.ndarray, alpha: float) -> np.ndarray:
    """Per window: the exponential moving average of its track's probabilities (as the pipeline stage keeps)."""
    out = np.zeros_like(probs)
    for tid in np.unique(tracks):
        idx = np.flatnonzero(tracks == tid)
        idx = idx[np.argsort(times[idx])]
        state = None
        for i in idx:
            state = probs[i] if state is None else alpha * probs[i] + (1 - alpha) * state
            out[i] = state
    return out


def clip_level(windows: Windows, probs: np.ndarray, alpha: float, variant: str = "real") -> dict[str, float]:
    """Per clip: the highest smoothed score of any of its tracks (real-speed windows only)."""
    real = np.array([v.endswith(f":{variant}") for v in windows.variant])
    result = {}
    for clip in np.unique(windows.clip[real]):
        sel = real & (windows.clip == clip)
        result[str(clip)] = float(track_scores(windows.time[sel], windows.track[sel], probs[sel], alpha).max())
    return result


def export_onnx(model: Any, path: Path) -> Path:
    """Write a fitted binary tree model as ONNX (probabilities as a plain tensor, no ZipMap)."""
    from skl2onnx import to_onnx

    sample = np.zeros((1, len(FEATURE_NAMES)), dtype=np.float32)
    onx = to_onnx(model, sample, options={id(model): {"zipmap": False}}, target_opset={"": 17, "ai.onnx.ml": 3})
    path.write_bytes(onx.SerializeToString())
    return path


def save_temporal_model(folder: Path, models: dict[str, Any], meta: dict[str, Any]) -> Path:
    """``folder/<action>.onnx`` per action and ``model.json`` (feature names, window, figures)."""
    folder.mkdir(parents=True, exist_ok=True)
    for action, model in models.items():
        export_onnx(model, folder / f"{action}.onnx")
    meta = {
        **meta,
        "actions": list(models),
        "features": list(FEATURE_NAMES),
        "window_s": WINDOW_S,
        "saved": time.strftime("%Y-%m-%d"),
    }
    (folder / "model.json").write_text(json.dumps(meta, indent=2) + "\n")
    return folder
