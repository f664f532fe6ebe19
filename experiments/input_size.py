#!/usr/bin/env python3
"""Person recall and cost of the detector's input size on real footage.

.venv/bin/python -m experiments.input_size [--video ../shared/videos/concourse_crowd_720p.avi]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from experiments.paths import CROWD_VIDEO
from har_stream.bench.input_size import measure_input_sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, default=CROWD_VIDEO)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1280, 960, 800, 640, 512, 480, 384])
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--backend", default="onnxruntime", choices=["onnxruntime", "openvino", "torch"])
    parser.add_argument("--json", type=Path, help="also write the result here")
    parser.add_argument("--float32", action="store_true", help="the float32 detector instead of the int8 one")
    args = parser.parse_args()
    result = measure_input_sizes(
        args.video, args.sizes, frames=args.frames, backend=args.backend, int8=not args.float32
    )
    result["int8"] = not args.float32
    text = json.dumps(result, indent=2)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
