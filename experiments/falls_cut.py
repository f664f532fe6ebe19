"""Person down with the feet out of the picture: the train and val clips of ``falls/`` with the bottom of every
frame cut off, as a camera mounted lower or nearer would see them (the issue asks for robustness to boxes cut by
the frame edge, and no train or val fall has it). The test group is never read.

    .venv/bin/python -m experiments.falls_cut --cut 0.2            # writes out/falls_cut20/ (clips + labels.csv)
    .venv/bin/python -m experiments.falls_cut --cut 0.2 --harvest  # ... and their tracks (for experiments.falls_cues
                                                                   #     --folder out/falls_cut20)
    .venv/bin/har-stream clips evaluate-video --clips out/falls_cut20 --config configs/cctv.yaml \\
        --json experiments/results/falls_cut20_trainval.json
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import cv2

from experiments.paths import CLIP_FOLDERS, OUT, VIDEOS


def cut_clips(cut: float, out: Path) -> int:
    """Write every train/val clip of falls/ with the bottom ``cut`` of its height removed, and a labels.csv."""
    out.mkdir(parents=True, exist_ok=True)
    split = {r["file"]: r["part"] for r in csv.DictReader(CLIP_FOLDERS["falls"].open())}
    rows = []
    for row in csv.DictReader((VIDEOS / "falls" / "labels.csv").open()):
        if split.get(row["file"]) not in ("train", "val"):
            continue
        capture = cv2.VideoCapture(str(VIDEOS / "falls" / row["file"]))
        fps, width, height = capture.get(cv2.CAP_PROP_FPS), int(capture.get(3)), int(capture.get(4))
        keep = int(height * (1 - cut)) // 2 * 2
        writer = cv2.VideoWriter(str(out / row["file"]), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, keep))
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            writer.write(frame[:keep])
        writer.release()
        rows.append({k: row[k] for k in ("file", "label", "group", "start_s", "duration_s")})
    with (out / "labels.csv").open("w", newline="") as handle:
        writer_csv = csv.DictWriter(handle, fieldnames=["file", "label", "group", "start_s", "duration_s"])
        writer_csv.writeheader()
        writer_csv.writerows(rows)
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cut", type=float, default=0.2, help="share of the height cut off the bottom")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--harvest", action="store_true", help="also track everyone in them (one .npz per clip)")
    args = parser.parse_args()
    out = args.out or OUT / f"falls_cut{round(args.cut * 100)}"
    print(f"{cut_clips(args.cut, out)} clips written to {out}")
    if args.harvest:
        harvest(out)


def harvest(folder: Path) -> None:
    """The tracks of every clip in ``folder`` (``<stem>.npz`` beside it), as ``experiments.running_harvest``."""
    from tqdm import tqdm

    from experiments.paths import REPO
    from har_stream.config.loading import load_config
    from har_stream.detection.detector import PersonDetector
    from har_stream.training.harvest import track_clip

    config = load_config(REPO / "configs" / "cctv.yaml")
    detector = PersonDetector(config.detector)
    for clip in tqdm(sorted(folder.glob("*.mp4")), unit="clip"):
        target = folder / f"{clip.stem}.npz"
        if not target.is_file():
            track_clip(clip, config, detector)[0].save(target)


if __name__ == "__main__":
    main()
