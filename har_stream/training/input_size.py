"""Choose a trained classifier's input size on its val split: same weights, a larger or smaller square input.

The backbones are convolutional and the heads pool globally, so one set of weights runs at any input size. Models
fine-tuned on random resized crops see people larger in training than whole images show them at the same size,
and classify better a little above their training size (the "FixRes" effect; Touvron et al., 2019). This scores
each candidate size on the val split (whole images, as ``har-stream models evaluate``), keeps the best (ties go to the
smaller, cheaper size), and writes an ordinary model folder at that size: the same weights, its val/test figures
at the new size, latency, an int8 copy and a card. The test split is scored once, after the choice.
"""

from __future__ import annotations

import json
import logging
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from har_stream.training.dataset import DatasetError, split_parts

log = logging.getLogger(__name__)


@dataclass
class InputSizeOptions:
    """What ``har-stream models choose-input-size`` accepts."""

    model: Path
    data: Path
    out: Path
    sizes: tuple[int, ...]
    int8: bool = True
    command: str = field(default_factory=lambda: shlex.join(["har-stream", *sys.argv[1:]]))


def _check(options: InputSizeOptions, meta: dict[str, Any]) -> None:
    from har_stream.action_model.ensemble import ENSEMBLE_KEY

    if ENSEMBLE_KEY in meta:
        raise DatasetError(
            f"{options.model} is an ensemble: choose its members' sizes, then 'har-stream models ensemble' again"
        )
    if "base_model" in meta:
        raise DatasetError(
            f"{options.model} is an open-set model: its head is trained on features of one input size; build its "
            "base at the new size with 'har-stream models choose-input-size', then retrain the head with "
            "'har-stream models open-set'"
        )
    if meta["head"].get("pooling") == "flatten":
        raise DatasetError(
            f"{options.model}: a Flatten head is tied to one input size ({meta['input_size']} px); only models "
            "whose head pools (head pooling 'avg') can change it"
        )
    if not options.sizes or min(options.sizes) < 32:
        raise DatasetError(f"--sizes must list input sizes of at least 32 px, not {list(options.sizes)}")
    if not (options.model / "split.csv").is_file():
        raise DatasetError(f"{options.model} has no split.csv: sizes are chosen on its val split")
    if options.out.resolve() == options.model.resolve():
        raise DatasetError("--out must be a new folder, not the model itself")


def _load_at(folder: Path, size: int) -> Any:
    """The Keras model of ``folder`` built for ``size`` x ``size`` inputs (same weights)."""
    from har_stream.action_model.loading import load_keras_model, read_meta

    return load_keras_model(folder, {**read_meta(folder), "input_size": size})


def choose_input_size(options: InputSizeOptions) -> dict[str, Any]:
    """Score every size on val, keep the best, write the model folder at that size; return the figures."""
    from har_stream.action_model.loading import read_meta
    from har_stream.training.metrics import classification_report, headline_figures, log_loss
    from har_stream.training.reports import plot_confusion, write_card
    from har_stream.training.whole_finetune import finish_model_folder, scored

    meta = read_meta(options.model)
    _check(options, meta)
    parts = split_parts(options.model / "split.csv", options.data, ("val", "test"))
    sizes = sorted(set(options.sizes) | {int(meta["input_size"])})
    by_size: dict[int, dict[str, float]] = {}
    val_scores: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for size in sizes:
        y, probs = val_scores[size] = scored(_load_at(options.model, size), parts["val"])
        accuracy, loss = float((probs.argmax(1) == y).mean()), log_loss(y, probs)
        by_size[size] = {"val_accuracy": round(accuracy, 4), "val_log_loss": round(loss, 4)}
        log.info("input %d px: val accuracy %.4f, log loss %.4f", size, accuracy, loss)
    best = max(sizes, key=lambda s: (by_size[s]["val_accuracy"], -s))
    classes = tuple(meta["classes"])
    figures = {
        "val": classification_report(*val_scores[best], classes),
        "test": classification_report(*scored(_load_at(options.model, best), parts["test"]), classes),
    }

    folder = options.out
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("weights.npz", "split.csv"):
        shutil.copyfile(options.model / name, folder / name)
    table = ", ".join(f"{s} px {v['val_accuracy']:.4f}" for s, v in by_size.items())
    step = (
        f"Input size chosen on the val split with `{options.command}` (same weights as `{options.model.name}`, "
        f"whole val images; val accuracy {table}): {best} px."
    )
    new = dict(meta)
    for key in ("int8", "latency_ms_per_crop"):
        new.pop(key, None)
    recipe = dict(new.get("recipe", {"name": "", "steps": []}))
    recipe["steps"] = [*recipe.get("steps", []), step]
    new.update(
        name=folder.name,
        input_size=best,
        recipe=recipe,
        input_size_choice={"trained_at": int(meta["input_size"]), "by_size": by_size, "chosen": best},
        figures=headline_figures(figures),
    )
    (folder / "model.json").write_text(json.dumps(new, indent=2) + "\n")
    new = finish_model_folder(folder, options.data, figures, options.int8)
    if (options.model / "curves.png").is_file():  # training is unchanged: the same curves
        shutil.copyfile(options.model / "curves.png", folder / "curves.png")
    title = f"{folder.name}: test split at {best} px, accuracy {figures['test']['accuracy']:.3f}"
    plot_confusion(np.array(figures["test"]["confusion_matrix"]), list(classes), folder / "confusion.png", title)
    write_card(folder, new, figures)
    return {"chosen": best, "by_size": by_size, **new["figures"]}
