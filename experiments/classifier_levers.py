"""Levers for a more accurate classifier, each measured on the same held-out split of the HAR photos.

For each model (run as the pipeline runs it: its int8 ONNX copy when it has one), the probabilities of the
val and test images are computed on the whole image and on its mirror image. Reported on test:

- each model alone, and with test-time flip (the mean of both views' probabilities);
- the ensemble of every pair: a weighted mean of the two models' (flip-averaged) probabilities, the weight
  chosen on val (log loss) from a grid, then applied once to test.

Val figures come with every lever: choose a lever by them, never by the test figures.

Open-set models (with walking/standing/other columns) are scored on the 15 actions: their action columns are
renormalised. The split is the one saved with the models (all were trained on the same split, seed 42); the
script refuses models whose split files differ.

    .venv/bin/python -m experiments.classifier_levers --models efficientnet_lite2_har vgg16_improved \
        --json experiments/results/classifier_levers.json
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from har_stream.action_model.loading import load_action_model
from har_stream.action_model.preprocess import square_resize
from har_stream.actions import ACTIONS
from har_stream.training.dataset import LabelledImage, load_bgr, load_split, read_labels
from har_stream.training.metrics import classification_report
from har_stream.weights import MODELS_DIR

WEIGHTS = np.round(np.linspace(0, 1, 21), 2)


def action_probs(model, rows: list[LabelledImage], flip: bool, batch: int = 32) -> np.ndarray:
    """Probabilities over the 15 actions (renormalised for open-set models), for the images or their mirrors."""
    chunks = []
    for start in tqdm(range(0, len(rows), batch), desc=f"{model.name}{' flipped' if flip else ''}", unit="batch"):
        images = [load_bgr(r.path) for r in rows[start : start + batch]]
        if any(image is None for image in images):
            raise SystemExit("unreadable image in the split")
        chunks.append(model.predict(np.stack([square_resize(cv2.flip(i, 1) if flip else i, model.input_size)
                                              for i in images])))  # fmt: skip
    probs = np.concatenate(chunks)
    columns = [model.classes.index(a) for a in ACTIONS]
    probs = probs[:, columns]
    return probs / probs.sum(axis=1, keepdims=True)


def log_loss(y: np.ndarray, probs: np.ndarray) -> float:
    """Mean -ln p(true class), clipped at 1e-15."""
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], 1e-15, 1))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", required=True, help="model folders (names in models/ or paths)")
    parser.add_argument("--data", type=Path, default=Path("../shared/data/har"))
    parser.add_argument("--runtime", default="auto", help="auto (int8 ONNX when present), onnx-int8 or keras")
    parser.add_argument("--json", type=Path, default=Path("experiments/results/classifier_levers.json"))
    args = parser.parse_args()

    folders = [Path(m) if Path(m).exists() else MODELS_DIR / m for m in args.models]
    splits = {folder: (folder / "split.csv").read_text() for folder in folders}
    if len(set(splits.values())) != 1:
        raise SystemExit("the models were not trained on the same split; their test figures are not comparable")
    assignment = load_split(folders[0] / "split.csv")
    rows = read_labels(args.data)
    parts = {part: [r for r in rows if assignment.get(r.filename) == part] for part in ("val", "test")}
    y = {part: np.array([ACTIONS.index(r.label) for r in chosen]) for part, chosen in parts.items()}

    probs: dict[str, dict[str, np.ndarray]] = {}
    runtimes: dict[str, str] = {}
    for folder in folders:
        model = load_action_model(folder, args.runtime)
        runtimes[folder.name] = model.runtime
        for part, chosen in parts.items():
            plain = action_probs(model, chosen, flip=False)
            mirrored = action_probs(model, chosen, flip=True)
            probs.setdefault(folder.name, {})[part] = plain
            probs[folder.name][f"{part}_tta"] = (plain + mirrored) / 2

    def figures(p: np.ndarray, part: str = "test") -> dict[str, float]:
        report = classification_report(y[part], p, list(ACTIONS))
        return {"accuracy": round(report["accuracy"], 4), "log_loss": round(report["log_loss"], 4)}

    result: dict[str, object] = {"data": str(args.data), "n_val": len(y["val"]), "n_test": len(y["test"])}
    single = {}
    for name, p in probs.items():
        single[name] = {
            "runtime": runtimes[name],
            "val": figures(p["val"], "val"),
            "val_flip_tta": figures(p["val_tta"], "val"),
            "test": figures(p["test"]),
            "test_flip_tta": figures(p["test_tta"]),
        }
    result["single"] = single
    pairs = {}
    for a, b in itertools.combinations(probs, 2):
        losses = [log_loss(y["val"], w * probs[a]["val_tta"] + (1 - w) * probs[b]["val_tta"]) for w in WEIGHTS]
        w = float(WEIGHTS[int(np.argmin(losses))])
        mixed = w * probs[a]["test_tta"] + (1 - w) * probs[b]["test_tta"]
        val_mixed = w * probs[a]["val_tta"] + (1 - w) * probs[b]["val_tta"]
        pairs[f"{a}+{b}"] = {"weight_of_first_chosen_on_val": w, "val": figures(val_mixed, "val"),
                             "test": figures(mixed)}  # fmt: skip
    result["ensembles_with_flip_tta"] = pairs
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
