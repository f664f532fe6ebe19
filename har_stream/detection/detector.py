"""Person detection with a YOLO model (pose models add 17 keypoints per person).

Backends: ``onnxruntime`` (default) and ``openvino`` run a dynamic-shape ONNX export of the weights with
lean OpenCV pre- and post-processing and no PyTorch at run time; ``torch`` runs the weights through
ultralytics' own predictor.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

import numpy as np
import supervision as sv

from har_stream.config.schema import DetectorConfig
from har_stream.detection.weights import resolve_detector_weights
from har_stream.detection.yolo_io import decode_output, letterbox_blob
from har_stream.frame import KEYPOINTS, FrameRecord

log = logging.getLogger(__name__)


class DetectorError(RuntimeError):
    """The detector model could not be loaded or run."""


class _Backend(Protocol):
    def detect(self, image: np.ndarray) -> sv.Detections: ...


class _UltralyticsBackend:
    """ultralytics' own predictor on the PyTorch weights."""

    def __init__(self, weights: Path, config: DetectorConfig) -> None:
        from ultralytics import YOLO

        if config.threads:
            import torch

            torch.set_num_threads(config.threads)
        self.config = config
        self.model = YOLO(str(weights), task="pose" if "pose" in weights.name else None)
        names = getattr(self.model, "names", None) or {}
        self.person_class = next((int(k) for k, v in names.items() if v == "person"), None)
        if self.person_class is None:
            raise DetectorError(f"{weights.name} has no 'person' class")

    def detect(self, image: np.ndarray) -> sv.Detections:
        result = self.model.predict(
            image,
            imgsz=self.config.imgsz,
            conf=self.config.confidence,
            iou=self.config.iou,
            classes=[self.person_class],
            max_det=self.config.max_detections,
            device=self.config.device,
            verbose=False,
        )[0]
        detections = sv.Detections.from_ultralytics(result)
        if result.keypoints is not None and len(detections):
            detections.data[KEYPOINTS] = result.keypoints.data.cpu().numpy().astype(np.float32)
        return detections


class _ExportedBackend:
    """A dynamic ONNX export run by ONNX Runtime or OpenVINO."""

    def __init__(self, weights: Path, config: DetectorConfig) -> None:
        from har_stream.detection.runtimes import OnnxRuntimeModel, OpenVinoModel, exported_onnx, read_model_info

        self.config = config
        onnx_path = (config.int8 and _int8_model(weights)) or exported_onnx(weights)
        self.path = onnx_path
        self.info = read_model_info(onnx_path)
        runtime = OpenVinoModel if config.backend == "openvino" else OnnxRuntimeModel
        self.model = runtime(onnx_path, threads=config.threads)

    def detect(self, image: np.ndarray) -> sv.Detections:
        blob, box = letterbox_blob(image, self.config.imgsz)
        people = decode_output(
            self.model(blob),
            box,
            image.shape,
            confidence=self.config.confidence,
            iou=self.config.iou,
            max_detections=self.config.max_detections,
            num_classes=self.info.num_classes,
            keypoint_shape=self.info.keypoint_shape,
            person_class=self.info.person_class,
        )
        detections = sv.Detections(
            xyxy=people.xyxy,
            confidence=people.confidence,
            class_id=np.zeros(len(people.xyxy), dtype=int),
        )
        if people.keypoints is not None and len(detections):
            detections.data[KEYPOINTS] = people.keypoints
        return detections


def _int8_model(weights: Path) -> Path | None:
    """The int8 model made from ``weights``, or None (with a warning naming where it was looked for)."""
    from har_stream.detection.quantize import int8_name
    from har_stream.weights import WeightsNotFoundError, WeightsResolver

    if weights.suffix == ".onnx":
        return None  # an ONNX model was named explicitly: use it as it is
    try:
        return WeightsResolver(int8_name(weights.name)).resolve()
    except WeightsNotFoundError as exc:
        log.warning(
            "%s; using the float32 model instead (make one with `har-stream models quantize-detector`, or set "
            "detector.int8: false to silence this)",
            exc,
        )
        return None


class PersonDetector:
    """Finds people in a frame and stores them as ``record.detections`` (with keypoints when available)."""

    def __init__(self, config: DetectorConfig, weights: Path | None = None) -> None:
        self.config = config
        self.weights = weights or resolve_detector_weights(config.model)
        try:
            if config.backend == "torch":
                self._backend: _Backend = _UltralyticsBackend(self.weights, config)
            else:
                self._backend = _ExportedBackend(self.weights, config)
        except DetectorError:
            raise
        except Exception as exc:
            raise DetectorError(f"cannot load detector weights {self.weights} ({config.backend}): {exc}") from exc
        log.info("detector: %s on %s at imgsz %d", self.model_path.name, config.backend, config.imgsz)

    @property
    def model_path(self) -> Path:
        """The model file actually run (the ONNX export or int8 model, or the weights for ``torch``)."""
        return Path(getattr(self._backend, "path", self.weights))

    def detect(self, image: np.ndarray) -> sv.Detections:
        """People in a BGR image, as detections with ``data['keypoints']`` for pose models."""
        return self._backend.detect(image)

    def __call__(self, record: FrameRecord) -> FrameRecord:
        """Pipeline stage: fill ``record.detections``."""
        record.detections = self.detect(record.image)
        record.raw_detections = len(record.detections)
        return record
