"""Finish an open-set model folder: its int8 ONNX copy (calibrated on served crops), latency, and model card."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from har_stream.actions import ALL_ACTIONS
from har_stream.model_card import ModelCard, Table
from har_stream.training.background import labelled_crops
from har_stream.training.dataset import load_bgr, load_split, read_labels
from har_stream.training.served import read_crop, served_crop


def add_int8_and_card(folder: Path, data: Path, harvest: Path, seed: int = 0) -> dict[str, Any]:
    """Quantize (calibration: 128 served photo crops and 128 CCTV crops of the train parts; check: 600 held-out
    test photos, whole), measure latency of both runtimes, and write ``card.md``."""
    from har_stream.action_model.loading import load_action_model
    from har_stream.action_model.onnx_runtime import write_int8_model
    from har_stream.config.schema import ClassifierConfig, DetectorConfig
    from har_stream.detection.detector import PersonDetector
    from har_stream.training.latency import measure_latency
    from har_stream.training.served import person_boxes

    model = load_action_model(folder, runtime="keras")
    rng = np.random.default_rng(seed)
    rows = read_labels(data)
    split = load_split(folder / "split.csv")
    train = [i for i, r in enumerate(rows) if split.get(r.filename) == "train"]
    test = [i for i, r in enumerate(rows) if split.get(r.filename) == "test"]
    boxes = person_boxes(rows, PersonDetector(DetectorConfig()))
    padding = ClassifierConfig().crop_padding
    size = model.input_size
    photo = [served_crop(load_bgr(rows[i].path), boxes[i], padding, size) for i in rng.choice(train, 128, False)]
    cctv_rows = [c for c in labelled_crops(harvest, ("train",))]
    cctv = [read_crop(cctv_rows[i].path, size) for i in rng.choice(len(cctv_rows), min(128, len(cctv_rows)), False)]
    calibration = np.stack(photo + [c for c in cctv if c is not None])
    check_idx = sorted(rng.choice(test, min(600, len(test)), False))
    from har_stream.action_model.preprocess import square_resize

    check = np.stack([square_resize(load_bgr(rows[i].path), size) for i in check_idx])
    labels = np.array([ALL_ACTIONS.index(rows[i].label) for i in check_idx])
    report = write_int8_model(model, calibration, check, labels)
    meta = json.loads((folder / "model.json").read_text())
    meta["latency_ms_per_crop"] = {
        runtime: measure_latency(load_action_model(folder, runtime)) for runtime in ("keras", "onnx-int8")
    }
    (folder / "model.json").write_text(json.dumps(meta, indent=2) + "\n")
    write_open_set_card(folder, meta)
    return {"int8": report, "latency_ms_per_crop": meta["latency_ms_per_crop"]}


def write_open_set_card(folder: Path, meta: dict[str, Any]) -> Path:
    """``card.md`` of an open-set model folder, from its ``model.json``."""
    figures = meta.get("figures", {})
    cal = meta.get("calibration", {})
    card = ModelCard(
        f"Action model `{meta['name']}`",
        [
            "Open-set action classifier, trained as served.",
            f"Trained {meta.get('saved', '')} with `{meta.get('command', '')}`.",
        ],
    )
    card.add(
        "Classes",
        f"The 15 HAR actions plus background classes for ordinary people: {', '.join(meta['classes'])}.",
        "On data that has only the 15 actions, a background prediction counts as an error.",
    )
    card.add(
        "Backbone",
        f"- `{meta['backbone']}`, input {meta['input_size']}x{meta['input_size']}: the backbone of "
        f"`{meta.get('base_model')}`, its fine-tuned top stages included, unchanged (same cost per crop).",
        f"- Backbone weights: {meta['backbone_weights']['description']}.",
    )
    card.add(
        "Data",
        f"- Photos: the HAR images and the base model's split (`split.csv`); served crops: "
        f"{meta['served_crops']['photos_with_person']} of {meta['served_crops']['photos']} photos have a detected "
        f"person ({meta['served_crops']['rule']}).",
        f"- CCTV crops: cut by the pipeline's detector, tracker and crop function from the clips of the train and val "
        f"groups of `models/cctv_split.csv` (never the test groups): {meta['cctv_crops']['train']} train and "
        f"{meta['cctv_crops']['val']} val crops; labels {meta['cctv_crops']['labels']} "
        "(rules in `har_stream/training/background.py`: moving people in quiet clips are walking, still ones standing "
        "or other, people touching another person in fight clips are fighting).",
        "- CCTV-style augmentation of the photo crops: people 40-150 px tall resampled back up, blur, JPEG "
        "quality 20-70, greyscale, a high camera angle.",
    )
    card.add("Recipe", *[f"- {step}" for step in meta["recipe"]["steps"]])
    table = Table(["data", "accuracy", "log loss", "ECE"])
    for key, title in (
        ("test_photo_whole", "HAR test split, whole images (comparable with published figures)"),
        ("test_photo_crop", "HAR test split, served person crops"),
        ("val_cctv_crop", "CCTV val-group crops (walking/standing/other/fighting)"),
    ):
        if key in figures:
            f = figures[key]
            ece = f"{f['ece']:.3f}" if "ece" in f else "–"
            table.rows.append([title, f"{f['accuracy']:.3f}", f"{f['log_loss']:.3f}", ece])
    section = card.add(
        "Figures (Keras, before int8)",
        table,
        "",
        f"Calibration: temperature {cal.get('temperature')} fitted on validation rows; val ECE "
        f"{cal.get('val_ece_before')} before, {cal.get('val_ece_after')} after.",
    )
    if "int8" in meta:
        i8 = meta["int8"]
        section.body += [
            "",
            f"int8 ONNX copy (`{i8['file']}`, what the pipeline runs): accuracy {i8['accuracy_int8']} vs Keras "
            f"{i8['accuracy_keras']} on {i8['checked_crops']} held-out test photos, "
            f"top-1 agreement {i8['top1_agreement']}.",
        ]
    if "latency_ms_per_crop" in meta:
        lat = meta["latency_ms_per_crop"]
        section.body += [
            "",
            "Latency, ms per crop (batch 1 / batch 8): "
            + "; ".join(f"{k} {v['batch1']} / {v['batch8']}" for k, v in lat.items())
            + f" ({lat['keras']['machine']}).",
        ]
    card.add_notes(meta.get("notes"))
    return card.write(folder)
