"""Per-crop cost of classifier models side by side (int8 ONNX, one thread, as the pipeline runs them).

    .venv/bin/python -m experiments.classifier_cost [MODEL ...] [--json experiments/results/classifier_cost.json]

Interleaves the models over several rounds so machine noise hits them alike; reports the median ms per crop at
batch 1 and batch 8 and each model's ratio to the first.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from experiments.paths import REPO
from har_stream.action_model.loading import load_action_model


def main() -> None:
    """Measure and print / write."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", default=["efficientnet_lite2_har", "efficientnet_lite2_open"])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    models = {name: load_action_model(REPO / "models" / name, "onnx-int8") for name in args.models}
    rng = np.random.default_rng(0)
    times: dict[str, dict[int, list[float]]] = {name: {1: [], 8: []} for name in models}
    for _ in range(args.rounds):
        for name, model in models.items():
            for batch in (1, 8):
                crops = rng.integers(0, 255, (batch, model.input_size, model.input_size, 3), dtype=np.uint8)
                model.predict(crops)
                start = time.perf_counter()
                for _ in range(10):
                    model.predict(crops)
                times[name][batch].append((time.perf_counter() - start) * 1000 / 10 / batch)
    first = args.models[0]
    result = {
        name: {f"batch{b}_ms": round(float(np.median(v)), 2) for b, v in per.items()} for name, per in times.items()
    }
    for name in result:
        result[name]["ratio_batch1"] = round(result[name]["batch1_ms"] / result[first]["batch1_ms"], 3)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
