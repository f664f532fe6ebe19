#!/usr/bin/env python3
"""Run every benchmark scenario of experiments/RESULTS.md, each as its own `har-stream bench pipeline` process.

    .venv/bin/python -m experiments.run_benchmarks [--out out/bench] [--only crowd light ...]

Scenarios (each compares the naive baseline and har-stream side by side in one process):
  crowd         concourse footage (dozens of people), default settings for both (detector input 640)
  crowd-1280    the same at detector input 1280 for both, where the pose model sees everyone
  light         a light scene (2-5 people, 1280x720) cut from the same footage, default settings
  light-live    the light scene replayed in real time as a live camera: frame age and dropped frames
  crowd-1280-live  the crowd at 1280 as a live camera, where processing is slower than the camera
The light scene is made from ../shared on first use (sample_videos/light_scene_720p.mp4, git-ignored).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from experiments.paths import CROWD_VIDEO, REPO

LIGHT = REPO / "sample_videos" / "light_scene_720p.mp4"

SCENARIOS: dict[str, list[str]] = {
    "crowd": ["--source", str(CROWD_VIDEO), "--frames", "300", "--baseline-frames", "60"],
    "crowd-1280": [
        "--source", str(CROWD_VIDEO), "--frames", "150", "--baseline-frames", "12",
        "--set", "detector.imgsz=1280", "--baseline-imgsz", "1280",
    ],
    "light": ["--source", str(LIGHT), "--frames", "300", "--baseline-frames", "40"],
    "light-live": ["--source", str(LIGHT), "--frames", "300", "--baseline-frames", "40", "--live"],
    "crowd-1280-live": [
        "--source", str(CROWD_VIDEO), "--frames", "150", "--baseline-frames", "12", "--live",
        "--set", "detector.imgsz=1280", "--baseline-imgsz", "1280",
    ],
}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "out" / "bench")
    parser.add_argument("--only", nargs="+", choices=list(SCENARIOS), default=list(SCENARIOS))
    args = parser.parse_args()
    if not CROWD_VIDEO.is_file():
        sys.exit(f"missing {CROWD_VIDEO}: the shared footage is expected beside the repository")
    if not LIGHT.is_file():
        from har_stream.bench.scenes import make_light_scene

        make_light_scene(CROWD_VIDEO, LIGHT)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.only:
        target = args.out / f"{name}.json"
        command = [sys.executable, "-m", "har_stream.cli", "bench", "pipeline", *SCENARIOS[name], "--json", str(target)]
        print(f"== {name}: {' '.join(command[2:])}", flush=True)
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        result = json.loads(target.read_text())
        keys = ("frames", "fps", "baseline_frames", "baseline_fps", "speedup")
        print(json.dumps({"scenario": name, **{k: result[k] for k in keys}}), flush=True)


if __name__ == "__main__":
    main()
