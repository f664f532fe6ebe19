"""Detector backends: the lean ONNX paths find the same people as ultralytics' own predictor."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from har_stream.bench.input_size import recall
from har_stream.config import DetectorConfig
from har_stream.detection import PersonDetector
from har_stream.detection.quantize import quantize_detector
from har_stream.detection.runtimes import openvino_available
from har_stream.detection.weights import resolve_detector_weights
from har_stream.detection.yolo_io import Letterbox, decode_output, letterbox_blob
from tests.conftest import SHARED, decode_frames, require


@pytest.fixture(scope="module")
def crowd_frames(concourse_clip: Path) -> list[np.ndarray]:
    frames = decode_frames(concourse_clip)
    return [frames[0], frames[20], frames[39]]


@pytest.fixture(scope="module")
def reference(crowd_frames):
    torch_detector = PersonDetector(DetectorConfig(backend="torch", imgsz=1280))
    return [torch_detector.detect(f) for f in crowd_frames]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_exported_backends_match_ultralytics(backend: str, crowd_frames, reference) -> None:
    if backend == "openvino" and not openvino_available():
        pytest.skip("openvino is not installed (optional extra)")
    detector = PersonDetector(DetectorConfig(backend=backend, imgsz=1280, int8=False))
    for frame, expected in zip(crowd_frames, reference, strict=True):
        got = detector.detect(frame)
        assert len(expected) >= 10
        assert abs(len(got) - len(expected)) <= 1
        # Every reference person is found again at (almost) the same place with the same confidence.
        for box, conf in zip(expected.xyxy, expected.confidence, strict=True):
            if conf < 0.35:
                continue  # near the threshold, rounding may keep or drop a box
            distance = np.abs(got.xyxy - box).max(axis=1)
            best = int(np.argmin(distance))
            assert distance[best] < 2.0 and abs(got.confidence[best] - conf) < 0.02
        assert got.data["keypoints"].shape == (len(got), 17, 3)


def test_letterbox_is_rectangular_and_reversible() -> None:
    image = np.zeros((720, 1280, 3), dtype=np.uint8)
    blob, box = letterbox_blob(image, 640)
    assert blob.shape == (1, 3, 384, 640) and blob.dtype == np.float32
    assert box == Letterbox(scale=0.5, left=0, top=12, width=640, height=384)
    assert blob[0, :, 0, 0] == pytest.approx(114 / 255)  # padding colour


def fake_output(rows: list[list[float]], channels: int) -> np.ndarray:
    """A raw YOLO output (1, channels, anchors) from per-anchor rows."""
    out = np.zeros((1, channels, len(rows)), dtype=np.float32)
    for i, row in enumerate(rows):
        out[0, : len(row), i] = row
    return out


def test_decode_unletterboxes_thresholds_and_suppresses_duplicates() -> None:
    box = Letterbox(scale=0.5, left=0, top=12, width=640, height=384)
    output = fake_output(
        [
            [100, 112, 20, 40, 0.9],  # a person: centre (100, 112) in input pixels
            [101, 113, 20, 40, 0.8],  # the same person again: suppressed by NMS
            [300, 200, 20, 40, 0.1],  # below the confidence threshold
        ],
        channels=5,
    )
    people = decode_output(output, box, (720, 1280, 3), 0.25, 0.6, 300, num_classes=1, keypoint_shape=None)
    assert people.xyxy.tolist() == [[180.0, 160.0, 220.0, 240.0]]
    assert people.confidence.tolist() == pytest.approx([0.9]) and people.keypoints is None


def test_decode_keeps_only_anchors_whose_best_class_is_person() -> None:
    box = Letterbox(scale=1.0, left=0, top=0, width=640, height=640)
    rows = [[100, 100, 20, 40, 0.6, 0.1, 0.1], [300, 300, 20, 40, 0.5, 0.9, 0.0]]  # 3 classes, person = 0
    people = decode_output(fake_output(rows, 7), box, (640, 640, 3), 0.25, 0.6, 300, num_classes=3, keypoint_shape=None)
    assert len(people.xyxy) == 1 and people.xyxy[0, 0] == pytest.approx(90)


@pytest.mark.slow
def test_int8_model_finds_the_people_float32_finds(crowd_frames, reference) -> None:
    detector = PersonDetector(DetectorConfig(imgsz=1280))  # the default: int8 from models/
    assert detector.model_path.name == "yolo11n-pose-int8.onnx"
    for frame, expected in zip(crowd_frames, reference, strict=True):
        got = detector.detect(frame)
        confident = expected[expected.confidence >= 0.5]
        matched, total = recall(confident, got)
        assert total >= 8 and matched / total >= 0.95, (matched, total)


@pytest.mark.slow
def test_int8_model_finds_the_people_float32_finds_on_cctv_footage_on_any_cpu() -> None:
    """Real CCTV fight clips (train groups), where full-range int8 weights lost almost everyone on CPUs without
    VNNI (the 7-bit weights of ``quantize.py`` cannot saturate); at the CCTV config's input size."""
    int8 = PersonDetector(DetectorConfig(imgsz=640))
    reference = PersonDetector(DetectorConfig(imgsz=640, int8=False))
    matched = total = 0
    for clip in ("surv_fi005.mp4", "surv_fi008.mp4"):
        frames = decode_frames(require(SHARED / "videos" / "cctv" / clip))
        for frame in frames[:40:8]:
            expected = reference.detect(frame)
            found, confident = recall(expected[expected.confidence >= 0.5], int8.detect(frame))
            matched, total = matched + found, total + confident
    assert total >= 20 and matched / total >= 0.9, (matched, total)


def test_missing_int8_model_falls_back_to_float32_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    weights = tmp_path / "mypose.pt"
    shutil.copy(resolve_detector_weights("yolo11n-pose.pt"), weights)
    with caplog.at_level(logging.WARNING):
        detector = PersonDetector(DetectorConfig(model=str(weights)))
    assert detector.model_path.suffix == ".onnx" and "int8" not in detector.model_path.name
    assert "could not find weights 'mypose-int8.onnx'" in caplog.text and "models quantize-detector" in caplog.text


@pytest.mark.slow
def test_quantize_detector_makes_a_working_int8_model(tmp_path: Path, crowd_frames, reference) -> None:
    target = quantize_detector(
        resolve_detector_weights("yolo11n-pose.pt"), crowd_frames[:2], tmp_path / "q.onnx", [640]
    )
    assert target.is_file() and target.with_suffix(".json").is_file()
    detector = PersonDetector(DetectorConfig(model=str(target), imgsz=1280))
    found = detector.detect(crowd_frames[2])
    matched, total = recall(reference[2][reference[2].confidence >= 0.5], found)
    assert matched / total >= 0.9 and found.data["keypoints"].shape[1:] == (17, 3)
