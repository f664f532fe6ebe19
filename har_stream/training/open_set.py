"""Train an open-set classifier as it is served: the fifteen actions plus background classes, on photos, on
person crops cut from them as the pipeline cuts them (also CCTV-degraded), and on real CCTV person crops; then
calibrate it by temperature scaling on validation data.

The backbone (with its fine-tuned top stages) comes unchanged from a base model folder, so the cost per crop
stays the same; only the head is trained anew, on cached pooled features. The temperature is folded into the
output layer, so served probabilities are calibrated with no runtime change.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from har_stream.actions import ACTIONS, ALL_ACTIONS
from har_stream.training.background import HarvestedCrop, labelled_crops
from har_stream.training.dataset import LabelledImage, load_bgr, load_split, read_labels
from har_stream.training.features import feature_cache_dir, make_view
from har_stream.training.served import cctv_degrade, count_found, person_boxes, read_crop, served_crop

log = logging.getLogger(__name__)

POOL_LAYER = "head_pool"


@dataclass
class OpenSetOptions:
    """What to train from and where to write it."""

    base: Path
    data: Path
    harvest: Path
    out: Path
    seed: int = 0
    epochs: int = 40
    patience: int = 4
    learning_rate: float = 1e-4
    cctv_weight: float = 1.0
    command: str = ""
    #: Cross-validation: recording groups whose CCTV crops are left out, and the val part trained on too.
    exclude_groups: frozenset[str] = frozenset()
    cctv_all_train: bool = False


@dataclass
class FeatureBlock:
    """Pooled features of one kind of input, with labels (index into ALL_ACTIONS) and a split part per row."""

    name: str
    x: np.ndarray
    y: np.ndarray
    part: np.ndarray
    notes: dict[str, Any] = field(default_factory=dict)


def embed(
    trunk: Any,
    preprocess: Callable[[np.ndarray], np.ndarray],
    load: Callable[[int], np.ndarray | None],
    n: int,
    key: str,
    desc: str,
    batch: int = 32,
) -> tuple[np.ndarray, np.ndarray]:
    """Features of ``n`` inputs (``load(i)`` gives the square crop, None when unreadable), cached under ``key``."""
    path = feature_cache_dir() / f"openset-{key}.npz"
    if path.is_file():
        with np.load(path) as stored:
            return stored["x"], stored["kept"]
    dim = int(trunk.output.shape[-1])
    x = np.zeros((n, dim), dtype=np.float16)
    kept = np.ones(n, dtype=bool)
    for start in tqdm(range(0, n, batch), desc=desc, unit="batch"):
        idx = list(range(start, min(n, start + batch)))
        crops = [load(i) for i in idx]
        good = [j for j, c in enumerate(crops) if c is not None]
        for j, c in enumerate(crops):
            kept[idx[j]] = c is not None
        if good:
            out = np.asarray(trunk.predict_on_batch(preprocess(np.stack([crops[j] for j in good]))))
            x[[idx[j] for j in good]] = out.astype(np.float16)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, x=x, kept=kept)
    return x, kept


def _key(*parts: object) -> str:
    return hashlib.sha1(json.dumps([str(p) for p in parts]).encode()).hexdigest()[:16]


def photo_blocks(
    trunk: Any,
    preprocess: Callable,
    rows: list[LabelledImage],
    split: dict[str, str],
    boxes: np.ndarray,
    size: int,
    padding: float,
    seed: int,
    tag: str,
) -> list[FeatureBlock]:
    """Photos whole (and flipped, train only), as served crops, and as CCTV-degraded served crops (train only)."""
    labels = np.array([ALL_ACTIONS.index(r.label) for r in rows])
    parts = np.array([split.get(r.filename, "") for r in rows])
    train = np.flatnonzero(parts == "train")

    def whole(view: str, pick: np.ndarray) -> Callable[[int], np.ndarray | None]:
        def load(i: int) -> np.ndarray | None:
            image = load_bgr(rows[pick[i]].path)
            return None if image is None else make_view(image, size, view, seed=int(pick[i]))

        return load

    def crop(degrade: bool, pick: np.ndarray) -> Callable[[int], np.ndarray | None]:
        def load(i: int) -> np.ndarray | None:
            image = load_bgr(rows[pick[i]].path)
            if image is None:
                return None
            out = served_crop(image, boxes[pick[i]], padding, size)
            return cctv_degrade(out, np.random.default_rng(seed * 100_003 + int(pick[i]))) if degrade else out

        return load

    everyone = np.arange(len(rows))
    specs = [
        ("photo_whole", whole("orig", everyone), everyone),
        ("photo_whole_flip", whole("flip", train), train),
        ("photo_crop", crop(False, everyone), everyone),
        ("photo_crop_cctv", crop(True, train), train),
    ]
    blocks = []
    for name, load, pick in specs:
        x, kept = embed(trunk, preprocess, load, len(pick), _key(tag, name, len(pick), seed), name)
        blocks.append(FeatureBlock(name, x[kept], labels[pick][kept], parts[pick][kept]))
    return blocks


def cctv_blocks(
    trunk: Any,
    preprocess: Callable,
    crops: list[HarvestedCrop],
    tag: str,
    size: int,
    exclude_groups: frozenset[str] = frozenset(),
    all_train: bool = False,
) -> list[FeatureBlock]:
    """Harvested CCTV crops (train and val parts), rescaled to the model's input ``size``, and their mirror
    images (train rows only).

    ``exclude_groups`` leaves recordings out entirely and ``all_train`` trains on the val part too (cross-validation
    over the train and val groups); features are computed once for every crop and cached either way.
    """
    labels = np.array([ALL_ACTIONS.index(c.label) for c in crops])
    parts = np.array(["train" if all_train else c.part for c in crops])
    keep = np.array([c.group not in exclude_groups for c in crops], dtype=bool)
    everyone = np.arange(len(crops))

    def loader(flip: bool) -> Callable[[int], np.ndarray | None]:
        def load(i: int) -> np.ndarray | None:
            image = read_crop(crops[i].path, size)
            return None if image is None else np.ascontiguousarray(image[:, ::-1] if flip else image)

        return load

    blocks = []
    for name, flip in (("cctv_crop", False), ("cctv_crop_flip", True)):
        key = _key(tag, name, "all", f"at {size} px", [str(c.path) for c in crops])
        x, kept = embed(trunk, preprocess, loader(flip), len(crops), key, name)
        rows = everyone[kept & keep & ((parts == "train") if flip else True)]
        blocks.append(FeatureBlock(name, x[rows], labels[rows], parts[rows]))
    return blocks


def fit_temperature(probs: np.ndarray, y: np.ndarray) -> float:
    """The temperature T minimising the log loss of ``softmax(log(probs) / T)`` (golden-section search)."""
    logp = np.log(np.clip(probs, 1e-12, 1.0))

    def nll(t: float) -> float:
        z = logp / t
        z = z - z.max(axis=1, keepdims=True)
        return float(-np.mean(z[np.arange(len(y)), y] - np.log(np.exp(z).sum(axis=1))))

    lo, hi = 0.25, 8.0
    golden = (np.sqrt(5) - 1) / 2
    for _ in range(60):
        a, b = hi - golden * (hi - lo), lo + golden * (hi - lo)
        if nll(a) < nll(b):
            hi = b
        else:
            lo = a
    return float((lo + hi) / 2)


def apply_temperature(probs: np.ndarray, t: float) -> np.ndarray:
    """``softmax(log(probs) / t)``."""
    z = np.log(np.clip(probs, 1e-12, 1.0)) / t
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, bins: int = 15) -> float:
    """ECE of the top-1 confidence over ``bins`` equal-width bins."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in itertools.pairwise(edges):
        inside = (confidence > lo) & (confidence <= hi)
        if inside.any():
            ece += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(ece)


