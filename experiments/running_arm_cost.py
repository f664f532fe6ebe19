"""Cost of the arms' bend in the running features, side by side in one process: every person of a harvested clip
(tracks from ``experiments.running_harvest``) scored on every frame at the shipped spans, with the bend measured
and with it skipped, rounds interleaved.

    .venv/bin/python -m experiments.running_arm_cost [--clip kth_jogging_person01_jogging_d1_uncomp] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from unittest import mock

import numpy as np

from experiments.paths import OUT, RESULTS
from experiments.running_span_cost import ms_per_window
from har_stream.temporal import running
from har_stream.training.harvest import ClipTracks

SHIPPED_SPANS = (0.3, 0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--harvest", type=Path, default=OUT / "running_harvest")
    parser.add_argument("--clip", default="kth_jogging_person01_jogging_d1_uncomp")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path, default=RESULTS / "running_arm_cost.json")
    args = parser.parse_args()
    tracks = ClipTracks.load(args.harvest / f"{args.clip}.npz")
    times: dict[str, list[float]] = {"with the elbow bend (shipped)": [], "without it": []}
    for _ in range(args.rounds):
        times["with the elbow bend (shipped)"].append(ms_per_window(tracks, SHIPPED_SPANS))
        with mock.patch.object(running, "elbow_bend", lambda window: float("nan")):
            times["without it"].append(ms_per_window(tracks, SHIPPED_SPANS))
    report: dict[str, object] = {
        name: {"ms_per_window_median": round(float(np.median(v)), 4)} for name, v in times.items()
    }
    report["clip"], report["rounds"] = args.clip, args.rounds
    print(json.dumps(report, indent=1))
    args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
