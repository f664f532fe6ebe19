"""Make a model folder's int8 ONNX copy from real images: calibration on train crops, a check on held-out ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from har_stream.action_model.preprocess import square_resize
from har_stream.training.dataset import LabelledImage, load_bgr, load_split, read_labels


def whole_image_crops(rows: list[LabelledImage], size: int) -> tuple[np.ndarray, np.ndarray]:
    """Every readable image of ``rows`` whole, squared to ``size`` as served, with its class index."""
    crops, labels = [], []
    for row in rows:
        image = load_bgr(row.path)
        if image is not None:
            crops.append(square_resize(image, size))
            labels.append(row.class_index)
    return np.stack(crops), np.array(labels, dtype=np.int64)


def quantize_model_folder(
    model_dir: str | Path, data: str | Path, calibration: int = 256, check: int = 600, seed: int = 0
) -> dict[str, Any]:
    """Write ``model-int8.onnx`` into ``model_dir``: calibrated on ``calibration`` train-split images, checked on
    up to ``check`` test-split images (or, without a split, disjoint random images of ``data``)."""
    from har_stream.action_model.loading import load_action_model
    from har_stream.action_model.onnx_runtime import write_int8_model

    model = load_action_model(model_dir, runtime="keras")
    rows = read_labels(data)
    split_file = Path(model_dir) / "split.csv"
    rng = np.random.default_rng(seed)
    if split_file.is_file():
        split = load_split(split_file)
        train = [r for r in rows if split.get(r.filename) == "train"]
        held_out = [r for r in rows if split.get(r.filename) == "test"]
    else:
        order = rng.permutation(len(rows))
        train = [rows[i] for i in order[:calibration]]
        held_out = [rows[i] for i in order[calibration:]]
    pick = lambda items, n: [items[i] for i in sorted(rng.permutation(len(items))[:n])]  # noqa: E731
    calibration_crops, _ = whole_image_crops(pick(train, calibration), model.input_size)
    check_crops, check_labels = whole_image_crops(pick(held_out, check), model.input_size)
    return write_int8_model(model, calibration_crops, check_crops, check_labels)


def add_int8_copy(model_dir: str | Path, data: str | Path) -> dict[str, Any]:
    """Quantize an existing model folder, measure both runtimes' latency, and update model.json and card.md."""
    import json

    from har_stream.action_model.loading import load_action_model
    from har_stream.training.latency import measure_latency
    from har_stream.training.reports import write_card

    folder = Path(model_dir)
    report = quantize_model_folder(folder, data)
    meta = json.loads((folder / "model.json").read_text())
    meta["int8"] = report
    meta["latency_ms_per_crop"] = {
        runtime: measure_latency(load_action_model(folder, runtime)) for runtime in ("keras", "onnx-int8")
    }
    (folder / "model.json").write_text(json.dumps(meta, indent=2) + "\n")
    write_card(folder, meta, json.loads((folder / "metrics.json").read_text()))
    return {"int8": report, "latency_ms_per_crop": meta["latency_ms_per_crop"]}
