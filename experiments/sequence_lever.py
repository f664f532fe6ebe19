"""A sequence model against the gradient-boosted trees for fighting, by the cross-validation of
``experiments/fusion_cv.py`` (same 5 folds of recording groups over the train and val groups; the test groups
are never read).

The trees see statistics of a person's last second (``har_stream/temporal/features.py``). A 1-D CNN or a GRU
can see the second itself: every window is resampled to ``STEPS`` steps, and each step holds

- the box: its bottom centre relative to where it ends, its height relative to the window's median, its
  aspect, and its height as a share of the frame;
- the 17 keypoints relative to the box centre in box heights, their step-to-step motion, and which of them
  are seen (confidence >= 0.3; unseen ones are zero);
- the nearest other person on that frame: gap and offset in box heights, and whether there is anyone.

Both kinds of model get the same windows (every 0.1 s of every track with at least 4 detections in its last
second), the same per-track targets (the multiple-instance reading of ``har_stream/training/temporal_dataset.py``: in a
fight clip, people touching someone on half their frames fight; everyone in a quiet clip does not) and the
same weights (each clip weighs the same, positives as much as negatives, negatives re-weighted to stand as
close to someone as the positives). A clip's score is the highest exponentially smoothed score of any of its
tracks, as ``clips evaluate-video`` reads the pipeline's.

    .venv/bin/python -m experiments.sequence_lever [--json experiments/results/sequence_lever.json]
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from experiments.fusion_cv import cv_setup
from har_stream.clips import LabelledClip
from har_stream.geometry import box_gaps
from har_stream.temporal.features import MIN_KEYPOINT_CONF, WINDOW_S
from har_stream.training.background import QUIET_LABELS
from har_stream.training.harvest import ClipTracks
from har_stream.training.temporal_dataset import SAMPLE_EVERY_S, fighting_tracks
from har_stream.training.temporal_training import NEAR_GAP_FEATURE, deconfounded, track_scores
from har_stream.video_eval.metrics import auroc

STEPS = 12
MIN_ROWS = 4
EMA_ALPHA = 0.4
#: Column of the nearest person's gap (in box heights) within a step: the first of the 4 neighbour values.
GAP_COLUMN = -4
SEEDS = (0, 1, 2)
#: box 5, keypoints 34, their motion 34, seen 17, nearest person 4.
FEATURES_PER_STEP = 94


def _neighbour(boxes: np.ndarray, i: int) -> np.ndarray:
    """Gap and bottom-centre offset (in the person's box heights) to the nearest other box, and a presence flag."""
    if len(boxes) < 2:
        return np.array([3.0, 0.0, 0.0, 0.0], np.float32)
    x1, y1, x2, y2 = boxes[i]
    h = max(1.0, y2 - y1)
    others = np.delete(boxes, i, axis=0)
    dx, dy = box_gaps(boxes[i], others)
    j = int(np.argmin(np.hypot(dx, dy)))
    offset = (np.array([(others[j, 0] + others[j, 2]) / 2 - (x1 + x2) / 2, others[j, 3] - y2])) / h
    return np.array([min(3.0, np.hypot(dx[j], dy[j]) / h), *np.clip(offset, -3, 3), 1.0], np.float32)


def clip_sequences(tracks: ClipTracks) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every window of every track as a (STEPS, features) sequence, with its track id and end time."""
    frames = {int(f): np.flatnonzero(tracks.frame == f) for f in np.unique(tracks.frame)}
    seqs, ids, times = [], [], []
    for tid in np.unique(tracks.track_id):
        rows = np.flatnonzero(tracks.track_id == tid)
        rows = rows[np.argsort(tracks.timestamp[rows])]
        t = tracks.timestamp[rows].astype(np.float64)
        sample = t[0] + WINDOW_S
        while sample <= t[-1] + 1e-6:
            inside = rows[(t >= sample - WINDOW_S - 1e-6) & (t <= sample + 1e-6)]
            if len(inside) >= MIN_ROWS:
                seqs.append(_sequence(tracks, inside, frames, sample))
                ids.append(int(tid))
                times.append(sample)
            sample += SAMPLE_EVERY_S
    if not seqs:
        return np.zeros((0, STEPS, FEATURES_PER_STEP), np.float32), np.zeros(0, int), np.zeros(0)
    return np.stack(seqs), np.array(ids), np.array(times)


def _sequence(tracks: ClipTracks, inside: np.ndarray, frames: dict[int, np.ndarray], end: float) -> np.ndarray:
    t = tracks.timestamp[inside]
    grid = end - WINDOW_S + WINDOW_S * np.arange(STEPS) / (STEPS - 1)
    picked = inside[np.clip(np.searchsorted(t, grid, side="right") - 1, 0, len(inside) - 1)]
    boxes = tracks.box[picked].astype(np.float32)
    heights = np.maximum(1.0, boxes[:, 3] - boxes[:, 1])
    ref = float(np.median(heights))
    bottom = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, boxes[:, 3]], axis=1)
    centre = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], axis=1)
    kp = tracks.keypoints[picked].astype(np.float32)
    seen = (kp[:, :, 2] >= MIN_KEYPOINT_CONF).astype(np.float32)
    rel = (kp[:, :, :2] - centre[:, None, :]) / heights[:, None, None] * seen[:, :, None]
    motion = np.zeros_like(rel)
    both = seen[1:] * seen[:-1]
    motion[1:] = (rel[1:] - rel[:-1]) * both[:, :, None]
    box_part = np.column_stack([
        (bottom - bottom[-1]) / ref,
        np.log(heights / ref),
        (boxes[:, 2] - boxes[:, 0]) / heights,
        heights / max(1, tracks.height),
    ])  # fmt: skip
    near = np.stack([_neighbour(tracks.box[frames[int(tracks.frame[p])]], _row_in(frames, tracks, p)) for p in picked])
    return np.column_stack([box_part, rel.reshape(STEPS, -1), motion.reshape(STEPS, -1), seen, near]).astype(np.float32)


def _row_in(frames: dict[int, np.ndarray], tracks: ClipTracks, row: int) -> int:
    return int(np.flatnonzero(frames[int(tracks.frame[row])] == row)[0])


def dataset(pool: list[LabelledClip], harvest: Path) -> dict[str, np.ndarray]:
    """Sequences, fighting targets (NaN: no target), clip stems, groups, tracks and times of every pool clip, and
    whether each window ends touching someone (``near``, what the fighting weights balance)."""
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("x", "y", "clip", "group", "track", "time")}
    for clip in tqdm(pool, desc="sequences", unit="clip"):
        path = harvest / "tracks" / f"{Path(clip.file).stem}.npz"
        if not path.is_file():
            continue
        tracks = ClipTracks.load(path)
        if not len(tracks.frame):
            continue
        x, ids, t = clip_sequences(tracks)
        if clip.label == "fighting":
            fighters = fighting_tracks(tracks)
            y = np.array([1.0 if i in fighters else np.nan for i in ids])
        else:
            y = np.full(len(ids), 0.0 if clip.label in QUIET_LABELS else np.nan)
        values = (x, y, [Path(clip.file).stem] * len(ids), [clip.group] * len(ids), ids, t)
        for key, value in zip(parts, values, strict=True):
            parts[key].append(np.asarray(value))
    data = {k: np.concatenate(v) for k, v in parts.items()}
    data["near"] = data["x"][:, -1, GAP_COLUMN] <= NEAR_GAP_FEATURE
    return data


def weights(y: np.ndarray, clip: np.ndarray, near: np.ndarray) -> np.ndarray:
    """Each clip the same total weight, classes balanced, negatives as close to someone as the positives."""
    w = np.zeros(len(y))
    for c in np.unique(clip):
        w[clip == c] = 1.0 / (clip == c).sum()
    w = deconfounded(w, y, near)
    return w * len(y) / w.sum()


def network(kind: str, steps: int, features: int):
    """A small 1-D CNN or GRU giving one fighting probability per sequence."""
    import keras

    inputs = keras.Input((steps, features))
    if kind == "cnn":
        h = keras.layers.Conv1D(48, 3, padding="same", activation="relu")(inputs)
        h = keras.layers.Dropout(0.2)(h)
        h = keras.layers.Conv1D(48, 3, padding="same", activation="relu")(h)
        h = keras.layers.Concatenate()([keras.layers.GlobalMaxPooling1D()(h), keras.layers.GlobalAveragePooling1D()(h)])
    else:
        h = keras.layers.GRU(32)(inputs)
    h = keras.layers.Dropout(0.3)(keras.layers.Dense(32, activation="relu")(h))
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(h))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    return model


def clip_scores(data: dict[str, np.ndarray], probs: np.ndarray) -> dict[str, float]:
    """Per clip: the highest exponentially smoothed score of any of its tracks."""
    scores = {}
    for clip in np.unique(data["clip"]):
        s = data["clip"] == clip
        scores[str(clip)] = float(track_scores(data["time"][s], data["track"][s], probs[s], EMA_ALPHA).max())
    return scores


def sequence_cv(data: dict[str, np.ndarray], fold: np.ndarray, folds: int, kind: str, epochs: int) -> dict[str, float]:
    """Out-of-fold clip scores of ``kind`` (mean of the probabilities of ``SEEDS`` trainings)."""
    import keras

    probs = np.zeros(len(data["y"]))
    for k in range(folds):
        train = (fold != k) & np.isfinite(data["y"])
        steps = data["x"][train].reshape(-1, data["x"].shape[-1])
        mean, std = steps.mean(0), steps.std(0) + 1e-6
        x = (data["x"] - mean) / std
        y = data["y"][train]
        w = weights(y, data["clip"][train], data["near"][train])
        held = fold == k
        runs = []
        for seed in SEEDS:
            keras.utils.set_random_seed(seed)
            model = network(kind, x.shape[1], x.shape[2])
            model.fit(x[train], y, sample_weight=w, epochs=epochs, batch_size=128, verbose=0)
            runs.append(model.predict(x[held], batch_size=512, verbose=0)[:, 0])
        probs[held] = np.mean(runs, axis=0)
    return clip_scores(data, probs)


def tree_cv_on_statistics(data: dict[str, np.ndarray], fold: np.ndarray, folds: int) -> dict[str, float]:
    """The same windows summarised per feature (mean, std, min, max over the steps) for gradient-boosted trees
    with the shipped model's settings: what the sequence adds over statistics of the same input."""
    from har_stream.training.temporal_training import TreeSettings

    x = np.concatenate([data["x"].mean(1), data["x"].std(1), data["x"].min(1), data["x"].max(1)], axis=1)
    probs = np.zeros(len(data["y"]))
    for k in range(folds):
        train = (fold != k) & np.isfinite(data["y"])
        model = TreeSettings().build(0)
        w = weights(data["y"][train], data["clip"][train], data["near"][train])
        model.fit(x[train], data["y"][train].astype(int), sample_weight=w)
        probs[fold == k] = model.predict_proba(x[fold == k])[:, 1]
    return clip_scores(data, probs)


def main() -> None:
    """Cross-validate the sequence models and print/save their clip AUROCs next to the shipped trees'."""
    from har_stream.tf_guard import prepare_tensorflow_import

    prepare_tensorflow_import()
    args, _clips, _split, pool, folds = cv_setup(__doc__)
    fold_of = {g: k for k, groups in enumerate(folds) for g in groups}
    data = dataset(pool, args.harvest)
    fold = np.array([fold_of[g] for g in data["group"]])
    stems = [Path(c.file).stem for c in pool]
    positive = np.array([c.label == "fighting" for c in pool])

    def clip_auroc(scores: dict[str, float]) -> float:
        return round(auroc(np.array([scores.get(s, 0.0) for s in stems]), positive), 3)

    targets = data["y"][np.isfinite(data["y"])]
    result: dict = {
        "clips": len(pool),
        "folds": args.folds,
        "windows": len(data["y"]),
        "targets": {"positive": int((targets == 1).sum()), "negative": int((targets == 0).sum())},
        "steps": STEPS,
        "features_per_step": int(data["x"].shape[-1]),
        "seeds_averaged": len(SEEDS),
        "trees_on_step_statistics": clip_auroc(tree_cv_on_statistics(data, fold, args.folds)),
    }
    for kind in ("cnn", "gru"):
        for epochs in (10, 25):
            result[f"{kind}_{epochs}_epochs"] = clip_auroc(sequence_cv(data, fold, args.folds, kind, epochs))
            print(kind, epochs, result[f"{kind}_{epochs}_epochs"], flush=True)
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
