"""How the classifier's int8 copy is calibrated, chosen on the val split (test images are never read).

For each calibration method of ONNX Runtime's static quantization (MinMax, Percentile, Entropy) and number of
calibration images (train split, whole, as ``quantize_model_folder`` feeds them), the model folder's Keras network
is quantized as ``har_stream.action_model.onnx_runtime.quantize_int8`` does and scored on every val image: top-1
over the 15 actions (an open-set model's background columns left out, the same for every run) and top-1
agreement with the Keras model over all its classes. MinMaxMovingAverage takes each activation's range as a
moving average of the batches' ranges. Percentile and Entropy build histograms of every activation: on the
352 px Lite2 with 256 images, Percentile ran out of this machine's 24 GiB, so they are not in the default list.

    .venv/bin/python -m experiments.int8_calibration --model out/open352
        [--json experiments/results/int8_calibration.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from experiments.paths import HAR_DATA, RESULTS
from har_stream.tf_guard import prepare_tensorflow_import

prepare_tensorflow_import()

from har_stream.action_model.loading import load_action_model  # noqa: E402
from har_stream.action_model.onnx_runtime import OnnxActionModel, export_onnx, quantize_int8  # noqa: E402
from har_stream.actions import ACTIONS  # noqa: E402
from har_stream.training.dataset import load_split, read_labels  # noqa: E402
from har_stream.training.int8 import whole_image_crops  # noqa: E402


def predict(model, crops: np.ndarray) -> np.ndarray:
    """Probabilities of ``crops`` in batches of 32."""
    return np.concatenate([model.predict(crops[i : i + 32]) for i in range(0, len(crops), 32)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="a model folder with split.csv")
    parser.add_argument("--data", type=Path, default=HAR_DATA)
    parser.add_argument("--methods", default="MinMax,MinMaxMovingAverage")
    parser.add_argument("--counts", default="256")
    parser.add_argument("--json", type=Path, default=RESULTS / "int8_calibration.json")
    args = parser.parse_args()

    model = load_action_model(args.model, runtime="keras")
    split = load_split(args.model / "split.csv")
    rows = read_labels(args.data)
    train = [r for r in rows if split.get(r.filename) == "train"]
    val = [r for r in rows if split.get(r.filename) == "val"]
    val_crops, val_labels = whole_image_crops(val, model.input_size)
    columns = [model.classes.index(a) for a in ACTIONS]
    reference = predict(model, val_crops)
    truth = val_labels  # indices into ACTIONS

    def top1(probs: np.ndarray) -> float:
        return round(float(np.mean(probs[:, columns].argmax(1) == truth)), 4)

    result: dict = {"model": str(args.model), "n_val": len(val), "keras_val_accuracy": top1(reference), "runs": []}
    rng = np.random.default_rng(0)
    order = rng.permutation(len(train))
    with tempfile.TemporaryDirectory() as tmp:
        float_model = export_onnx(model.keras_model, model.input_size, Path(tmp) / "model.onnx")
        for count in (int(c) for c in args.counts.split(",")):
            calibration, _ = whole_image_crops([train[i] for i in sorted(order[:count])], model.input_size)
            for method in tqdm(args.methods.split(","), desc=f"{count} calibration images", unit="method"):
                started = time.time()
                out = Path(tmp) / f"{method}_{count}.onnx"
                quantize_int8(float_model, model._preprocess(calibration), out, method=method)
                probs = predict(OnnxActionModel(out, model.meta), val_crops)
                run = {
                    "method": method,
                    "calibration_images": count,
                    "val_accuracy": top1(probs),
                    "top1_agreement_with_keras": round(float(np.mean(probs.argmax(1) == reference.argmax(1))), 4),
                    "quantize_s": round(time.time() - started, 1),
                }
                result["runs"].append(run)
                print(json.dumps(run), flush=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
