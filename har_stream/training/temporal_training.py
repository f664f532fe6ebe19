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
from har_stream.temporal.features import ALL_FEATURE_NAMES, WINDOWS_S
from har_stream.training.temporal_dataset import Windows, clip_windows

log = logging.getLogger(__name__)

TEMPORAL_ACTIONS: tuple[str, ...] = ("fighting", "running")
DECONFOUND = True
NEAR_GAP_FEATURE = 0.3


def build_windows(
    clips: list[LabelledClip],
    harvest: Path,
    split: dict[str, str],
    parts: tuple[str, ...],
    windows_s: tuple[float, ...] = WINDOWS_S,
) -> Windows:
    """Windows (of ``windows_s`` seconds) of every harvested clip in ``parts``; the split part is carried in
    ``Windows.variant``'s prefix."""
    sets = []
    for clip in tqdm(clips, desc="window features", unit="clip"):
        part = split.get(clip.file)
        path = harvest / "tracks" / f"{Path(clip.file).stem}.npz"
        if part not in parts or not path.is_file():
            continue
        w = clip_windows(path, clip.label, clip.group, synthetic=True, windows_s=windows_s)
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


ACTION_TREES: dict[str, TreeSettings] = {"fighting": TreeSettings(max_iter=100), "running": TreeSettings()}
"""The trees each motion action is trained with (an action not named here gets ``TreeSettings()``). Fighting's
100 rounds: the best fused clip AUROC cross-validated over the train/val groups (0.902 at weight 0.5, against 0.894
at 0.25 with 200 rounds; docs/research/actions.md names the experiment)."""


def deconfounded(w: np.ndarray, y: np.ndarray, near: np.ndarray) -> np.ndarray:
    """Sample weights ``w`` with each class summing to 1 and the negatives re-weighted so that as large a share of
    their weight stands close to someone (``near``) as of the positives'.

    Fighting positives are chosen as people touching someone, so closeness alone would separate them from most
    negatives: with these weights a model must tell fighting from standing close by motion, not by distance.
    """
    w = w.astype(np.float64).copy()
    for label in (0, 1):
        w[y == label] /= w[y == label].sum()
    share = float(w[(y == 1) & near].sum())
    neg_near, neg_far = (y == 0) & near, (y == 0) & ~near
    if neg_near.any() and neg_far.any() and 0 < share < 1:
        w[neg_near] *= share / w[neg_near].sum()
        w[neg_far] *= (1 - share) / w[neg_far].sum()
    return w


def fit_action(windows: Windows, action: str, parts: tuple[str, ...], settings: TreeSettings, seed: int = 0) -> Any:
    """One binary model for ``action`` on the rows of ``parts`` that have a target for it; each clip variant
    weighs the same in total, and positives as much as negatives."""
    target = getattr(windows, action)
    part = np.array([v.split(":")[0] for v in windows.variant])
    rows = np.isfinite(target) & np.isin(part, parts)
    y = target[rows].astype(int)
    w = windows.weight[rows].astype(np.float64)
    if action == "fighting" and DECONFOUND:
        w = deconfounded(w, y, windows.x[rows, ALL_FEATURE_NAMES.index("nearest_gap")] <= NEAR_GAP_FEATURE)
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
    from unittest import mock

    from skl2onnx import to_onnx
    from skl2onnx.common import tree_ensemble

    original = tree_ensemble.add_node

    def add_node(*args: Any, nodes_missing_value_tracks_true: Any = 0, **kwargs: Any) -> Any:
        # skl2onnx 1.20 passes leaves' "missing goes left" as a Python bool, which ONNX's integer attribute
        # refuses for HistGradientBoosting models; the value is an integer flag, so pass it as one.
        return original(*args, nodes_missing_value_tracks_true=int(nodes_missing_value_tracks_true), **kwargs)

    sample = np.zeros((1, len(ALL_FEATURE_NAMES)), dtype=np.float32)
    with mock.patch.object(tree_ensemble, "add_node", add_node):
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
        "features": list(ALL_FEATURE_NAMES),
        "window_s": WINDOWS_S[0],
        "windows_s": list(WINDOWS_S),
        "saved": time.strftime("%Y-%m-%d"),
    }
    (folder / "model.json").write_text(json.dumps(meta, indent=2) + "\n")
    return folder


