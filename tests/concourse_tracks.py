"""The real detector's people on the first frames of the concourse footage, cached on disk, and the real tracker
run over them (the concourse config: detector input 1280, confidence 0.25).

The detector costs seconds a frame on a shared 2-core CPU, so its output is cached (``.pytest_cache``, or
``$HAR_STREAM_TEST_CACHE``) keyed by the frame range and the detector settings; the tracker runs afresh each time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import supervision as sv

from har_stream.config import DetectorConfig, TrackerConfig
from har_stream.frame import FrameRecord

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("HAR_STREAM_TEST_CACHE", REPO / ".pytest_cache" / "d" / "concourse_detections"))
IMGSZ, CONFIDENCE = 1280, 0.25  # configs/concourse.yaml
FPS = 50.0


def concourse_frames(video: Path, frames: int) -> Iterator[np.ndarray]:
    """The first ``frames`` frames of ``video`` as BGR arrays."""
    with av.open(str(video)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i >= frames:
                break
            yield frame.to_ndarray(format="bgr24")


def cached_detections(video: Path, frames: int) -> list[sv.Detections]:
    """The real detector's people on each of the first ``frames`` frames (boxes and confidences)."""
    path = CACHE / f"{video.stem}_{frames}_{IMGSZ}_{CONFIDENCE}.npz"
    if not path.exists():
        from har_stream.detection import PersonDetector

        detector = PersonDetector(DetectorConfig(imgsz=IMGSZ, confidence=CONFIDENCE))
        boxes, scores = [], []
        for image in concourse_frames(video, frames):
            people = detector.detect(image)
            boxes.append(people.xyxy.astype(np.float32))
            scores.append(people.confidence.astype(np.float32))
        CACHE.mkdir(parents=True, exist_ok=True)
        counts = np.array([len(b) for b in boxes])
        np.savez_compressed(path, xyxy=np.concatenate(boxes), confidence=np.concatenate(scores), counts=counts)
    data = np.load(path)
    ends = np.cumsum(data["counts"])
    starts = ends - data["counts"]
    return [
        sv.Detections(
            xyxy=data["xyxy"][a:b],
            confidence=data["confidence"][a:b],
            class_id=np.zeros(b - a, dtype=int),
        )
        for a, b in zip(starts, ends, strict=True)
    ]


def tracked_records(video: Path, frames: int, width: int = 1280, height: int = 720) -> Iterator[FrameRecord]:
    """Records of the first ``frames`` frames with the real tracker's people (a tiny stand-in image: the stages
    after the tracker only read the frame's size from it, so it is a view of one full-size frame)."""
    from har_stream.tracking.tracker import PersonTracker

    tracker = PersonTracker(TrackerConfig(), frame_rate=FPS)
    image = np.broadcast_to(np.zeros((1, 1, 3), dtype=np.uint8), (height, width, 3))
    for index, people in enumerate(cached_detections(video, frames)):
        record = FrameRecord(
            index=index,
            timestamp=index / FPS,
            wall_time=1.8e9 + index / FPS,
            captured_at=0.0,
            image=image,
            camera="concourse",
            detections=people,
        )
        yield tracker(record)
