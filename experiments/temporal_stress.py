"""Running stress test (synthetic, labelled as such): walkers of held-out quiet clips replayed 1x, 2x, 3x.

    .venv/bin/python -m experiments.temporal_stress [--threshold 0.7] [--json experiments/results/temporal_stress.json]

Tracks every quiet (none / walking) clip of the test groups of models/cctv_split.csv with the pipeline's own
detector and tracker, replays its walkers through the shipped temporal model at each speed, and reports the share
of walkers whose smoothed running score reaches the threshold (configs/cctv.yaml's running rule by default).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from experiments.paths import CCTV_SPLIT, REPO, VIDEOS
from har_stream.clips import load_clip_split, read_clip_labels
from har_stream.config.loading import load_config
from har_stream.detection.detector import PersonDetector
from har_stream.temporal.model import load_temporal_model
from har_stream.training.harvest import track_clip
from har_stream.training.temporal_stress import walker_scores


def main() -> None:
    """Run the stress test and print / write its figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=Path, default=VIDEOS / "cctv")
    parser.add_argument("--split", type=Path, default=CCTV_SPLIT)
    parser.add_argument("--threshold", type=float, default=0.7)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    config = load_config(REPO / "configs" / "cctv.yaml")
    detector = PersonDetector(config.detector)
    model = load_temporal_model("default")
    assert model is not None, "models/temporal_pose is missing"
    split = load_clip_split(args.split)
    clips = [c for c in read_clip_labels(args.clips) if split.get(c.file) == "test" and c.label in ("none", "walking")]
    scores: dict[str, list[float]] = {"1x": [], "2x": [], "3x": []}
    for clip in tqdm(clips, desc="walkers", unit="clip"):
        tracks, _ = track_clip(clip.path, config, detector)
        for speed in (1.0, 2.0, 3.0):
            scores[f"{speed:g}x"] += walker_scores(tracks, model, speed).values()
    result = {
        "what": "synthetic stress test: walkers of held-out quiet clips replayed faster",
        "threshold": args.threshold,
        "clips": len(clips),
        "walkers": len(scores["1x"]),
        "share_scored_running": {k: round(float(np.mean(np.array(v) >= args.threshold)), 3) for k, v in scores.items()},
        "median_score": {k: round(float(np.median(v)), 3) for k, v in scores.items()},
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