def _parts(windows: Windows) -> np.ndarray:
    return np.array([v.split(":")[0] for v in windows.variant])


def validation_figures(windows: Windows, models: dict[str, Any], labels: dict[str, str], alpha: float) -> dict:
    """Figures on the val part: clip-level fighting AUROC (highest smoothed track score per clip) and, for
    running, window-level AUROC of synthetic sped-up walkers against every real-speed window."""
    from har_stream.video_eval.metrics import auroc

    val = windows.subset(_parts(windows) == "val")
    out: dict[str, Any] = {}
    if "fighting" in models and len(val):
        probs = models["fighting"].predict_proba(val.x)[:, 1]
        clip_scores = clip_level(val, probs, alpha)
        positive = [labels.get(c) == "fighting" for c in clip_scores]
        out["fighting_clip_auroc"] = auroc(np.array(list(clip_scores.values())), np.array(positive))
        out["fighting_clips"] = {"positive": int(sum(positive)), "negative": int(len(positive) - sum(positive))}
    if "running" in models and len(val):
        probs = models["running"].predict_proba(val.x)[:, 1]
        synthetic = np.array([v.split(":")[1].startswith("speed") for v in val.variant])
        real = np.array([v.endswith(":real") for v in val.variant])
        rows = synthetic | real
        out["running_window_auroc_synthetic"] = auroc(probs[rows], synthetic[rows])
        out["running_windows"] = {"sped_up": int(synthetic.sum()), "real_speed": int(real.sum())}
    return out


def train_temporal(
    clips: list[LabelledClip],
    harvest: Path,
    split: dict[str, str],
    out: Path,
    settings: dict[str, TreeSettings] | None = None,
    alpha: float = 0.4,
    seed: int = 0,
    command: str = "",
    final_parts: tuple[str, ...] = ("train", "val"),
) -> dict[str, Any]:
    """Fit on the train groups and measure on the val groups; then refit on ``final_parts`` (train + val by
    default; train alone gives a model whose val figures stay held out, for tuning the pipeline's thresholds)
    and save ONNX models with a model card. The test groups are never used. Returns the figures."""
    trees = {action: (settings or ACTION_TREES).get(action, TreeSettings()) for action in TEMPORAL_ACTIONS}
    labels = {Path(c.file).stem: c.label for c in clips}
    windows = build_windows(clips, harvest, split, ("train", "val"))
    held_out = {action: fit_action(windows, action, ("train",), trees[action], seed) for action in TEMPORAL_ACTIONS}
    figures = validation_figures(windows, held_out, labels, alpha)
    final = {action: fit_action(windows, action, final_parts, trees[action], seed) for action in TEMPORAL_ACTIONS}
    parts = _parts(windows)
    counts = {
        action: {
            "positive": int(np.sum(getattr(windows, action) == 1)),
            "negative": int(np.sum(getattr(windows, action) == 0)),
        }
        for action in TEMPORAL_ACTIONS
    }
    meta = {
        "name": out.name,
        "kind": "temporal",
        "model": {
            "type": "HistGradientBoostingClassifier per action",
            "per_action": {action: tree.__dict__ for action, tree in trees.items()},
        },
        "ema_alpha_validated": alpha,
        "command": command,
        "data": {
            "clips": "../shared/videos/cctv (train and val groups of models/cctv_split.csv; test groups unused)",
            "windows": {"train": int((parts == "train").sum()), "val": int((parts == "val").sum())},
            "final_fit_on": list(final_parts),
            "targets": counts,
        },
        "validation": figures,
    }
    save_temporal_model(out, final, meta)
    from har_stream.temporal.model import TemporalModel

    served = TemporalModel(out)
    check = windows.x[:: max(1, len(windows) // 500)]
    reference = np.stack([final[a].predict_proba(check)[:, 1] for a in served.actions], axis=1)
    figures["onnx_max_abs_diff"] = float(np.abs(served.predict(check) - reference).max())
    meta["validation"] = figures
    (out / "model.json").write_text(json.dumps({**json.loads((out / "model.json").read_text()), **meta}, indent=2))
    return figures