def scores(probs: np.ndarray, y: np.ndarray, n_actions: int | None = None) -> dict[str, float]:
    """Top-1 accuracy and log loss (with ``n_actions``: accuracy when only the first n classes may be predicted)."""
    out = {
        "accuracy": round(float((probs.argmax(axis=1) == y).mean()), 4),
        "log_loss": round(float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, 1)))), 4),
        "n": len(y),
    }
    if n_actions is not None:
        out["accuracy_actions_only"] = round(float((probs[:, :n_actions].argmax(axis=1) == y).mean()), 4)
    return out


def _stack(blocks: Sequence[FeatureBlock], part: str, names: Sequence[str] | None = None) -> tuple[np.ndarray, ...]:
    chosen = [b for b in blocks if names is None or b.name in names]
    xs = [b.x[b.part == part] for b in chosen]
    ys = [b.y[b.part == part] for b in chosen]
    src = [np.full(int((b.part == part).sum()), b.name, dtype=object) for b in chosen]
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys), np.concatenate(src)


def _start_from_base_head(new: Any, base: Any, n_base: int, seed: int) -> None:
    """Copy the base model's head into the new network: its hidden layers whole, its output columns for the
    classes they share; the new classes' columns start small, with the base classes' mean bias."""
    for layer in base.layers:
        if layer.name.startswith("head_") and layer.weights and layer.name != "head_out":
            new.get_layer(layer.name).set_weights(layer.get_weights())
    kernel, bias = base.get_layer("head_out").get_weights()
    new_kernel, new_bias = new.get_layer("head_out").get_weights()
    rng = np.random.default_rng(seed)
    new_kernel[:, :n_base] = kernel
    new_kernel[:, n_base:] = rng.normal(0, 0.1 * float(kernel.std()), new_kernel[:, n_base:].shape)
    new_bias[:n_base] = bias
    new_bias[n_base:] = float(bias.mean())
    new.get_layer("head_out").set_weights([new_kernel, new_bias])


