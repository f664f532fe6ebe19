"""The training pipeline: split, cached features, the seed or improved recipe, evaluation and artefacts.

Recipes:

- ``seed``: the seed notebook, faithfully: frozen backbone + Flatten + Dense(512, relu) + Dense(15, softmax),
  Adam (lr 1e-3), categorical cross-entropy, fixed epochs, no dropout, no augmentation, no early stopping.
- ``improved``: augmented views (flip, random crop + colour), average pooling + dropout head, class-balanced
  loss, early stopping on val loss (optionally KerasTuner-searched head), then fine-tuning of the top backbone
  block(s) at a low learning rate on features cached below them.
"""

from __future__ import annotations

import logging
import shlex
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from har_stream.action_model.loading import KerasActionModel, describe_weights, save_model_folder
from har_stream.action_model.network import (
    HEAD_PREFIX,
    BackboneSpec,
    HeadConfig,
    backbone_spec,
    build_network,
    layers_above,
    top_submodel,
)
from har_stream.actions import ACTIONS
from har_stream.training.dataset import DatasetError, LabelledImage, read_labels, save_split, stratified_split
from har_stream.training.features import FeatureSet, extract_features
from har_stream.training.fitting import FitSettings, History, fit, predict_features
from har_stream.training.latency import measure_latency
from har_stream.training.metrics import classification_report, headline_figures
from har_stream.training.reports import plot_confusion, plot_curves, write_card

log = logging.getLogger(__name__)

SPLIT_FRACTIONS = (0.7, 0.15, 0.15)


@dataclass
class TrainOptions:
    """Everything ``har-stream models train`` accepts."""

    data: Path
    out: Path
    backbone: str = "vgg16"
    recipe: str = "improved"
    weights: str | None = None  # backbone weights: None/auto, imagenet, hed, none, or a path
    seed: int = 42
    epochs: int = 10
    batch_size: int = 32
    views: tuple[str, ...] = ("orig", "flip", "jitter")
    head_units: int = 512
    dropout: float = 0.5
    head_batchnorm: bool | None = None  # None: on for vgg16 (features far from unit scale), off otherwise
    learning_rate: float = 1e-3
    finetune_blocks: int = 1
    finetune_epochs: int = 5
    finetune_learning_rate: float = 1e-4
    tune: bool = False
    tune_trials: int = 8
    per_class_limit: int | None = None
    cache_features: bool = True
    int8: bool = True
    command: str = field(default_factory=lambda: shlex.join(["har-stream", *sys.argv[1:]]))


@dataclass
class TrainResult:
    """Where the model went and its figures."""

    folder: Path
    figures: dict[str, dict[str, Any]]
    meta: dict[str, Any]


def _limit(rows: list[LabelledImage], per_class: int | None) -> list[LabelledImage]:
    if per_class is None:
        return rows
    taken: Counter[str] = Counter()
    kept = []
    for row in rows:
        if taken[row.label] < per_class:
            taken[row.label] += 1
            kept.append(row)
    return kept


def advance(network: Any, from_cut: str, to_cut: str, x: np.ndarray) -> np.ndarray:
    """Run the (frozen) layers between two cut points over cached features."""
    if from_cut == to_cut:
        return x
    import keras

    between = keras.Model(network.get_layer(from_cut).output, network.get_layer(to_cut).output)
    return predict_features(between, x, batch=64).astype(np.float16)


class _Data:
    """Cached features by split, at the lowest cut point the recipe trains from."""

    def __init__(
        self, spec: BackboneSpec, network: Any, weights_tag: str, cut: str, rows: list, split: dict, cache: bool
    ) -> None:
        import keras

        trunk = keras.Model(network.input, network.get_layer(cut).output)
        self.cut = cut
        self.cache = cache
        self.full = extract_features(trunk, spec, weights_tag, cut, rows, cache=cache)
        self.trunk, self.spec, self.weights_tag = trunk, spec, weights_tag
        self.rows, self.split = rows, split

    def unreadable(self) -> int:
        return int((~self.full.kept).sum())

    def xy(self, split_name: str, views: tuple[str, ...] = ("orig",)) -> tuple[np.ndarray, np.ndarray]:
        """Features and labels of one split; extra views (train only) are extracted and cached on demand."""
        mask = np.array([self.split[r.filename] == split_name for r in self.rows]) & self.full.kept
        xs, ys = [self.full.features[mask]], [self.full.labels[mask]]
        for view in views:
            if view == "orig":
                continue
            rows = [r for r, m in zip(self.rows, mask, strict=True) if m]
            extra: FeatureSet = extract_features(
                self.trunk, self.spec, self.weights_tag, self.cut, rows, view, cache=self.cache
            )
            xs.append(extra.features[extra.kept])
            ys.append(extra.labels[extra.kept])
        return np.concatenate(xs), np.concatenate(ys)


