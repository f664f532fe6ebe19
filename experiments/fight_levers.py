"""Two more levers for telling a fight clip from a no-fight clip, measured by the cross-validation of
``experiments/fusion_cv.py`` (same 5 folds of recording groups over the train and val groups; the test groups
are never read):

1. **Stacking**: the temporal trees also see the image classifier's fighting score of the person (its latest
   smoothed value, and its mean and maximum over the window), so they can learn interactions between motion and
   appearance instead of a fixed weighted sum. The image scores are each fold's out-of-fold scores from
   ``fusion_cv.py``'s traces.
2. **Pair crops**: a fight is two people. For every pair of touching people (box gap at most 0.3 box heights)
   on every third frame, the union of their boxes is cropped as the classifier crops a person, embedded by the
   default classifier's backbone, and a logistic head tells fighting pairs (both people fighting by the
   multiple-instance reading of ``har_stream/training/temporal_dataset.py``) from pairs in no-fight clips. A clip's pair
   score is the highest exponentially smoothed score of any pair; it is also fused with the image score.

    .venv/bin/python -m experiments.fusion_cv        # first: writes the folds' traces to out/fusion_cv/<base>
    .venv/bin/python -m experiments.fight_levers [--json experiments/results/fight_levers.json]

Clip AUROC is computed as ``clips evaluate-video`` does (a clip's score is the highest over its people).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from experiments.fusion_cv import cv_setup, image_baseline
from har_stream.classification.crops import crop_people
from har_stream.clips import LabelledClip
from har_stream.geometry import box_gaps
from har_stream.training.background import NEAR_GAP, QUIET_LABELS
from har_stream.training.harvest import ClipTracks
from har_stream.training.temporal_dataset import Windows, fighting_tracks
from har_stream.training.temporal_training import TreeSettings, build_windows, fit_action, track_scores

EMA_ALPHA = 0.4
PAIR_EVERY = 3
PAIR_CROP = 260
PAIR_PADDING = 0.1


def image_window_features(windows: Windows, traces: dict[str, tuple[str, np.ndarray]]) -> np.ndarray:
    """Per window: the person's out-of-fold image fighting score (latest, mean and max over the last second)."""
    by_stem = {Path(f).stem: rows for f, (_, rows) in traces.items()}
    out = np.full((len(windows), 3), np.nan, dtype=np.float32)
    for i in range(len(windows)):
        rows = by_stem.get(str(windows.clip[i]))
        if rows is None or not len(rows):
            continue
        t = windows.time[i]
        sel = (rows[:, 1] == windows.track[i]) & (rows[:, 0] <= t + 1e-3) & (rows[:, 0] >= t - 1.0)
        if sel.any():
            v = rows[sel, 2]
            out[i] = (v[-1], v.mean(), v.max())
    return out


def tree_cv(
    windows: Windows, x: np.ndarray, fold: np.ndarray, folds: int, settings: TreeSettings | None = None
) -> dict[str, float]:
    """Out-of-fold clip scores of the fighting trees (``settings``, default the shipped size) trained on ``x``
    (real-speed windows scored)."""
    windows = dataclasses.replace(windows, x=x)
    real = np.array([v.endswith(":real") for v in windows.variant])
    scores: dict[str, float] = {}
    for k in range(folds):
        model = fit_action(windows.subset(fold != k), "fighting", ("train", "val"), settings or TreeSettings())
        scores.update(held_clip_scores(model, windows.subset((fold == k) & real)))
    return scores


def held_clip_scores(model: Any, held: Windows) -> dict[str, float]:
    """Per clip of ``held``: the highest exponentially smoothed fighting probability ``model`` gives any of its
    tracks (a clip's score as ``clips evaluate-video`` takes it)."""
    probs = model.predict_proba(held.x)[:, 1]
    scores: dict[str, float] = {}
    for clip in np.unique(held.clip):
        s = held.clip == clip
        scores[str(clip)] = float(track_scores(held.time[s], held.track[s], probs[s], EMA_ALPHA).max())
    return scores


