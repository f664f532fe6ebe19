"""The temporal model's window length as a lever for telling a fight clip from a no-fight clip, measured by the
cross-validation of ``experiments/fusion_cv.py`` (same 5 folds of recording groups over the train and val
groups; the test groups are never read).

The shipped model sees each person's last second. This script replays the harvested tracks with windows of
other lengths (and with two lengths side by side: each row holds the features of the long window and of the
short one, for the same person at the same moment, as ``TrackWindows(windows_s)`` computes them), trains
each fold's fighting trees on them, and reports clip AUROC of each alone and fused with the out-of-fold image
scores of a fusion_cv.py fold cache (motion alone when that cache has no traces yet).

    .venv/bin/python -m experiments.window_lever --work out/fusion_cv352_flow
        [--json experiments/results/window_lever.json]

Clip AUROC is computed as ``clips evaluate-video`` does (a clip's score is the highest over its people).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from experiments.fight_levers import tree_cv
from experiments.fusion_cv import cv_setup, image_or_motion, lever_figures
from har_stream.training.temporal_training import build_windows

#: Window lengths the trees see (several: a block of features per length, as ``TrackWindows(windows_s)``).
VARIANTS: tuple[tuple[float, ...], ...] = ((0.5,), (0.75,), (1.0,), (1.5,), (2.0,), (1.0, 0.5), (2.0, 1.0))
FUSION_WEIGHTS = (0.25, 0.5)
PARTS = ("train", "val")


def main() -> None:
    """Cross-validate the fighting trees on each window length and pair of lengths; fuse each with the image."""
    args, _clips, split, pool, folds = cv_setup(__doc__)
    fold_of = {g: k for k, groups in enumerate(folds) for g in groups}
    image, clip_auroc = image_or_motion(args.work, pool)
    stems = [Path(c.file).stem for c in pool]
    result: dict = {"clips": len(pool), "folds": args.folds}
    if image is not None:
        result["image_alone"] = clip_auroc(image)
    for lengths in VARIANTS:
        name = " + ".join(f"{length:g} s" for length in lengths)
        windows = build_windows(pool, args.harvest, split, PARTS, windows_s=lengths)
        fold = np.array([fold_of[g] for g in windows.group])
        scores = tree_cv(windows, windows.x, fold, args.folds)
        entry = {"windows": len(windows), "features": int(windows.x.shape[1])}
        entry.update(lever_figures(scores, image, stems, clip_auroc, FUSION_WEIGHTS))
        result[name] = entry
        print(name, entry, flush=True)
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
