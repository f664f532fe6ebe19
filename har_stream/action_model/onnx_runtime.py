"""Run a trained action model on ONNX Runtime, in float32 or int8 (static QDQ quantization).

The Keras network is exported with tf2onnx; the int8 copy is calibrated on real training crops and stored in the
model folder as ``model-int8.onnx`` (a few MB), with its agreement with the Keras model recorded in model.json.
On this 2-core CPU it classifies a crop several times faster than Keras (see the model card).
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from har_stream.action_model.base import ActionModelError, check_crops
from har_stream.action_model.preprocess import preprocessor_for

log = logging.getLogger(__name__)

INT8_FILE = "model-int8.onnx"
INPUT_NAME = "image"


class OnnxActionModel:
    """An exported action model on ONNX Runtime (CPU), behind the ActionModel interface."""

    def __init__(self, path: Path, meta: dict[str, Any], threads: int | None = 1) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # a damaged or foreign file: say which and why, no traceback
            raise ActionModelError(f"{path}: ONNX Runtime cannot load it ({type(exc).__name__}: {exc})") from exc
        self.path = path
        self.folder = path.parent
        self.meta = meta
        self.name: str = meta["name"]
        self.classes: tuple[str, ...] = tuple(meta["classes"])
        self.input_size: int = int(meta["input_size"])
        self.runtime = "onnx-int8" if path.name == INT8_FILE else "onnx"
        self._preprocess = preprocessor_for(meta["backbone"])

    def predict(self, crops: np.ndarray) -> np.ndarray:
        """Class probabilities (N, classes) for square BGR uint8 crops (N, input_size, input_size, 3)."""
        if not check_crops(self, crops):
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        probs = self.session.run(None, {INPUT_NAME: self._preprocess(crops)})[0]
        return np.asarray(probs, dtype=np.float32)


def export_onnx(network: Any, input_size: int, path: Path) -> Path:
    """Export a Keras network (float32 input ``image`` of shape (N, size, size, 3)) to ONNX with tf2onnx."""
    import tensorflow as tf
    import tf2onnx

    signature = (tf.TensorSpec((None, input_size, input_size, 3), tf.float32, name=INPUT_NAME),)
    path.parent.mkdir(parents=True, exist_ok=True)
    tf2onnx.convert.from_keras(network, input_signature=signature, opset=17, output_path=str(path))
    return path


def quantize_int8(
    float_model: Path, calibration: np.ndarray, path: Path, batch: int = 16, method: str = "MinMax"
) -> Path:
    """Static int8 quantization (QDQ, per-channel weights in 7 bits, so that CPUs without VNNI cannot saturate
    their sums; see ``har_stream/detection/quantize.py``) calibrated on preprocessed real crops; ``method`` names
    an ONNX Runtime ``CalibrationMethod`` (MinMax, Percentile, Entropy), or MinMaxMovingAverage (each activation's
    range a moving average of the calibration batches' ranges instead of their extremes)."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches: Iterator[dict[str, np.ndarray]] = iter(
                {INPUT_NAME: calibration[i : i + batch]} for i in range(0, len(calibration), batch)
            )

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.batches, None)

    import onnx

    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(float_model), str(prepared))
        # The softmax stays float: quantizing it would round every probability to a multiple of 1/255.
        softmax = [node.name for node in onnx.load(str(prepared)).graph.node if node.op_type == "Softmax"]
        quantize_static(
            str(prepared), str(path), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, nodes_to_exclude=softmax,
            calibrate_method=CalibrationMethod[method.removesuffix("MovingAverage")],
            extra_options={"CalibMovingAverage": method.endswith("MovingAverage")},
            reduce_range=True,  # 7-bit weights: CPUs without VNNI saturate full-range uint8 x int8 sums
        )  # fmt: skip
    return path


def write_int8_model(
    model: Any, calibration_crops: np.ndarray, check_crops: np.ndarray, check_labels: np.ndarray
) -> dict[str, Any]:
    """Export ``model`` (a KerasActionModel with a folder) to ``model-int8.onnx`` and record how well it agrees.

    ``check_crops`` (held-out images, true class indices ``check_labels``) give both models' accuracy, their top-1
    agreement and the largest probability difference; the figures go into model.json under ``int8``.
    """
    folder: Path = model.folder
    with tempfile.TemporaryDirectory() as tmp:
        float_model = export_onnx(model.keras_model, model.input_size, Path(tmp) / "model.onnx")
        quantize_int8(float_model, model._preprocess(calibration_crops), folder / INT8_FILE)
    int8 = OnnxActionModel(folder / INT8_FILE, model.meta)
    reference = np.concatenate([model.predict(check_crops[i : i + 32]) for i in range(0, len(check_crops), 32)])
    quantized = np.concatenate([int8.predict(check_crops[i : i + 32]) for i in range(0, len(check_crops), 32)])
    report = {
        "file": INT8_FILE,
        "calibration_crops": len(calibration_crops),
        "checked_crops": len(check_crops),
        "top1_agreement": round(float(np.mean(reference.argmax(1) == quantized.argmax(1))), 4),
        "max_prob_diff": round(float(np.abs(reference - quantized).max()), 4),
        "accuracy_keras": round(float(np.mean(reference.argmax(1) == check_labels)), 4),
        "accuracy_int8": round(float(np.mean(quantized.argmax(1) == check_labels)), 4),
    }
    meta_path = folder / "model.json"
    meta = json.loads(meta_path.read_text())
    meta["int8"] = report
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    model.meta["int8"] = report
    log.info("int8 classifier: %s", report)
    return report
