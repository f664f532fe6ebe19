"""Person detection with an ultralytics YOLO model (pose models add 17 keypoints per person)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import supervision as sv

from har_stream.config.schema import DetectorConfig
from har_stream.detection.weights import resolve_detector_weights
from har_stream.frame import KEYPOINTS, FrameRecord

log = logging.getLogger(__name__)

PERSON_CLASS_ID = 0


class DetectorError(RuntimeError):
    """The detector model could not be loaded or run."""


class PersonDetector:
    """Finds people in a frame and stores them as ``record.detections`` (with keypoints when available)."""

    def __init__(self, config: DetectorConfig, weights: Path | None = None) -> None:
        self.config = config
        self.weights = weights or resolve_detector_weights(config.model)
        try:
            from ultralytics import YOLO

            self.model = YOLO(str(self.weights), task="pose" if "pose" in self.weights.name else None)
        except Exception as exc:
            raise DetectorError(f"cannot load detector weights {self.weights}: {exc}") from exc
        names = getattr(self.model, "names", None) or {}
        if names and names.get(PERSON_CLASS_ID) != "person":
            raise DetectorError(
                f"{self.weights.name} does not detect people as class 0 (its class 0 is {names.get(0)!r})"
            )
        log.info("detector: %s at imgsz %d", self.weights, config.imgsz)

    def detect(self, image: np.ndarray) -> sv.Detections:
        """People in a BGR image, as detections with ``data['keypoints']`` for pose models."""
        result = self.model.predict(
            image,
            imgsz=self.config.imgsz,
            conf=self.config.confidence,
            iou=self.config.iou,
            classes=[PERSON_CLASS_ID],
            max_det=self.config.max_detections,
            device=self.config.device,
            verbose=False,
        )[0]
        detections = sv.Detections.from_ultralytics(result)
        if result.keypoints is not None and len(detections):
            detections.data[KEYPOINTS] = result.keypoints.data.cpu().numpy().astype(np.float32)
        return detections

    def __call__(self, record: FrameRecord) -> FrameRecord:
        """Pipeline stage: fill ``record.detections``."""
        record.detections = self.detect(record.image)
        record.raw_detections = len(record.detections)
        return record