def _tune_head(
    options: TrainOptions, network: Any, cut: str, train: tuple, val: tuple, head_batchnorm: bool
) -> dict[str, float]:
    """KerasTuner random search over the head (units, dropout, learning rate) on cached features."""
    import keras
    import keras_tuner

    from har_stream.training.features import feature_cache_dir
    from har_stream.training.fitting import feature_batches

    shape = tuple(int(d) for d in network.get_layer(cut).output.shape[1:])

    def build(hp: Any) -> Any:
        units, dropout = hp.Choice("units", [256, 512, 1024]), hp.Float("dropout", 0.2, 0.6, step=0.1)
        head = HeadConfig("avg", units, 0.2, dropout, head_batchnorm)
        from har_stream.action_model.network import add_head

        inputs = keras.Input(shape)
        model = keras.Model(inputs, add_head(inputs, len(ACTIONS), head))
        lr = hp.Float("learning_rate", 1e-4, 3e-3, sampling="log")
        model.compile(keras.optimizers.Adam(lr), "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    tuner = keras_tuner.RandomSearch(
        build,
        objective="val_loss",
        max_trials=options.tune_trials,
        seed=options.seed,
        directory=str(feature_cache_dir() / "tuner"),
        project_name=f"{options.out.name}-{int(time.time())}",
    )
    tuner.search(
        feature_batches(*train, options.batch_size, shuffle=True, seed=options.seed),
        validation_data=feature_batches(*val, 128),
        epochs=min(options.epochs, 25),
        callbacks=[keras.callbacks.EarlyStopping("val_loss", patience=3)],
        verbose=0,
    )
    best = tuner.get_best_hyperparameters(1)[0].values
    log.info("KerasTuner best head: %s", best)
    return {k: float(v) for k, v in best.items()}


