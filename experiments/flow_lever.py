"""The optical-flow lever for telling a fight clip from a no-fight clip, measured by the cross-validation of
``experiments/fusion_cv.py`` (same 5 folds of recording groups over the train and val groups; the test groups
are never read).

The temporal model's window features include dense optical flow in and around each person
(``har_stream/temporal/flow.py``). This script trains each fold's fighting trees on the same windows without
the flow features (the previous model) and with them, and reports clip AUROC of each alone and fused with the
out-of-fold image scores of a fusion_cv.py fold cache. ``--harvest`` may point at a copy of the harvest whose
flow was computed with other settings (the settings are the harvest's, not this script's).

    .venv/bin/har-stream clips harvest --clips ../shared/videos/cctv   # first: adds flow to older harvests
    .venv/bin/python -m experiments.flow_lever --work out/fusion_cv352 [--json experiments/results/flow_lever.json]

Clip AUROC is computed as ``clips evaluate-video`` does (a clip's score is the highest over its people).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from experiments.fight_levers import tree_cv
from experiments.fusion_cv import cv_setup, image_baseline, lever_figures
from har_stream.temporal.features import ALL_FEATURE_NAMES
from har_stream.training.temporal_training import build_windows

FUSION_WEIGHTS = (0.25, 0.5, 0.6)


def main() -> None:
    """Cross-validate the fighting trees without and with the flow features; fuse each with the image score."""
    args, _clips, split, pool, folds = cv_setup(__doc__)
    fold_of = {g: k for k, groups in enumerate(folds) for g in groups}
    _traces, image, clip_auroc = image_baseline(args.work, pool)
    stems = [Path(c.file).stem for c in pool]
    windows = build_windows(pool, args.harvest, split, ("train", "val"))
    fold = np.array([fold_of[g] for g in windows.group])
    names = np.array(ALL_FEATURE_NAMES)
    own_flow = np.char.startswith(names.astype(str), "flow_")
    result: dict = {"clips": len(pool), "folds": args.folds, "windows": len(windows)}
    result["image_alone"] = clip_auroc(image)
    result["harvest"] = str(args.harvest)
    for name, keep in {"without_flow": ~own_flow, "with_flow": np.ones(len(names), bool)}.items():
        scores = tree_cv(windows, windows.x[:, keep], fold, args.folds)
        entry = {"features": int(keep.sum()), **lever_figures(scores, image, stems, clip_auroc, FUSION_WEIGHTS)}
        result[name] = entry
        print(name, entry, flush=True)
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
