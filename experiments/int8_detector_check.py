"""Does the int8 detector find the people the float32 one finds, on this CPU?

On real CCTV clips of the train groups (every 8th of the first 40 frames of each, at the CCTV config's input
640) and on the concourse crowd (3 frames at 1280), each int8 model given is compared with the float32 export
of the same weights: the share of float32's confident people (confidence >= 0.5) that the int8 model finds at
the same place (``har_stream.bench.input_size.recall``), and how many people each finds. Reports the CPU's
int8 instruction sets, because CPUs without VNNI saturate full-range uint8 x int8 sums
(``har_stream/detection/quantize.py``).

    .venv/bin/python -m experiments.int8_detector_check [--model models/yolo11n-pose-int8.onnx ...]
        [--json experiments/results/int8_detector_check.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from experiments.paths import CCTV_SPLIT, REPO, VIDEOS
from har_stream.bench.input_size import recall
from har_stream.clips import load_clip_split
from har_stream.config import DetectorConfig
from har_stream.detection import PersonDetector
from tests.conftest import decode_frames

CLIPS = (
    "surv_fi005.mp4",
    "surv_fi019.mp4",
    "surv_fi043.mp4",
    "surv_fi051.mp4",
    "surv_fi068.mp4",
    "surv_nofi012.mp4",
    "surv_nofi037.mp4",
)


def cpu_flags() -> list[str]:
    """The CPU's int8 dot-product instruction sets (Linux), as /proc/cpuinfo names them."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return []
    return sorted(flags & {"avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8"})


def compare(model: str, scenes: list[tuple[str, int, list]]) -> dict:
    """Recall of float32's confident people and people counts of ``model`` against float32, per scene."""
    out: dict = {}
    for name, imgsz, frames in scenes:
        int8 = PersonDetector(DetectorConfig(model=model, imgsz=imgsz))
        reference = PersonDetector(DetectorConfig(imgsz=imgsz, int8=False))
        matched = total = found = expected_people = 0
        for frame in frames:
            expected = reference.detect(frame)
            got = int8.detect(frame)
            m, t = recall(expected[expected.confidence >= 0.5], got)
            matched, total = matched + m, total + t
            found, expected_people = found + len(got), expected_people + len(expected)
        out[name] = {
            "frames": len(frames),
            "confident_float32_people_found": f"{matched}/{total}",
            "recall": round(matched / total, 3) if total else None,
            "people_int8": found,
            "people_float32": expected_people,
        }
        print(model, name, out[name], flush=True)
    return out


def main() -> None:
    """Compare each model on every scene and print / write the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", default=None, help="int8 ONNX model (repeatable)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    split = load_clip_split(CCTV_SPLIT)
    clips = [c for c in CLIPS if split.get(c) == "train"]
    scenes = [(c, 640, decode_frames(VIDEOS / "cctv" / c)[:40:8]) for c in clips]
    crowd = decode_frames(VIDEOS / "concourse_crowd_720p.avi")
    scenes.append(("concourse (1280)", 1280, [crowd[0], crowd[20], crowd[39]]))
    result: dict = {"cpu_int8_flags": cpu_flags(), "models": {}}
    for model in args.model or [str(REPO / "models" / "yolo11n-pose-int8.onnx")]:
        result["models"][model] = per_scene = compare(model, scenes)
        cctv = [v for k, v in per_scene.items() if k.endswith(".mp4")]
        matched = sum(int(v["confident_float32_people_found"].split("/")[0]) for v in cctv)
        total = sum(int(v["confident_float32_people_found"].split("/")[1]) for v in cctv)
        per_scene["all CCTV clips"] = {"confident_float32_people_found": f"{matched}/{total}"}
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