def train(options: TrainOptions) -> TrainResult:
    """Run one recipe end to end and write the model folder; returns its figures."""
    import keras

    if options.recipe not in ("seed", "improved"):
        raise ValueError(f"recipe must be 'seed' or 'improved', not {options.recipe!r}")
    keras.utils.set_random_seed(options.seed)
    rows = _limit(read_labels(options.data), options.per_class_limit)
    split = stratified_split(rows, options.seed, SPLIT_FRACTIONS)
    empty = [name for name in ("train", "val", "test") if name not in split.values()]
    if empty:
        raise DatasetError(
            f"{options.data}: too few images for a train/val/test split ({len(rows)} usable; the {', '.join(empty)} "
            "split would be empty): give at least 3 images per class"
        )
    spec = backbone_spec(options.backbone)
    weights = spec.resolve_weights(options.weights)
    seed_recipe = options.recipe == "seed"
    head_batchnorm = spec.name == "vgg16" if options.head_batchnorm is None else options.head_batchnorm
    tuned: dict[str, float] = {}
    head = (
        HeadConfig("flatten", 512, 0.0, 0.0)
        if seed_recipe
        else HeadConfig("avg", options.head_units, 0.2, options.dropout, head_batchnorm)
    )
    network = build_network(spec, weights, len(ACTIONS), head)
    finetune = 0 if seed_recipe else options.finetune_blocks
    low_cut, top_cut = spec.cut_layer(finetune), spec.cut_layer(0)
    # Features are cached at least one block down, so the seed, head-only and one-block runs share one cache.
    cache_cut = spec.cut_layer(max(finetune, 1))
    tag = f"{weights.kind}:{Path(weights.path).name}"
    data = _Data(spec, network, tag, cache_cut, rows, split, options.cache_features)
    views = ("orig",) if seed_recipe else options.views

    x_train_low, y_train = data.xy("train", views)
    x_val_low, y_val = data.xy("val")
    x_test_low, y_test = data.xy("test")
    x_train_low, x_val_low, x_test_low = (
        advance(network, cache_cut, low_cut, x) for x in (x_train_low, x_val_low, x_test_low)
    )
    x_train, x_val = advance(network, low_cut, top_cut, x_train_low), advance(network, low_cut, top_cut, x_val_low)
    steps = [f"Backbone features cached at `{cache_cut}` (computed once per image and view)."]
    histories: list[History] = []

    if not seed_recipe and options.tune:
        tuned = _tune_head(options, network, top_cut, (x_train, y_train), (x_val, y_val), head_batchnorm)
        head = HeadConfig("avg", int(tuned["units"]), 0.2, tuned["dropout"], head_batchnorm)
        network = build_network(spec, weights, len(ACTIONS), head)
        steps.append(f"KerasTuner random search ({options.tune_trials} trials) chose {tuned}.")
    if seed_recipe:
        settings = FitSettings(1e-3, options.epochs, options.batch_size, seed=options.seed)
        steps.append(
            f"Seed recipe: frozen backbone, Flatten + Dense(512, relu) + Dense(15, softmax), Adam lr 1e-3, "
            f"categorical cross-entropy (sparse form), {options.epochs} epochs, batch {options.batch_size}, "
            "no augmentation."
        )
    else:
        settings = FitSettings(
            tuned.get("learning_rate", options.learning_rate), max(options.epochs, 1), options.batch_size,
            early_stopping=True, patience=4, class_weighted=True, seed=options.seed,
        )  # fmt: skip
        steps.append(
            f"Stage 2: head {head.to_dict()} on frozen features, views {list(views)}, class-balanced loss, Adam lr "
            f"{settings.learning_rate:.2g}, up to {settings.epochs} epochs, early stopping on val loss (patience 4)."
        )
    head_model = top_submodel(network, top_cut)
    history = fit(head_model, x_train, y_train, x_val, y_val, settings)
    history.stage = "seed" if seed_recipe else "head"
    histories.append(history)
    trained_from = top_cut

    if finetune:
        before = {name: network.get_layer(name).get_weights() for name in layers_above(network, low_cut)}
        val_acc_before = float(np.mean(predict_features(top_submodel(network, low_cut), x_val_low).argmax(1) == y_val))
        tune_settings = FitSettings(
            options.finetune_learning_rate, options.finetune_epochs, options.batch_size,
            early_stopping=True, patience=2, class_weighted=True, seed=options.seed,
        )  # fmt: skip
        tuned_part = top_submodel(network, low_cut)
        for layer in tuned_part.layers:  # batch norm keeps its ImageNet statistics (inference mode)
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False
        history = fit(tuned_part, x_train_low, y_train, x_val_low, y_val, tune_settings)
        history.stage = f"fine-tune top {finetune}"
        histories.append(history)
        val_acc_after = float(np.mean(predict_features(top_submodel(network, low_cut), x_val_low).argmax(1) == y_val))
        if val_acc_after >= val_acc_before:
            trained_from = low_cut
            steps.append(
                f"Stage 3: fine-tuned the top {finetune} backbone block(s) above `{low_cut}` with the head, Adam lr "
                f"{options.finetune_learning_rate:.2g}, up to {options.finetune_epochs} epochs, early stopping "
                f"(val accuracy {val_acc_before:.3f} → {val_acc_after:.3f})."
            )
        else:
            for name, values in before.items():
                network.get_layer(name).set_weights(values)
            steps.append(
                f"Stage 3 (fine-tuning the top {finetune} block(s)) lowered val accuracy "
                f"({val_acc_before:.3f} → {val_acc_after:.3f}); kept the stage-2 weights."
            )

    scorer = top_submodel(network, low_cut)
    figures = {
        "val": classification_report(y_val, predict_features(scorer, x_val_low), ACTIONS),
        "test": classification_report(y_test, predict_features(scorer, x_test_low), ACTIONS),
    }
    trained_layers = layers_above(network, trained_from)
    counts = {s: sum(1 for v in split.values() if v == s) for s in ("train", "val", "test")}
    meta: dict[str, Any] = {
        "name": options.out.name,
        "backbone": spec.name,
        "backbone_weights": describe_weights(weights),
        "input_size": spec.input_size,
        "head": head.to_dict(),
        "classes": list(ACTIONS),
        "recipe": {"name": options.recipe, "steps": steps, "histories": [h.to_dict() for h in histories]},
        "data": {"path": str(options.data), "images": len(rows), "unreadable": data.unreadable()},
        "split": {"seed": options.seed, "fractions": list(SPLIT_FRACTIONS), "counts": counts},
        "command": options.command,
        "figures": headline_figures(figures),
    }
    folder = options.out
    half = {name for name in trained_layers if not name.startswith(HEAD_PREFIX)}
    save_model_folder(folder, network, meta, trained_layers, half_precision_layers=half)
    meta = {**meta, "trained_layers": trained_layers, "saved": time.strftime("%Y-%m-%d")}
    save_split(split, rows, folder / "split.csv")
    keras_model = KerasActionModel(network, meta, folder)
    meta["latency_ms_per_crop"] = {"keras": measure_latency(keras_model)}
    if options.int8:
        from har_stream.action_model.loading import load_action_model
        from har_stream.training.int8 import quantize_model_folder

        meta["int8"] = quantize_model_folder(folder, options.data)
        meta["latency_ms_per_crop"]["onnx-int8"] = measure_latency(load_action_model(folder, "onnx-int8"))
    plot_curves(histories, folder / "curves.png")
    plot_confusion(np.array(figures["test"]["confusion_matrix"]), list(ACTIONS), folder / "confusion.png",
                   f"{meta['name']}: test split, accuracy {figures['test']['accuracy']:.3f}")  # fmt: skip
    import json

    (folder / "metrics.json").write_text(json.dumps(figures, indent=2) + "\n")
    # model.json gets the figures measured after saving (latency, ablation) too.
    full_meta = json.loads((folder / "model.json").read_text())
    full_meta.update({k: meta[k] for k in ("latency_ms_per_crop", "int8") if k in meta})
    (folder / "model.json").write_text(json.dumps(full_meta, indent=2) + "\n")
    write_card(folder, full_meta, figures)
    return TrainResult(folder, figures, full_meta)
