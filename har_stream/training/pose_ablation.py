"""Do pose keypoints from the detector (yolo11n-pose) add accuracy to a trained model's image features?

Same split, same seed, same head, trained twice on the model's pooled backbone features: once alone, once with a
pose vector appended (17 keypoints relative to the person box, their confidences, and a person-found flag).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from har_stream.action_model.loading import load_action_model
from har_stream.action_model.network import backbone_spec
from har_stream.training.dataset import LabelledImage, load_bgr, load_split, read_labels
from har_stream.training.features import cache_key, extract_features, feature_cache_dir
from har_stream.training.fitting import FitSettings, fit, predict_features

log = logging.getLogger(__name__)

POSE_DIM = 17 * 3 + 1


def pose_vector(detections: Any) -> np.ndarray:
    """52 numbers for the most confident person: keypoints relative to the box (centre, height), confidences, 1.

    All zeros when nobody was found.
    """
    from har_stream.frame import KEYPOINTS

    vector = np.zeros(POSE_DIM, dtype=np.float32)
    if len(detections) == 0 or KEYPOINTS not in detections.data:
        return vector
    best = int(np.argmax(detections.confidence))
    x1, y1, x2, y2 = detections.xyxy[best]
    height = max(float(y2 - y1), 1.0)
    keypoints = detections.data[KEYPOINTS][best]
    vector[0:17] = (keypoints[:, 0] - (x1 + x2) / 2) / height
    vector[17:34] = (keypoints[:, 1] - (y1 + y2) / 2) / height
    vector[34:51] = keypoints[:, 2]
    vector[51] = 1.0
    return vector


def pose_vectors(rows: list[LabelledImage], detector: Any) -> np.ndarray:
    """Pose vector per image (cached on disk, keyed by the image list and the detector model)."""
    path = feature_cache_dir() / f"pose-{cache_key([detector.model_path], rows)}.npy"
    if path.is_file():
        return np.load(path)
    out = np.zeros((len(rows), POSE_DIM), dtype=np.float32)
    for i, row in enumerate(tqdm(rows, desc="pose keypoints", unit="img")):
        image = load_bgr(row.path)
        if image is not None:
            out[i] = pose_vector(detector.detect(image))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, out)
    return out


def _head(input_dim: int, n_classes: int) -> Any:
    import keras

    inputs = keras.Input((input_dim,))
    x = keras.layers.Dropout(0.2)(inputs)
    x = keras.layers.Dense(512, activation="relu")(x)
    x = keras.layers.Dropout(0.5)(x)
    return keras.Model(inputs, keras.layers.Dense(n_classes, activation="softmax")(x))


def run_pose_ablation(model_dir: str | Path, data: str | Path, seed: int = 42) -> dict[str, Any]:
    """Train the same head with and without pose features; return accuracies and write them into the model card.

    The figures are added to ``model.json`` (``pose_ablation``) and to ``card.md``.
    """
    import keras

    from har_stream.config.schema import DetectorConfig
    from har_stream.detection import PersonDetector
    from har_stream.training.metrics import classification_report
    from har_stream.training.reports import write_card

    folder = Path(model_dir)
    model = load_action_model(folder)
    split = load_split(folder / "split.csv")
    rows = [r for r in read_labels(data) if r.filename in split]
    spec = backbone_spec(model.meta["backbone"], model.input_size)
    trunk = keras.Model(model.keras_model.input, model.keras_model.get_layer("head_pool").output)
    tag = f"model:{model.name}:{(folder / 'weights.npz').stat().st_mtime_ns}"
    features = extract_features(trunk, spec, tag, "head_pool", rows)
    detector = PersonDetector(DetectorConfig())
    pose = pose_vectors(rows, detector)
    labels = features.labels
    masks = {s: np.array([split[r.filename] == s for r in rows]) & features.kept for s in ("train", "val", "test")}
    results: dict[str, Any] = {}
    image_features = features.features.astype(np.float32)
    variants = {"image features": image_features, "image + pose features": np.concatenate([image_features, pose], 1)}
    for name, x in variants.items():
        keras.utils.set_random_seed(seed)
        head = _head(x.shape[1], len(model.classes))
        settings = FitSettings(1e-3, 60, 64, early_stopping=True, patience=5, seed=seed)
        fit(head, x[masks["train"]], labels[masks["train"]], x[masks["val"]], labels[masks["val"]], settings)
        results[name] = {
            s: classification_report(labels[masks[s]], predict_features(head, x[masks[s]]), model.classes)["accuracy"]
            for s in ("val", "test")
        }
    found = float(pose[:, -1].mean())
    gain = results["image + pose features"]["test"] - results["image features"]["test"]
    val_gain = results["image + pose features"]["val"] - results["image features"]["val"]
    verdict = (
        "Pose features help on both val and test."
        if gain > 0.01 and val_gain > 0.01
        else "No consistent gain (val and test disagree or move less than a point), so the pipeline does not use them."
    )
    summary = (
        f"On this model's pooled features (same split, seed and head), adding yolo11n-pose keypoints changes test "
        f"accuracy {results['image features']['test']:.3f} → {results['image + pose features']['test']:.3f} "
        f"({gain:+.3f}); val {results['image features']['val']:.3f} → {results['image + pose features']['val']:.3f}. "
        f"A person was found in {found:.0%} of the images. {verdict} Command: har-stream models pose-ablation --model "
        f"{folder} --data {data}."
    )
    ablation = {"accuracy": results, "person_found_fraction": round(found, 4), "test_gain": round(gain, 4),
                "summary": summary}  # fmt: skip
    meta = json.loads((folder / "model.json").read_text())
    meta["pose_ablation"] = ablation
    (folder / "model.json").write_text(json.dumps(meta, indent=2) + "\n")
    figures = json.loads((folder / "metrics.json").read_text())
    write_card(folder, meta, figures)
    return ablation
