"""Serving size and test-time augmentation as levers for a classifier, on the val split only.

The model is served at each size with the same weights (its folder copied with another ``input_size``), on
every val image whole and mirrored, as ``har-stream models evaluate`` feeds it. Reported: val top-1 and log loss of
every single view and of the mean probabilities of every combination of two to four views (each view costs
one more pass of the network per crop). Test images are never read: a lever chosen here is then measured
once on test by the command that ships it (``har-stream models choose-input-size`` for a serving size).

    .venv/bin/python -m experiments.tta_lever --model models/efficientnet_lite2_whole --sizes 320,288,352,384 \
        [--json experiments/results/tta_lever.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
from pathlib import Path

import numpy as np

from experiments.paths import HAR_DATA, REPO, RESULTS
from har_stream.tf_guard import prepare_tensorflow_import

prepare_tensorflow_import()

from experiments.classifier_levers import action_probs, log_loss  # noqa: E402
from har_stream.action_model.loading import load_action_model  # noqa: E402
from har_stream.actions import ACTIONS  # noqa: E402
from har_stream.training.dataset import load_split, read_labels  # noqa: E402


def at_size(model: Path, size: int, work: Path) -> Path:
    """A copy of ``model``'s folder (without its ONNX files) that serves it at ``size`` px."""
    folder = work / f"{model.name}_{size}"
    if not folder.exists():
        shutil.copytree(model, folder, ignore=shutil.ignore_patterns("*.onnx"))
        meta = json.loads((folder / "model.json").read_text())
        meta["input_size"] = size
        (folder / "model.json").write_text(json.dumps(meta, indent=2) + "\n")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="a model folder with split.csv")
    parser.add_argument("--sizes", default="320,288,352,384", help="comma-separated input sizes in px")
    parser.add_argument("--data", type=Path, default=HAR_DATA)
    parser.add_argument("--work", type=Path, default=REPO / "out" / "tta_probe", help="cache of folders and probs")
    parser.add_argument("--json", type=Path, default=RESULTS / "tta_lever.json")
    args = parser.parse_args()

    assignment = load_split(args.model / "split.csv")
    rows = [r for r in read_labels(args.data) if assignment.get(r.filename) == "val"]
    y = np.array([ACTIONS.index(r.label) for r in rows])
    args.work.mkdir(parents=True, exist_ok=True)
    views: dict[str, np.ndarray] = {}
    for size in (int(s) for s in args.sizes.split(",")):
        cache = args.work / f"{args.model.name}_{size}.npz"
        if not cache.exists():
            model = load_action_model(at_size(args.model, size, args.work), "keras")
            np.savez(cache, p=action_probs(model, rows, flip=False), f=action_probs(model, rows, flip=True))
        stored = np.load(cache)
        views[f"{size}"], views[f"{size} flipped"] = stored["p"], stored["f"]

    def figures(names: tuple[str, ...]) -> dict[str, object]:
        p = sum(views[n] for n in names) / len(names)
        accuracy = round(float((p.argmax(1) == y).mean()), 4)
        return {"views": list(names), "passes_per_crop": len(names), "val_accuracy": accuracy,
                "val_log_loss": round(log_loss(y, p), 4)}  # fmt: skip

    rows_out = [figures(combo) for r in range(1, 5) for combo in itertools.combinations(views, r)]
    best = {
        n: max((f for f in rows_out if f["passes_per_crop"] == n), key=lambda f: f["val_accuracy"]) for n in range(1, 5)
    }
    result = {"model": str(args.model), "n_val": len(y), "best_by_passes": best, "all": rows_out}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({"singles": [f for f in rows_out if f["passes_per_crop"] == 1], "best_by_passes": best}, indent=2))


if __name__ == "__main__":
    main()
