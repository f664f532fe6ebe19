"""Retrain the temporal model's fighting trees with the new real clips (interactions/ and cctv_more/) beside
the CCTV clips, on the train and val groups only, to compare with the shipped model on the test groups.

    .venv/bin/python -m experiments.running_harvest        # tracks of every folder's train and val clips
    .venv/bin/python -m experiments.fighting_retrain [--out out/temporal_more_clips]

The model is written to ``--out`` (with the shipped running.json copied in, so running is unchanged); evaluate
it with ``har-stream clips evaluate-video ... --set temporal.model=<out>``. The fusion weight and the rule stay
configs/cctv.yaml's.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from experiments.paths import FIGHTING_FOLDERS, REPO, VIDEOS, clip_folders
from har_stream.clips import load_clip_split, read_clip_labels
from har_stream.training.temporal_card import write_temporal_card
from har_stream.training.temporal_training import train_temporal


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--harvest", type=Path, default=REPO / "out" / "running_harvest")
    parser.add_argument("--out", type=Path, default=REPO / "out" / "temporal_more_clips")
    args = parser.parse_args()
    clips, split = [], {}
    for folder, split_file in clip_folders(*FIGHTING_FOLDERS).items():
        clips += read_clip_labels(VIDEOS / folder)
        split.update(load_clip_split(split_file))
    tracks = args.harvest / "harvest" / "tracks"  # train_temporal reads <harvest>/tracks/<stem>.npz
    tracks.mkdir(parents=True, exist_ok=True)
    for clip in clips:
        source = args.harvest / f"{Path(clip.file).stem}.npz"
        link = tracks / source.name
        if source.is_file() and not link.exists():
            link.symlink_to(source.resolve())
    figures = train_temporal(
        clips, tracks.parent, split, args.out, command="experiments/fighting_retrain.py (cctv, interactions, cctv_more)"
    )
    shutil.copy(REPO / "models" / "temporal_pose" / "running.json", args.out / "running.json")
    write_temporal_card(args.out)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
