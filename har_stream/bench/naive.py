"""The naive pipeline har-stream is measured against, written the way a first script would be.

ultralytics ``track()`` on every frame at 640, the VGG16 seed classifier run with Keras ``predict`` on every
person crop of every frame, one crop at a time, boxes drawn with OpenCV and the video written with
``cv2.VideoWriter``. Same detector weights and frames as har-stream; nothing is skipped or batched.
"""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from har_stream.bench.memory import peak_rss_mb, reset_peak_rss
from har_stream.sources.video_file import probe_video
from har_stream.stats import mean_p95
from har_stream.weights import MODELS_DIR

#: The seed-faithful VGG16 model (frozen VGG16 + Flatten + Dense 512 + Dense 15), if trained.
SEED_MODEL_DIR = MODELS_DIR / "vgg16_seed"


def with_mean_subtraction(network: Any) -> Any:
    """``network`` (VGG16 input: BGR minus the ImageNet mean) behind a layer that subtracts the mean itself."""
    import keras

    from har_stream.action_model.preprocess import VGG16_BGR_MEAN

    inputs = keras.Input((224, 224, 3))
    return keras.Model(inputs, network(inputs - VGG16_BGR_MEAN))


def load_seed_classifier() -> tuple[Any, int, str]:
    """The seed VGG16 Keras model (BGR crop in, probabilities out), its input size, and where it came from.

    Uses ``models/vgg16_seed`` when present; otherwise the seed architecture with untrained weights, which
    costs exactly the same time per crop (the benchmark measures speed, not accuracy).
    """
    if (SEED_MODEL_DIR / "model.json").is_file():
        from har_stream.action_model.loading import load_action_model

        model = load_action_model(SEED_MODEL_DIR)
        return with_mean_subtraction(model.keras_model), model.input_size, f"trained seed model {SEED_MODEL_DIR.name}"
    from har_stream.action_model.network import HeadConfig, backbone_spec, build_network
    from har_stream.action_model.vgg16 import BackboneWeights

    untrained = BackboneWeights("none", "", "random initialisation")
    network = build_network(backbone_spec("vgg16"), untrained, 15, HeadConfig("flatten", 512))
    return with_mean_subtraction(network), 224, "seed VGG16 architecture, untrained weights (same cost per crop)"


class NaiveBaseline:
    """Run the naive pipeline over a video and time each step."""

    def __init__(self, detector_weights: Path, imgsz: int = 640) -> None:
        from ultralytics import YOLO

        self.model = YOLO(str(detector_weights))
        self.imgsz = imgsz
        self.classifier, self.input_size, self.classifier_source = load_seed_classifier()

    def run(self, video: Path, frames: int, export: Path, live: bool = False) -> dict[str, Any]:
        """Process the first ``frames`` frames of ``video``; write the annotated result to ``export``.

        With ``live``, frame *i* only becomes available at its media time (as from a camera) and its age is
        measured when it is written; the naive loop never drops a frame, so it falls behind.
        """
        reset_peak_rss()
        capture = cv2.VideoCapture(str(video))
        ages: list[float] = []
        fps = probe_video(video).fps or 25.0
        writer: cv2.VideoWriter | None = None
        stages: dict[str, list[float]] = defaultdict(list)
        people: list[int] = []
        started = time.perf_counter()
        processed = 0
        while processed < frames:
            available = started + processed / fps
            if live and time.perf_counter() < available:
                time.sleep(available - time.perf_counter())
            t = time.perf_counter()
            ok, frame = capture.read()
            if not ok:
                break
            stages["decode"].append((time.perf_counter() - t) * 1000)

            t = time.perf_counter()
            result = self.model.track(frame, imgsz=self.imgsz, persist=True, classes=[0], verbose=False)[0]
            boxes = result.boxes.xyxy.cpu().numpy().astype(int)
            ids = result.boxes.id.cpu().numpy().astype(int) if result.boxes.id is not None else [-1] * len(boxes)
            stages["detect_track"].append((time.perf_counter() - t) * 1000)

            t = time.perf_counter()
            labels = []
            for x1, y1, x2, y2 in boxes:
                crop = frame[max(0, y1) : y2, max(0, x1) : x2]
                if crop.size == 0:
                    labels.append(-1)
                    continue
                x = cv2.resize(crop, (self.input_size, self.input_size)).astype(np.float32)[None]
                labels.append(int(np.argmax(self.classifier.predict(x, verbose=0)[0])))
            stages["classify"].append((time.perf_counter() - t) * 1000)
            people.append(len(boxes))

            t = time.perf_counter()
            for (x1, y1, x2, y2), track_id, label in zip(boxes, ids, labels, strict=True):
                cv2.rectangle(frame, (x1, y1), (x2, y2), (0, 200, 0), 2)
                cv2.putText(frame, f"#{track_id} {label}", (x1, y1 - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 200, 0), 1)
            stages["render"].append((time.perf_counter() - t) * 1000)

            t = time.perf_counter()
            if writer is None:
                h, w = frame.shape[:2]
                writer = cv2.VideoWriter(str(export), cv2.VideoWriter_fourcc(*"mp4v"), 25, (w, h))
            writer.write(frame)
            stages["encode"].append((time.perf_counter() - t) * 1000)
            if live:
                ages.append((time.perf_counter() - available) * 1000)
            processed += 1
        wall = time.perf_counter() - started
        capture.release()
        if writer is not None:
            writer.release()
        return {
            "frames": processed,
            "wall_s": round(wall, 3),
            "fps": round(processed / wall, 3) if wall > 0 else 0.0,
            "stages_ms": {name: mean_p95(values) for name, values in stages.items()},
            "people_per_frame": round(float(np.mean(people)), 2) if people else 0.0,
            "classifier_calls_per_frame": round(float(np.mean(people)), 2) if people else 0.0,
            "frame_age_ms": mean_p95(ages) if live else None,
            "peak_rss_mb": round(peak_rss_mb(), 1),
            "classifier": self.classifier_source,
            "detector_imgsz": self.imgsz,
        }
