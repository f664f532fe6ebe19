"""Multiple-instance refinement of the fighting targets, measured by the cross-validation of
``experiments/fusion_cv.py`` (same 5 folds of recording groups over the train and val groups; the test groups
are never read).

The temporal model's fighting positives are every window of every person who touches someone in a fight clip
(``har_stream/training/temporal_dataset.py``). A fight clip says only that somebody fights at some point, so many
of those windows are people standing close between blows. The refinement (as in mi-SVM): a first model scores the
training windows out of fold (inner folds of recording groups, so no window is scored by a model that saw it);
in each fight clip only the ``keep`` share of positive windows with the highest first-stage scores stays
positive, the others are left out (neither positive nor negative); a second model is trained on that.

    .venv/bin/python -m experiments.fusion_cv --work out/fusion_cv352_flow   # first: the folds' image traces
    .venv/bin/python -m experiments.mil_lever --work out/fusion_cv352_flow [--json experiments/results/mil_lever.json]

Clip AUROC is computed as ``clips evaluate-video`` does (a clip's score is the highest over its people).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from experiments.fight_levers import held_clip_scores
from experiments.fusion_cv import cv_setup, image_or_motion, lever_figures
from har_stream.training.temporal_dataset import Windows
from har_stream.training.temporal_training import TreeSettings, build_windows, fit_action

KEEPS = (1.0, 0.7, 0.5, 0.3)
FUSION_WEIGHTS = (0.25, 0.5)
INNER_FOLDS = 4
PARTS = ("train", "val")


def out_of_fold(windows: Windows, groups: np.ndarray, folds: int) -> np.ndarray:
    """Fighting probabilities of every window from models trained without its recording group's inner fold."""
    names = np.unique(groups)
    order = np.random.default_rng(1).permutation(names)
    inner = {g: k % folds for k, g in enumerate(order)}
    fold = np.array([inner[g] for g in groups])
    probs = np.full(len(windows), np.nan)
    for k in range(folds):
        model = fit_action(windows.subset(fold != k), "fighting", PARTS, TreeSettings())
        probs[fold == k] = model.predict_proba(windows.x[fold == k])[:, 1]
    return probs


def refined(windows: Windows, probs: np.ndarray, keep: float) -> Windows:
    """``windows`` with only the top ``keep`` share of each fight clip's positive windows (by ``probs``) left
    positive; each clip's kept positives weigh what all of them weighed."""
    fighting = windows.fighting.copy()
    weight = windows.weight.copy()
    real = np.array([v.endswith(":real") for v in windows.variant])
    for clip in np.unique(windows.clip[real & (windows.fighting == 1)]):
        pos = np.flatnonzero(real & (windows.clip == clip) & (windows.fighting == 1))
        n_keep = max(1, round(keep * len(pos)))
        ranked = pos[np.argsort(-probs[pos])]
        fighting[ranked[n_keep:]] = np.nan
        weight[ranked[:n_keep]] *= len(pos) / n_keep
    return dataclasses.replace(windows, fighting=fighting, weight=weight)


def main() -> None:
    """Cross-validate the fighting trees with each share of positives kept; fuse each with the image score."""
    args, _clips, split, pool, folds = cv_setup(__doc__)
    fold_of = {g: k for k, groups in enumerate(folds) for g in groups}
    image, clip_auroc = image_or_motion(args.work, pool)
    stems = [Path(c.file).stem for c in pool]
    windows = build_windows(pool, args.harvest, split, PARTS)
    fold = np.array([fold_of[g] for g in windows.group])
    real = np.array([v.endswith(":real") for v in windows.variant])
    scores: dict[float, dict[str, float]] = {keep: {} for keep in KEEPS}
    for k in range(args.folds):
        train = windows.subset(fold != k)
        first = out_of_fold(train, train.group, INNER_FOLDS)
        held = windows.subset((fold == k) & real)
        for keep in KEEPS:
            model = fit_action(refined(train, first, keep) if keep < 1 else train, "fighting", PARTS, TreeSettings())
            scores[keep].update(held_clip_scores(model, held))
        print(f"fold {k} done", flush=True)
    result: dict = {"clips": len(pool), "folds": args.folds, "windows": len(windows)}
    if image is not None:
        result["image_alone"] = clip_auroc(image)
    for keep in KEEPS:
        entry = lever_figures(scores[keep], image, stems, clip_auroc, FUSION_WEIGHTS)
        result[f"keep_{keep:g}"] = entry
        print(keep, entry, flush=True)
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
