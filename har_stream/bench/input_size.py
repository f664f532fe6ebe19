"""How the detector's input size trades person recall for cost, on real footage.

Recall is measured against the detector's own output at a reference size (1280 on 1280x720 footage: no
downscaling), counting reference people with confidence >= ``reference_conf`` that the tested size finds
again (IoU >= 0.5). Cost is CPU time per frame (process time, which a busy machine disturbs less than wall
time) and wall time.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import supervision as sv

from har_stream.config.schema import DetectorConfig
from har_stream.detection.detector import PersonDetector
from har_stream.sources.video_file import decode_video


def sample_frames(video: Path, count: int, step: int) -> list[np.ndarray]:
    """Every ``step``-th frame of ``video``, ``count`` of them."""
    frames = []
    for i, raw in enumerate(decode_video(video, lambda _: None)):
        if i % step == 0:
            frames.append(raw.image)
        if len(frames) >= count:
            break
    return frames


def recall(reference: sv.Detections, found: sv.Detections, iou: float = 0.5) -> tuple[int, int]:
    """(reference people matched by ``found``, reference people), greedy one-to-one on IoU."""
    if len(reference) == 0:
        return 0, 0
    if len(found) == 0:
        return 0, len(reference)
    overlaps = sv.box_iou_batch(reference.xyxy, found.xyxy)
    matched = 0
    used: set[int] = set()
    for i in np.argsort(-reference.confidence):
        for j in np.argsort(-overlaps[i]):
            if overlaps[i, j] < iou:
                break
            if int(j) not in used:
                used.add(int(j))
                matched += 1
                break
    return matched, len(reference)


def measure_input_sizes(
    video: Path,
    sizes: list[int],
    reference_size: int = 1280,
    frames: int = 40,
    step: int = 8,
    backend: str = "onnxruntime",
    int8: bool = True,
    reference_conf: float = 0.5,
) -> dict[str, Any]:
    """Recall and cost of each input size on ``frames`` frames of ``video``."""
    images = sample_frames(video, frames, step)
    reference_detector = PersonDetector(DetectorConfig(imgsz=reference_size, backend=backend, int8=int8))
    references = []
    for image in images:
        found = reference_detector.detect(image)
        references.append(found[found.confidence >= reference_conf])
    results: dict[str, Any] = {
        "video": str(video),
        "frames": len(images),
        "reference_size": reference_size,
        "reference_people_per_frame": round(float(np.mean([len(r) for r in references])), 2),
        "sizes": {},
    }
    for size in sizes:
        detector = PersonDetector(DetectorConfig(imgsz=size, backend=backend, int8=int8))
        detector.detect(images[0])  # warm-up
        matched = total = people = 0
        cpu = wall = 0.0
        for image, reference in zip(images, references, strict=True):
            c, w = time.process_time(), time.perf_counter()
            found = detector.detect(image)
            cpu += time.process_time() - c
            wall += time.perf_counter() - w
            m, t = recall(reference, found)
            matched, total, people = matched + m, total + t, people + len(found)
        results["sizes"][str(size)] = {
            "recall": round(matched / total, 3) if total else None,
            "people_per_frame": round(people / len(images), 2),
            "cpu_ms_per_frame": round(cpu / len(images) * 1000, 1),
            "wall_ms_per_frame": round(wall / len(images) * 1000, 1),
        }
    return results