def train_open_set(options: OpenSetOptions) -> dict[str, Any]:
    """Train, calibrate and save the open-set model folder; return its figures."""
    import keras

    from har_stream.action_model.loading import load_action_model, save_model_folder
    from har_stream.action_model.network import HeadConfig, backbone_spec, build_network, top_submodel
    from har_stream.config.schema import ClassifierConfig, DetectorConfig
    from har_stream.detection.detector import PersonDetector
    from har_stream.training.fitting import predict_features

    keras.utils.set_random_seed(options.seed)
    base = load_action_model(options.base, runtime="keras")
    meta = base.meta
    net = base.keras_model
    trunk = keras.Model(net.input, net.get_layer(POOL_LAYER).output)
    rows = read_labels(options.data)
    split = load_split(options.base / "split.csv")
    padding = ClassifierConfig().crop_padding
    detector = PersonDetector(DetectorConfig())
    boxes = person_boxes(rows, detector)
    tag = f"{meta['name']}:{meta.get('saved', '')}:{base.input_size}"
    blocks = photo_blocks(trunk, base._preprocess, rows, split, boxes, base.input_size, padding, options.seed, tag)
    harvested = labelled_crops(options.harvest, ("train", "val"))
    blocks += cctv_blocks(
        trunk, base._preprocess, harvested, tag, base.input_size, options.exclude_groups, options.cctv_all_train
    )

    x_train, y_train, src_train = _stack(blocks, "train")
    x_val, y_val, _src_val = _stack(blocks, "val")
    counts = np.bincount(y_train, minlength=len(ALL_ACTIONS))
    weights = np.where(counts > 0, (counts.sum() / np.maximum(counts, 1) / len(ALL_ACTIONS)), 0.0) ** 0.5
    cctv = np.array([s.startswith("cctv") for s in src_train])
    sample_weight = (weights[y_train] * np.where(cctv, options.cctv_weight, 1.0)).astype(np.float32)

    spec = backbone_spec(meta["backbone"], int(meta["input_size"]))
    head = HeadConfig(**meta["head"])
    weights_kind = spec.resolve_weights("imagenet")
    new = build_network(spec, weights_kind, len(ALL_ACTIONS), head)
    backbone_layers = [name for name in meta["trained_layers"] if not name.startswith("head_")]
    for name in backbone_layers:
        new.get_layer(name).set_weights(net.get_layer(name).get_weights())
    _start_from_base_head(new, net, len(meta["classes"]), options.seed)
    top = top_submodel(new, POOL_LAYER)
    top.compile(
        optimizer=keras.optimizers.Adam(options.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=options.patience, restore_best_weights=True)
    history = top.fit(
        x_train,
        y_train,
        sample_weight=sample_weight,
        validation_data=(x_val, y_val),
        epochs=options.epochs,
        batch_size=64,
        callbacks=[stop],
        verbose=2,
        shuffle=True,
    ).history

    val_probs = predict_features(top, x_val)
    temperature = fit_temperature(val_probs, y_val)
    calibration = {
        "temperature": round(temperature, 4),
        "fitted_on": "validation rows (photo and CCTV val parts)",
        "val_ece_before": round(expected_calibration_error(val_probs, y_val), 4),
        "val_ece_after": round(expected_calibration_error(apply_temperature(val_probs, temperature), y_val), 4),
    }
    out_layer = new.get_layer("head_out")
    kernel, bias = out_layer.get_weights()
    out_layer.set_weights([kernel / temperature, bias / temperature])

    figures: dict[str, Any] = {"calibration": calibration}
    for name in ("photo_whole", "photo_crop"):
        x_test, y_test, _ = _stack(blocks, "test", [name])
        probs = predict_features(top, x_test)
        figures[f"test_{name}"] = scores(probs, y_test, len(ACTIONS))
        figures[f"test_{name}"]["ece"] = round(expected_calibration_error(probs, y_test), 4)
    for name in ("photo_crop", "cctv_crop"):
        x_v, y_v, _ = _stack(blocks, "val", [name])
        if len(y_v):
            figures[f"val_{name}"] = scores(predict_features(top, x_v), y_v)
    figures["history"] = {k: [round(float(v), 4) for v in vals] for k, vals in history.items()}

    by_label = {
        a: int(n)
        for a, n in zip(
            ALL_ACTIONS,
            np.bincount(np.array([ALL_ACTIONS.index(c.label) for c in harvested]), minlength=len(ALL_ACTIONS)),
            strict=True,
        )
        if n
    }
    new_meta = {
        **{k: v for k, v in meta.items() if k not in ("int8", "latency_ms_per_crop", "trained_layers", "format")},
        "name": options.out.name,
        "classes": list(ALL_ACTIONS),
        "command": options.command,
        "base_model": meta["name"],
        "recipe": {
            "name": "open-set, trained as served",
            "steps": [
                f"Backbone and its fine-tuned top stages taken unchanged from `{meta['name']}`.",
                "Head started from the base model's head (its output columns for the 15 actions; small new columns "
                "for the background classes) and trained on pooled features of: photos whole and mirrored; person "
                "crops cut from the photos by the pipeline's detector and crop function; those crops CCTV-degraded; "
                "real CCTV person crops (train groups) and their mirror images.",
                f"Adam lr {options.learning_rate}, sample weights 1/sqrt(class frequency), early stopping on val "
                f"loss (patience {options.patience}), best epoch {int(np.argmin(history['val_loss'])) + 1}.",
                f"Temperature scaling on validation rows: T = {temperature:.3f}, folded into `head_out`.",
            ],
        },
        "served_crops": {
            "photos_with_person": count_found(boxes),
            "photos": len(rows),
            "rule": "largest detected person, crop padding as served; photos with nobody found are kept whole",
        },
        "cctv_crops": {
            "labels": by_label,
            "train": int((np.array([c.part for c in harvested]) == "train").sum()),
            "val": int((np.array([c.part for c in harvested]) == "val").sum()),
        },
        "calibration": calibration,
        "figures": {k: v for k, v in figures.items() if k != "history"},
    }
    options.out.mkdir(parents=True, exist_ok=True)
    save_model_folder(options.out, new, new_meta, meta["trained_layers"])
    (options.out / "split.csv").write_bytes((options.base / "split.csv").read_bytes())
    (options.out / "history.json").write_text(json.dumps(figures["history"], indent=1) + "\n")
    log.info("saved %s (%s)", options.out, time.strftime("%H:%M:%S"))
    return figures
