"""Input resolution as a lever for the default classifier's backbone, against the same split.

The backbone of ``models/efficientnet_lite2_har`` (ImageNet EfficientNet-Lite2 with its fine-tuned top stages;
the default open-set model shares it) is built at each resolution with the same weights. Every HAR photo is
embedded once per resolution (whole, padded to a square, as ``har-stream models evaluate`` feeds it), and the same
linear probe (standardised features, multinomial logistic regression, C chosen on the val split) is fitted on
the train split. Reported: val and test top-1 and log loss per resolution, and the backbone's cost per crop,
measured side by side in this process (Keras, batch 1 and 8, interleaved).

    .venv/bin/python -m experiments.resolution_lever [--sizes 260,300]
        [--json experiments/results/resolution_lever.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from experiments.paths import HAR_DATA, REPO
from har_stream.action_model.network import backbone_spec
from har_stream.training.dataset import LabelledImage, load_split, read_labels
from har_stream.training.features import extract_features

BASE = REPO / "models" / "efficientnet_lite2_har"


def trunk_at(size: int) -> Any:
    """The base model's backbone, pooled, built for ``size`` x ``size`` inputs with the base model's weights."""
    from har_stream.action_model.efficientnet_lite import build_efficientnet_lite
    from har_stream.action_model.loading import load_action_model

    net = load_action_model(BASE, runtime="keras").keras_model
    trunk = build_efficientnet_lite("lite2", weights="imagenet", pooling=True, input_size=size)
    names = {layer.name for layer in net.layers}
    for layer in trunk.layers:
        if layer.weights and layer.name in names:
            layer.set_weights(net.get_layer(layer.name).get_weights())
    return trunk


def embed(trunk: Any, rows: list[LabelledImage], size: int) -> np.ndarray:
    """Pooled features of every image (whole, square-padded to ``size``), computed once and cached."""
    spec = backbone_spec("efficientnet_lite2", size)
    features = extract_features(trunk, spec, BASE.name, "avg_pool", rows)
    if not features.kept.all():
        raise SystemExit(f"{int((~features.kept).sum())} unreadable images in the split")
    return features.features.astype(np.float32)


def probe(x: np.ndarray, y: np.ndarray, part: np.ndarray) -> dict:
    """Linear probe: C chosen on val by accuracy; figures on val and test."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    best: dict = {}
    for c in (0.003, 0.01, 0.03):
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=3000))
        model.fit(x[part == "train"], y[part == "train"])
        figures = {"C": c}
        for name in ("val", "test"):
            probs = model.predict_proba(x[part == name])
            figures[name] = {
                "accuracy": round(float((probs.argmax(1) == y[part == name]).mean()), 4),
                "log_loss": round(float(log_loss(y[part == name], probs, labels=np.arange(probs.shape[1]))), 4),
            }
        if not best or figures["val"]["accuracy"] > best["val"]["accuracy"]:
            best = figures
    return best


def cost(trunks: dict[int, Any], rounds: int = 15) -> dict:
    """Median ms per crop at batch 1 and 8, sizes interleaved round by round."""
    rng = np.random.default_rng(0)
    times: dict[tuple[int, int], list[float]] = {(s, b): [] for s in trunks for b in (1, 8)}
    for _ in range(rounds):
        for size, trunk in trunks.items():
            for b in (1, 8):
                x = rng.uniform(-1, 1, (b, size, size, 3)).astype(np.float32)
                start = time.perf_counter()
                trunk.predict_on_batch(x)
                times[(size, b)].append((time.perf_counter() - start) * 1000 / b)
    return {f"{s}px_b{b}_ms": round(float(np.median(v[2:])), 2) for (s, b), v in times.items()}


def main() -> None:
    """Embed, probe and time each resolution."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=HAR_DATA)
    parser.add_argument("--sizes", default="260,300")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rows = read_labels(args.data)
    split = load_split(BASE / "split.csv")
    rows = [r for r in rows if r.filename in split]
    y = np.array([r.class_index for r in rows])
    part = np.array([split[r.filename] for r in rows])
    sizes = [int(s) for s in args.sizes.split(",")]
    trunks = {size: trunk_at(size) for size in sizes}
    result: dict = {"backbone": str(BASE.relative_to(REPO)), "images": len(rows), "by_size": {}}
    for size, trunk in trunks.items():
        x = embed(trunk, rows, size)
        result["by_size"][str(size)] = probe(x, y, part)
        print(size, result["by_size"][str(size)], flush=True)
    result["cost"] = cost(trunks)
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
