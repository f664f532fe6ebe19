"""Fine-tune every layer of a trained classifier on strongly augmented images, on the base model's own split.

The cached-feature recipes (:mod:`har_stream.training.trainer`) train only the top blocks and see a few fixed
views per image. This one decodes and augments every image afresh each epoch (random resized crop, flip, colour,
sometimes greyscale, blur or JPEG artefacts) and trains the whole network at a low, cosine-decayed learning rate
with label smoothing; batch normalisation stays in inference mode (small batches on a CPU). With a teacher
(knowledge distillation, for example an ensemble) the targets mix the label with the teacher's probabilities on
each train image. The epoch with the best val accuracy is kept, so the result is never worse on val than the base
(up to the float16 rounding of the saved backbone, whose figures the card reports). The output is an ordinary
model folder (same backbone, head, classes, input size and split), with an int8 copy and a card.
"""

from __future__ import annotations

import json
import logging
import math
import shlex
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from har_stream.action_model.preprocess import square_resize
from har_stream.training.dataset import DatasetError, LabelledImage, load_bgr, split_parts

log = logging.getLogger(__name__)


@dataclass
class WholeFinetuneOptions:
    """What ``har-stream models fine-tune`` accepts."""

    base: Path
    data: Path
    out: Path
    epochs: int = 3
    learning_rate: float = 5e-5
    batch_size: int = 32
    label_smoothing: float = 0.1
    seed: int = 0
    int8: bool = True
    #: Train only this layer and those above it (e.g. ``block4_conv1`` for VGG16's blocks 4-5); None: every layer.
    train_from: str | None = None
    #: A model folder (e.g. an ensemble) on the same split and classes whose probabilities become soft targets.
    teacher: Path | None = None
    #: The teacher's share of each target; the rest is the (smoothed) label.
    teacher_weight: float = 0.7
    command: str = field(default_factory=lambda: shlex.join(["har-stream", *sys.argv[1:]]))


