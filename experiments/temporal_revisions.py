"""The temporal stage's cost with this checkout's code against another git revision's, side by side.

    .venv/bin/python -m experiments.temporal_revisions --against 9008b86 [--rounds 5] [--json out/revisions.json]

Detects and tracks the crowd frames once (``--video``, ``--frames``, ``--imgsz``; not timed), then, in
interleaved rounds, times the stage of each revision in its own process on the same frames: every person
re-scored on every frame (the worst case) and at the default staggering (every 4th frame). The other revision is
checked out into a temporary git worktree; both use this checkout's ``models/temporal_pose``. Each process also
returns every motion score it produced, and the script says whether the two revisions agree exactly.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from experiments.paths import CROWD_VIDEO, REPO
from experiments.temporal_cost import detected_records

_WORKER = r"""
# Run with cwd and PYTHONPATH set to the revision's folder (sys.argv[1]), so that its har_stream is imported.
import copy, json, pickle, sys, time
import numpy as np
from har_stream.config import TemporalConfig
from har_stream.frame import MOTION_SCORES
from har_stream.temporal.model import load_temporal_model
from har_stream.temporal.stage import TemporalStage
records = pickle.loads(open(sys.argv[2], "rb").read())
model = load_temporal_model(sys.argv[3])
result = {}
for every in (1, 4):
    stage = TemporalStage(model, TemporalConfig(every_n_frames=every))
    work = [copy.copy(r) for r in records]
    for r, original in zip(work, records):
        r.detections = copy.deepcopy(original.detections)
    start = time.perf_counter()
    for r in work:
        stage(r)
    seconds = time.perf_counter() - start
    scores = np.concatenate([r.detections.data[MOTION_SCORES] for r in work])
    np.save(f"{sys.argv[4]}_{every}.npy", scores)
    result[every] = {"ms_per_frame": 1000 * seconds / len(work), "ms_per_track_update": 1000 * seconds / stage.updates}
print(json.dumps(result))
"""


def detect(video: Path, frames: int, imgsz: int, out: Path) -> int:
    """Detect and track the first ``frames`` frames; pickle the frame records to ``out``; people per frame."""
    records = detected_records(video, frames, imgsz)
    out.write_bytes(pickle.dumps(records))
    return sum(len(r.detections) for r in records) // max(len(records), 1)


def main() -> None:
    """Time both revisions and print / write the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", required=True, help="git revision to compare with (e.g. HEAD~1)")
    parser.add_argument("--video", type=Path, default=CROWD_VIDEO)
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--imgsz", type=int, default=1280, help="detector input size")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (medians reported)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        other = work / "other"
        git = ["git", "-C", str(REPO), "worktree"]
        subprocess.run([*git, "add", "-q", "--detach", str(other), args.against], check=True)
        try:
            records = work / "records.pkl"
            people = detect(args.video, args.frames, args.imgsz, records)
            model = str(REPO / "models" / "temporal_pose")
            runs: dict[str, list[dict]] = {"this checkout": [], args.against: []}
            for round_ in range(args.rounds):
                for name, code in (("this checkout", REPO), (args.against, other)):
                    scores = work / f"{'this' if code == REPO else 'other'}"
                    out = subprocess.run(
                        [sys.executable, "-c", _WORKER, str(code), str(records), model, str(scores)],
                        check=True,
                        capture_output=True,
                        text=True,
                        cwd=code,
                        env={**os.environ, "PYTHONPATH": str(code)},
                    )
                    runs[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
                print(f"round {round_ + 1}/{args.rounds} done", file=sys.stderr)
            same = all(
                np.array_equal(np.load(work / f"this_{e}.npy"), np.load(work / f"other_{e}.npy"), equal_nan=True)
                for e in (1, 4)
            )
        finally:
            subprocess.run([*git, "remove", "--force", str(other)], check=False)
    result: dict = {"video": args.video.name, "imgsz": args.imgsz, "frames": args.frames, "people_per_frame": people}
    result["rounds"] = args.rounds
    result["identical_motion_scores"] = same
    for every in ("1", "4"):
        row = {}
        for name, rounds in runs.items():
            row[name] = {k: round(statistics.median(r[every][k] for r in rounds), 3) for k in rounds[0][every]}
        mine, theirs = row["this checkout"]["ms_per_frame"], row[args.against]["ms_per_frame"]
        row["ratio"] = round(mine / theirs, 3)
        result[f"every_{every}_frames"] = row
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
