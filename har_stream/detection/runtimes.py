"""Run an exported YOLO ONNX model with ONNX Runtime or OpenVINO, and export it from a .pt once."""

from __future__ import annotations

import ast
import contextlib
import hashlib
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from har_stream.weights import user_cache_dir

log = logging.getLogger(__name__)


def onnx_cache_dir() -> Path:
    """Where ONNX exports of detector weights are kept: ``~/.cache/har-stream/exports``."""
    return user_cache_dir().parent / "exports"


def exported_onnx(weights: Path) -> Path:
    """A dynamic-shape ONNX export of ``weights`` (a .pt), made with ultralytics on first use and cached.

    The cache key is the content hash of the weights, so a changed file is exported again.
    """
    if weights.suffix == ".onnx":
        return weights
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:16]
    target = onnx_cache_dir() / f"{weights.stem}-{digest}.onnx"
    if target.is_file():
        return target
    log.info("exporting %s to ONNX once (cached at %s)", weights.name, target)
    from ultralytics.utils import LOGGER

    target.parent.mkdir(parents=True, exist_ok=True)
    level = LOGGER.level
    LOGGER.setLevel(logging.WARNING)
    try:
        _export(weights, target)
    finally:
        LOGGER.setLevel(level)
    return target


def _export(weights: Path, target: Path) -> None:
    from ultralytics import YOLO

    with tempfile.TemporaryDirectory(prefix="har-export-") as tmp:
        local = Path(tmp) / weights.name
        shutil.copy2(weights, local)
        exported = Path(YOLO(str(local)).export(format="onnx", dynamic=True, simplify=True, verbose=False))
        partial = target.with_suffix(".partial")
        shutil.move(str(exported), partial)
        os.replace(partial, target)  # atomic: concurrent runs never see half a file


@dataclass(frozen=True)
class ModelInfo:
    """What the exported model's metadata says about its output layout."""

    num_classes: int
    keypoint_shape: tuple[int, int] | None
    person_class: int


def read_model_info(path: Path) -> ModelInfo:
    """Class count, keypoint shape and the person class id from an ultralytics ONNX export's metadata."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    meta = {p.key: p.value for p in model.metadata_props}
    names = ast.literal_eval(meta.get("names", "{0: 'person'}"))
    kpt = ast.literal_eval(meta["kpt_shape"]) if "kpt_shape" in meta else None
    person = next((int(k) for k, v in names.items() if v == "person"), None)
    if person is None:
        raise ValueError(f"{path.name} has no 'person' class (classes: {list(names.values())[:10]})")
    return ModelInfo(len(names), tuple(kpt) if kpt else None, person)


class OnnxRuntimeModel:
    """An ONNX model on ONNX Runtime's CPU provider."""

    name = "onnxruntime"

    def __init__(self, path: Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, blob: np.ndarray) -> np.ndarray:
        """Raw network output for an NCHW float32 blob."""
        return self.session.run(None, {self.input_name: blob})[0]


class OpenVinoModel:
    """An ONNX model compiled by OpenVINO for the CPU, recompiled when the input shape changes."""

    name = "openvino"

    def __init__(self, path: Path, threads: int | None = None) -> None:
        import openvino as ov

        self.core = ov.Core()
        self.path = path
        self.config = {"PERFORMANCE_HINT": "LATENCY"}
        if threads:
            self.config["INFERENCE_NUM_THREADS"] = threads
        self._shape: tuple[int, ...] | None = None
        self._request = None
        self._output = None

    def _compile(self, shape: tuple[int, ...]) -> None:
        model = self.core.read_model(str(self.path))
        model.reshape(list(shape))
        compiled = self.core.compile_model(model, "CPU", self.config)
        self._request = compiled.create_infer_request()
        self._output = compiled.output(0)
        self._shape = shape

    def __call__(self, blob: np.ndarray) -> np.ndarray:
        """Raw network output for an NCHW float32 blob."""
        if blob.shape != self._shape:
            self._compile(blob.shape)
        assert self._request is not None
        return self._request.infer({0: blob})[self._output]


def openvino_available() -> bool:
    """Whether the optional OpenVINO runtime is installed."""
    with contextlib.suppress(ImportError):
        import openvino  # noqa: F401

        return True
    return False
