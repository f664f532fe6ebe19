"""The size of the temporal model's fighting trees as a lever, measured by the cross-validation of
``experiments/fusion_cv.py`` (same 5 folds of recording groups over the train and val groups; the test groups
are never read).

Each fold's fighting trees are trained on the same replayed windows with each setting (rounds, leaves, the
smallest leaf, learning rate; and once without the deconfounding weights of ``temporal_training.deconfounded``), and the
clip AUROC of the motion score alone is reported (a clip's score is the highest smoothed score of its people,
as ``clips evaluate-video`` computes it). A setting is adopted only after ``fusion_cv.py`` has run the real pipeline
with it (fused clip AUROC and the rule it picks), not on these figures alone.

    .venv/bin/python -m experiments.tree_lever [--json experiments/results/tree_lever.json]
"""

from __future__ import annotations

import json

import numpy as np

from experiments.fight_levers import tree_cv
from experiments.fusion_cv import clip_scorer, cv_setup
from har_stream.training import temporal_training
from har_stream.training.temporal_training import TreeSettings, build_windows

PARTS = ("train", "val")
SETTINGS: dict[str, TreeSettings] = {
    "200 rounds, 15 leaves (earlier)": TreeSettings(),
    "400 rounds": TreeSettings(max_iter=400),
    "150 rounds": TreeSettings(max_iter=150),
    "100 rounds": TreeSettings(max_iter=100),
    "50 rounds": TreeSettings(max_iter=50),
    "7 leaves": TreeSettings(max_leaf_nodes=7),
    "31 leaves": TreeSettings(max_leaf_nodes=31),
    "100 rounds, 7 leaves": TreeSettings(max_iter=100, max_leaf_nodes=7),
    "7 leaves, learning rate 0.025": TreeSettings(max_leaf_nodes=7, learning_rate=0.025),
    "smallest leaf 15": TreeSettings(min_samples_leaf=15),
    "smallest leaf 100": TreeSettings(min_samples_leaf=100),
    "100 rounds, smallest leaf 100": TreeSettings(max_iter=100, min_samples_leaf=100),
}


def main() -> None:
    """Cross-validate the fighting trees with each setting."""
    args, _clips, split, pool, folds = cv_setup(__doc__)
    fold_of = {g: k for k, groups in enumerate(folds) for g in groups}
    clip_auroc = clip_scorer(pool)
    windows = build_windows(pool, args.harvest, split, PARTS)
    fold = np.array([fold_of[g] for g in windows.group])
    result: dict = {"clips": len(pool), "folds": args.folds, "windows": len(windows), "motion_alone": {}}
    for name, settings in SETTINGS.items():
        result["motion_alone"][name] = clip_auroc(tree_cv(windows, windows.x, fold, args.folds, settings))
        print(name, result["motion_alone"][name], flush=True)
    temporal_training.DECONFOUND = False
    name = "200 rounds, without the deconfounding weights"
    result["motion_alone"][name] = clip_auroc(tree_cv(windows, windows.x, fold, args.folds, TreeSettings()))
    print(name, result["motion_alone"][name], flush=True)
    temporal_training.DECONFOUND = True
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