def strong_view(image: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A randomly augmented square input: resized crop (35-100% of the area), flip, HSV jitter, and sometimes
    greyscale, blur or JPEG artefacts."""
    h, w = image.shape[:2]
    area = rng.uniform(0.35, 1.0) * h * w
    aspect = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
    ch = int(min(h, max(8, round(math.sqrt(area / aspect)))))
    cw = int(min(w, max(8, round(math.sqrt(area * aspect)))))
    top, left = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    out = image[top : top + ch, left : left + cw]
    if rng.random() < 0.5:
        out = out[:, ::-1]
    hsv = cv2.cvtColor(np.ascontiguousarray(out), cv2.COLOR_BGR2HSV).astype(np.float32)
    hsv[..., 1] *= rng.uniform(0.6, 1.4)
    hsv[..., 2] *= rng.uniform(0.6, 1.4)
    out = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2BGR)
    if rng.random() < 0.15:
        out = cv2.cvtColor(cv2.cvtColor(out, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    out = square_resize(out, size)
    if rng.random() < 0.2:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.5, 1.5))
    if rng.random() < 0.2:
        ok, encoded = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(25, 75))])
        out = cv2.imdecode(encoded, cv2.IMREAD_COLOR) if ok else out
    return np.ascontiguousarray(out)


def distilled_targets(
    labels: np.ndarray, n_classes: int, teacher_probs: np.ndarray | None, weight: float
) -> np.ndarray:
    """Training targets (N, classes): the one-hot labels, or with ``teacher_probs`` ``weight`` × the teacher's
    probabilities + (1 - ``weight``) × the labels (rows sum to 1 either way)."""
    onehot = np.eye(n_classes, dtype=np.float32)[labels]
    if teacher_probs is None:
        return onehot
    soft = teacher_probs / np.maximum(teacher_probs.sum(axis=1, keepdims=True), 1e-12)
    return (weight * soft + (1.0 - weight) * onehot).astype(np.float32)


def teacher_probabilities(
    teacher_dir: Path, split_file: Path, classes: tuple[str, ...], rows: list[LabelledImage]
) -> np.ndarray:
    """The teacher's probabilities for every train row (NaN rows for unreadable images), classified whole.

    The teacher must share the base model's split (else it may have trained on val or test images, which would
    leak into the student) and its classes, in order; a :class:`DatasetError` says which differs."""
    from har_stream.action_model.loading import load_action_model
    from har_stream.training.dataset import load_split
    from har_stream.training.evaluation import predict_rows

    own = teacher_dir / "split.csv"
    if not own.is_file() or load_split(own) != load_split(split_file):
        raise DatasetError(
            f"--teacher {teacher_dir}: its split.csv is missing or differs from the base model's; a teacher must "
            "have been trained on the same split, or val and test images leak into the student"
        )
    teacher = load_action_model(teacher_dir, runtime="auto")
    if tuple(teacher.classes) != classes:
        raise DatasetError(f"--teacher {teacher_dir}: its classes {list(teacher.classes)} differ from the base's")
    probs, skipped = predict_rows(teacher, rows)
    full = np.full((len(rows), len(classes)), np.nan, dtype=np.float32)
    left_out = set(skipped)
    readable = [i for i in range(len(rows)) if i not in left_out]
    full[readable] = probs
    return full


def _augmented_batches(
    rows: list[LabelledImage], model: Any, teacher_probs: np.ndarray | None, options: WholeFinetuneOptions
) -> Any:
    import keras

    class AugmentedImages(keras.utils.PyDataset):
        """Decoded, augmented and preprocessed train images with their targets, reshuffled every epoch."""

        def __init__(self) -> None:
            super().__init__(workers=2, use_multiprocessing=False)
            self.rng = np.random.default_rng(options.seed)
            self.order = self.rng.permutation(len(rows))
            self.epoch = 0

        def __len__(self) -> int:
            return math.ceil(len(rows) / options.batch_size)

        def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
            chosen = self.order[index * options.batch_size : (index + 1) * options.batch_size]
            rng = np.random.default_rng([options.seed, self.epoch, index])
            images, kept = [], []
            for i in chosen:
                image = load_bgr(rows[i].path)
                if image is None:
                    continue
                images.append(strong_view(image, model.input_size, rng))
                kept.append(i)
            labels = np.array([rows[i].class_index for i in kept], dtype=np.int64)
            soft = teacher_probs[kept] if teacher_probs is not None else None
            targets = distilled_targets(labels, len(model.classes), soft, options.teacher_weight)
            return model._preprocess(np.stack(images)), targets

        def on_epoch_end(self) -> None:
            self.epoch += 1
            self.order = self.rng.permutation(len(rows))

    return AugmentedImages()


def scored(model: Any, rows: list[LabelledImage]) -> tuple[np.ndarray, np.ndarray]:
    """True class indices and probabilities of the readable images, each classified whole as ``har-stream
    evaluate`` classifies it (unreadable ones are reported and left out)."""
    from har_stream.training.evaluation import predict_rows

    probs, skipped = predict_rows(model, rows)
    left_out = set(skipped)
    y = np.array([r.class_index for i, r in enumerate(rows) if i not in left_out], dtype=np.int64)
    return y, probs


def write_plots(
    folder: Path, classes: list[str], history: dict[str, list[float]], best_epoch: int, test: dict[str, Any]
) -> None:
    """``curves.png`` (per epoch; val figures of epoch 0 are the base's, left out) and ``confusion.png``."""
    from har_stream.training.fitting import History
    from har_stream.training.reports import plot_confusion, plot_curves

    val_loss = history.get("val_loss") or [float("nan")] * len(history["val_accuracy"])
    curve = History(history["loss"], history["accuracy"], val_loss[1:], history["val_accuracy"][1:], best_epoch)
    curve.stage = "fine-tune"
    plot_curves([curve], folder / "curves.png")
    title = f"{folder.name}: test split, accuracy {test['accuracy']:.3f}"
    plot_confusion(np.array(test["confusion_matrix"]), classes, folder / "confusion.png", title)


def figures_as_saved(folder: Path, parts: dict[str, list[LabelledImage]], classes: tuple[str, ...]) -> dict[str, Any]:
    """Val and test reports of the model folder as saved (its backbone stored in float16, so a few images may
    differ from the network in memory), also written to its ``model.json`` figures."""
    from har_stream.action_model.loading import load_action_model
    from har_stream.training.metrics import classification_report, headline_figures

    saved = load_action_model(folder, "keras")
    figures = {name: classification_report(*scored(saved, parts[name]), classes) for name in ("val", "test")}
    meta = json.loads((folder / "model.json").read_text())
    (folder / "model.json").write_text(json.dumps({**meta, "figures": headline_figures(figures)}, indent=2) + "\n")
    return figures


def finish_model_folder(folder: Path, data: Path, figures: dict[str, Any], int8: bool) -> dict[str, Any]:
    """Time the saved folder on Keras, make and time its int8 copy (unless ``int8`` is False), write
    ``metrics.json``; return ``model.json`` with the latency and int8 figures added (and written)."""
    from har_stream.action_model.loading import load_action_model
    from har_stream.training.latency import measure_latency

    meta = json.loads((folder / "model.json").read_text())
    meta["latency_ms_per_crop"] = {"keras": measure_latency(load_action_model(folder, "keras"))}
    if int8:
        from har_stream.training.int8 import quantize_model_folder

        meta["int8"] = quantize_model_folder(folder, data)
        meta["latency_ms_per_crop"]["onnx-int8"] = measure_latency(load_action_model(folder, "onnx-int8"))
    (folder / "model.json").write_text(json.dumps(meta, indent=2) + "\n")
    (folder / "metrics.json").write_text(json.dumps(figures, indent=2) + "\n")
    return meta


def _teacher_words(options: WholeFinetuneOptions) -> str:
    if options.teacher is None:
        return ""
    return (
        f", distilled from `{options.teacher.name}`: targets {options.teacher_weight:g} × its probabilities on the "
        f"whole train image + {1 - options.teacher_weight:g} × the label"
    )


def finetune_whole(options: WholeFinetuneOptions) -> dict[str, Any]:
    """Fine-tune, keep the best val epoch, save the model folder (int8 copy, card); return its figures."""
    import keras

    from har_stream.action_model.ensemble import ENSEMBLE_KEY
    from har_stream.action_model.loading import load_action_model, read_meta, save_model_folder
    from har_stream.training.metrics import log_loss
    from har_stream.training.reports import write_card

    keras.utils.set_random_seed(options.seed)
    split_file = options.base / "split.csv"
    if not split_file.is_file():
        raise DatasetError(f"{options.base} has no split.csv: the base model's split is what keeps test images out")
    if ENSEMBLE_KEY in read_meta(options.base):  # refused before its members are loaded
        raise DatasetError(f"{options.base} is an ensemble: fine-tune its members one at a time")
    base = load_action_model(options.base, runtime="keras")
    meta = dict(base.meta)
    classes = tuple(meta["classes"])
    hint = "fine-tune on the data the base model was trained on"
    parts = split_parts(split_file, options.data, ("train", "val", "test"), hint)
    net = base.keras_model
    names = [layer.name for layer in net.layers]
    if options.train_from is not None and options.train_from not in names:
        raise DatasetError(
            f"--train-from {options.train_from!r}: {options.base.name} has no such layer; its layers with weights "
            f"are {', '.join(layer.name for layer in net.layers if layer.weights)}"
        )
    first = names.index(options.train_from) if options.train_from else 0
    for index, layer in enumerate(net.layers):
        tunable = bool(layer.weights) and not isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = tunable and index >= first
    teacher_probs = None
    if options.teacher is not None:
        teacher_probs = teacher_probabilities(options.teacher, split_file, classes, parts["train"])
        y_train = np.array([r.class_index for r in parts["train"]])
        seen = np.isfinite(teacher_probs).all(axis=1)
        log.info("teacher accuracy on the train images: %.4f", (teacher_probs[seen].argmax(1) == y_train[seen]).mean())
    batches = _augmented_batches(parts["train"], base, teacher_probs, options)
    schedule = keras.optimizers.schedules.CosineDecay(options.learning_rate, max(1, options.epochs * len(batches)))
    net.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=options.label_smoothing),
        metrics=["accuracy"],
    )
    y_val, probs = scored(base, parts["val"])
    best_acc = float((probs.argmax(1) == y_val).mean())
    history: dict[str, list[float]] = {
        "loss": [],
        "accuracy": [],
        "val_accuracy": [best_acc],
        "val_loss": [log_loss(y_val, probs)],
    }
    best_weights, best_epoch = net.get_weights(), 0
    log.info("base val accuracy %.4f", best_acc)
    for epoch in range(1, options.epochs + 1):
        started = time.time()
        fitted = net.fit(batches, epochs=1, verbose=1)
        _, probs = scored(base, parts["val"])
        acc = float((probs.argmax(1) == y_val).mean())
        history["loss"].append(float(fitted.history["loss"][-1]))
        history["accuracy"].append(float(fitted.history["accuracy"][-1]))
        history["val_accuracy"].append(acc)
        history["val_loss"].append(log_loss(y_val, probs))
        log.info("epoch %d: val accuracy %.4f (%.0f s)", epoch, acc, time.time() - started)
        if acc > best_acc:
            best_acc, best_weights, best_epoch = acc, net.get_weights(), epoch
    net.set_weights(best_weights)
    trained = [layer.name for layer in net.layers if layer.weights]
    what = f"Layers from `{options.train_from}` up" if options.train_from else "Whole network"
    steps = [
        *meta.get("recipe", {}).get("steps", []),
        f"{what} fine-tuned from `{options.base.name}` (every such layer but batch norm, which keeps its "
        f"statistics) on strongly augmented train images decoded afresh each epoch (resized crop 35-100% of the "
        f"area, flip, colour, sometimes greyscale, blur, JPEG), Adam lr {options.learning_rate:.2g} cosine-decayed "
        f"over {options.epochs} epochs, batch {options.batch_size}, label smoothing {options.label_smoothing}"
        f"{_teacher_words(options)}; "
        f"val accuracy per epoch {[round(v, 4) for v in history['val_accuracy']]} (epoch 0: the base), kept "
        f"epoch {best_epoch}.",
    ]
    meta.update(
        name=options.out.name,
        recipe={"name": "whole fine-tune", "steps": steps, "histories": [{**history, "stage": "whole"}]},
        command=options.command,
    )
    for key in ("trained_layers", "saved", "int8", "latency_ms_per_crop", "format"):
        meta.pop(key, None)
    folder = options.out
    half = {name for name in trained if not name.startswith("head_")}
    save_model_folder(folder, net, meta, trained, half_precision_layers=half)
    shutil.copyfile(options.base / "split.csv", folder / "split.csv")
    figures = figures_as_saved(folder, {name: parts[name] for name in ("val", "test")}, classes)
    full = finish_model_folder(folder, options.data, figures, options.int8)
    write_plots(folder, list(classes), history, best_epoch, figures["test"])
    write_card(folder, full, figures)
    return {"best_epoch": best_epoch, "val_accuracy": history["val_accuracy"], **full["figures"]}
