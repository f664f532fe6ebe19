"""Make an int8 version of the detector: ONNX Runtime static quantization, calibrated on real images.

Convolutions become int8 (per-channel weights, uint8 activations, QDQ format, which ONNX Runtime runs with
VNNI instructions where the CPU has them); the detection head's box and keypoint decoding stays float.

Weights use 7 of their 8 bits (ONNX Runtime's ``reduce_range``). CPUs without VNNI (AVX2 or AVX-512 alone, such
as many AMD EPYC and older Intel Xeon) multiply uint8 by int8 with an instruction that saturates its 16-bit
sums; with full-range weights that wiped out detections on real CCTV footage (on an AVX2 EPYC, the first int8
model found 40 of the 70 confident people that float32 found on 7 clips, none of the 17 in one fight clip;
docs/models/int8.md). With 7-bit weights no sum can saturate, on any CPU.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from har_stream.detection.runtimes import exported_onnx
from har_stream.detection.yolo_io import letterbox_blob

log = logging.getLogger(__name__)

#: Operations of the detection head (module ``model.23``) that decode boxes and keypoints: kept in float.
HEAD_DECODE_OPS = frozenset(
    {"Concat", "Sigmoid", "Mul", "Add", "Sub", "Div", "Split", "Slice", "Softmax", "Transpose", "Reshape"}
)


def int8_name(weights_name: str) -> str:
    """File name of the int8 model made from ``weights_name``: ``yolo11n-pose.pt`` -> ``yolo11n-pose-int8.onnx``."""
    return f"{Path(weights_name).stem}-int8.onnx"


class _Calibration:
    """Feeds letterboxed blobs of the calibration images to the quantizer."""

    def __init__(self, images: Sequence[np.ndarray], sizes: Sequence[int], input_name: str) -> None:
        self._blobs: Iterator[dict[str, np.ndarray]] = (
            {input_name: letterbox_blob(image, size)[0]} for image in images for size in sizes
        )

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._blobs, None)

    def rewind(self) -> None:  # required by some ONNX Runtime versions; one pass is enough here
        pass


def quantize_detector(
    weights: Path, images: Sequence[np.ndarray], target: Path, sizes: Sequence[int] = (640,), sources: str = ""
) -> Path:
    """Write an int8 ONNX model of ``weights`` to ``target``, calibrated on ``images`` at each input size.

    A JSON description (``<target>.json``: source weights, calibration, date) is written beside it.
    """
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if not images:
        raise ValueError("no calibration images")
    source = exported_onnx(weights)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="har-quant-") as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        model = onnx.load(str(prepared))
        input_name = model.graph.input[0].name
        exclude = [n.name for n in model.graph.node if "model.23" in n.name and n.op_type in HEAD_DECODE_OPS]
        quantized = Path(tmp) / target.name
        quantize_static(
            str(prepared),
            str(quantized),
            _Calibration(images, sizes, input_name),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=exclude,
            calibrate_method=CalibrationMethod.MinMax,
            reduce_range=True,  # 7-bit weights: no saturation on CPUs without VNNI (module docstring)
        )
        shutil.move(str(quantized), target)
    description = {
        "model": target.name,
        "made_from": weights.name,
        "method": "onnxruntime quantize_static, QDQ, per-channel int8 weights in 7 bits (reduce_range), uint8 "
        "activations, MinMax",
        "kept_in_float": f"{len(exclude)} box/keypoint decoding nodes of the detection head",
        "calibration_images": len(images),
        "calibration_sizes": list(sizes),
        "calibration_sources": sources,
        "made": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    target.with_suffix(".json").write_text(json.dumps(description, indent=2) + "\n")
    log.info("wrote %s (%d calibration images)", target, len(images))
    return target
