"""Harvest the tracks (boxes, keypoints, speed) of the train and val clips of every real clip folder, for
designing and choosing the running score (experiments/running_score.py). Test clips are never harvested here.

    .venv/bin/python -m experiments.running_harvest [--out out/running_harvest]

One ``.npz`` per clip (``har_stream.training.harvest.ClipTracks``), plus ``clips.csv`` naming each clip's
folder, label, group, part and whether it shows running (the jogging clips of falls/ count as running).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from tqdm import tqdm

from experiments.paths import CLIP_FOLDERS, REPO, VIDEOS
from har_stream.clips import load_clip_split, read_clip_labels
from har_stream.config.loading import load_config
from har_stream.detection.detector import PersonDetector
from har_stream.training.harvest import track_clip


def is_running(folder: str, file: str, label: str, dataset_label: str) -> bool:
    """Whether a clip shows people running (falls/ labels its jogging clips ``none``: they are not falls)."""
    return label == "running" or (folder == "falls" and "jogging" in dataset_label)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "out" / "running_harvest")
    parser.add_argument("--parts", default="train,val")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    config = load_config(REPO / "configs" / "cctv.yaml")
    detector = PersonDetector(config.detector)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    todo = []
    for folder, split_file in CLIP_FOLDERS.items():
        split = load_clip_split(split_file)
        with (VIDEOS / folder / "labels.csv").open(newline="") as handle:
            dataset_labels = {r["file"]: r.get("dataset_label", "") for r in csv.DictReader(handle)}
        for clip in read_clip_labels(VIDEOS / folder):
            part = split.get(clip.file, "")
            if part not in parts:
                continue
            running = is_running(folder, clip.file, clip.label, dataset_labels.get(clip.file, ""))
            rows.append([folder, clip.file, clip.label, clip.group, part, int(running)])
            todo.append(clip)
    with (args.out / "clips.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["folder", "file", "label", "group", "part", "running"])
        writer.writerows(rows)
    for clip in tqdm(todo, unit="clip"):
        target = args.out / f"{Path(clip.file).stem}.npz"
        if target.is_file():
            continue
        tracks, _ = track_clip(clip.path, config, detector)
        tracks.save(target)


if __name__ == "__main__":
    main()
