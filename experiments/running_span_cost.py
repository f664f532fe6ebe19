"""Cost of the running features at the shipped spans against the previous ones, side by side in one process: every
person of a harvested clip (tracks from ``experiments.running_harvest``) scored on every frame, rounds interleaved.

    .venv/bin/python -m experiments.running_span_cost [--clip kth_jogging_person01_jogging_d1_uncomp] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from experiments.paths import OUT, RESULTS
from har_stream.temporal.windows import TrackWindows
from har_stream.training.harvest import ClipTracks

SPANS = {"previous: speed over 0.4 s, sustained 0.4 s": (0.4, 0.4), "shipped: 0.3 s, sustained 0.1 s": (0.3, 0.1)}


def ms_per_window(tracks: ClipTracks, spans: tuple[float, float]) -> float:
    """Milliseconds per person-window of :meth:`TrackWindows.running` over the whole clip."""
    windows, elapsed, count = TrackWindows(), 0.0, 0
    for frame in np.unique(tracks.frame):
        rows = np.flatnonzero(tracks.frame == frame)
        t = float(tracks.timestamp[rows[0]])
        windows.update(t, tracks.track_id[rows], tracks.box[rows], tracks.keypoints[rows])
        start = time.perf_counter()
        windows.running(t, tracks.width, tracks.height, tracks.track_id[rows], spans)
        elapsed += time.perf_counter() - start
        count += len(rows)
    return elapsed / max(count, 1) * 1000


def cost_options(description: str, results_name: str) -> tuple[argparse.Namespace, ClipTracks]:
    """The options the running cost scripts share (harvest, clip, rounds, results file) and the clip's tracks."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--harvest", type=Path, default=OUT / "running_harvest")
    parser.add_argument("--clip", default="kth_jogging_person01_jogging_d1_uncomp")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path, default=RESULTS / results_name)
    args = parser.parse_args()
    return args, ClipTracks.load(args.harvest / f"{args.clip}.npz")


def write_costs(times: dict[str, list[float]], args: argparse.Namespace) -> None:
    """Each variant's median milliseconds per person-window, printed and written to ``args.json``."""
    report: dict[str, object] = {
        name: {"ms_per_window_median": round(float(np.median(v)), 4)} for name, v in times.items()
    }
    report["clip"], report["rounds"] = args.clip, args.rounds
    print(json.dumps(report, indent=1))
    args.json.write_text(json.dumps(report, indent=1) + "\n")


def main() -> None:
    args, tracks = cost_options(__doc__.splitlines()[0], "running_span_cost.json")
    times: dict[str, list[float]] = {name: [] for name in SPANS}
    for _ in range(args.rounds):
        for name, spans in SPANS.items():
            times[name].append(ms_per_window(tracks, spans))
    write_costs(times, args)


if __name__ == "__main__":
    main()