def pair_crops(clips: list[LabelledClip], harvest: Path) -> tuple[list[tuple], np.ndarray]:
    """Union-box crops of touching pairs: rows (clip stem, group, pair, time, target) and the crops."""
    rows: list[tuple] = []
    crops: list[np.ndarray] = []
    for clip in tqdm(clips, desc="pair crops", unit="clip"):
        tracks = ClipTracks.load(harvest / "tracks" / f"{Path(clip.file).stem}.npz")
        if not len(tracks.frame):
            continue
        fighters = fighting_tracks(tracks) if clip.label == "fighting" else set()
        wanted = {int(f) for f in np.unique(tracks.frame) if int(f) % PAIR_EVERY == 0}
        capture = cv2.VideoCapture(str(clip.path))
        index = -1
        while True:
            ok, image = capture.read()
            if not ok:
                break
            index += 1
            if index not in wanted:
                continue
            sel = np.flatnonzero(tracks.frame == index)
            for a_pos, a in enumerate(sel):
                for b in sel[a_pos + 1 :]:
                    box_a, box_b = tracks.box[a], tracks.box[b]
                    height = max(box_a[3] - box_a[1], box_b[3] - box_b[1], 1.0)
                    dx, dy = box_gaps(box_a, box_b)
                    if max(dx, dy) > NEAR_GAP * height:
                        continue
                    ids = tuple(sorted((int(tracks.track_id[a]), int(tracks.track_id[b]))))
                    if clip.label == "fighting":
                        target = 1 if set(ids) <= fighters else -1
                    else:
                        target = 0 if clip.label in QUIET_LABELS else -1
                    union = np.array([[*np.minimum(box_a[:2], box_b[:2]), *np.maximum(box_a[2:], box_b[2:])]])
                    crops.append(crop_people(image, union, PAIR_PADDING, PAIR_CROP)[0])
                    rows.append((Path(clip.file).stem, clip.group, ids, float(tracks.timestamp[a]), target))
        capture.release()
    return rows, np.stack(crops) if crops else np.zeros((0, PAIR_CROP, PAIR_CROP, 3), np.uint8)


def embed_pairs(crops: np.ndarray, base_folder: Path) -> np.ndarray:
    """Pooled features of ``base_folder``'s backbone (the one the cross-validated open-set heads keep)."""
    import keras

    from har_stream.action_model.loading import load_action_model

    base = load_action_model(base_folder, runtime="keras")
    net = base.keras_model
    trunk = keras.Model(net.input, net.get_layer("head_pool").output)
    out = [
        np.asarray(trunk.predict_on_batch(base._preprocess(crops[s : s + 32])))
        for s in tqdm(range(0, len(crops), 32), desc="pair features", unit="batch")
    ]
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 1), np.float32)


def pair_cv(rows: list[tuple], x: np.ndarray, fold_of: dict[str, int], folds: int, c: float) -> dict[str, float]:
    """Out-of-fold clip pair scores of a logistic head (highest smoothed score of any pair)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    fold = np.array([fold_of[r[1]] for r in rows])
    target = np.array([r[4] for r in rows])
    probs = np.zeros(len(rows))
    for k in range(folds):
        train = (fold != k) & (target >= 0)
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000, class_weight="balanced"))
        model.fit(x[train], target[train])
        probs[fold == k] = model.predict_proba(x[fold == k])[:, 1]
    smoothed: dict[tuple, float] = {}
    scores: dict[str, float] = {}
    for row, p in zip(rows, probs, strict=True):
        key = (row[0], row[2])
        state = p if key not in smoothed else EMA_ALPHA * p + (1 - EMA_ALPHA) * smoothed[key]
        smoothed[key] = state
        scores[row[0]] = max(scores.get(row[0], 0.0), float(state))
    return scores


def main() -> None:
    """Run both levers and print/save clip AUROCs next to the image classifier's."""
    args, _clips, split, pool, folds = cv_setup(__doc__)
    fold_of = {g: k for k, groups in enumerate(folds) for g in groups}
    traces, image, clip_auroc = image_baseline(args.work, pool)
    stems = [Path(c.file).stem for c in pool]
    result: dict = {"clips": len(pool), "folds": args.folds, "image_alone": clip_auroc(image)}
    windows = build_windows(pool, args.harvest, split, ("train", "val"))
    fold = np.array([fold_of[g] for g in windows.group])
    extra = image_window_features(windows, traces)

    def stacked(x: np.ndarray) -> float:
        return clip_auroc(tree_cv(windows, x, fold, args.folds))

    result["stacking"] = {
        "motion_trees_alone": stacked(windows.x),
        "trees_with_image_latest": stacked(np.hstack([windows.x, extra[:, :1]])),
        "trees_with_image_latest_mean_max": stacked(np.hstack([windows.x, extra])),
    }
    rows, crops = pair_crops(pool, args.harvest)
    x = embed_pairs(crops, args.base)
    targets = np.array([r[4] for r in rows])
    pairs: dict = {
        "pair_crops": len(rows),
        "fighting_pairs": int((targets == 1).sum()),
        "no_fight_pairs": int((targets == 0).sum()),
        "clips_with_a_pair": len({r[0] for r in rows}),
        "by_c": {},
    }
    for c in (0.001, 0.01, 0.1):
        scores = pair_cv(rows, x, fold_of, args.folds, c)
        entry = {"pair_alone": clip_auroc(scores)}
        for w in (0.25, 0.5):
            fused = {s: w * scores.get(s, 0.0) + (1 - w) * image[s] for s in stems}
            entry[f"fused_w{w}"] = clip_auroc(fused)
        pairs["by_c"][str(c)] = entry
    result["pair_crops"] = pairs
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
