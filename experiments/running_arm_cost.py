"""Cost of the arms' bend in the running features, side by side in one process: every person of a harvested clip
(tracks from ``experiments.running_harvest``) scored on every frame at the shipped spans, with the bend measured
and with it skipped, rounds interleaved.

    .venv/bin/python -m experiments.running_arm_cost [--clip kth_jogging_person01_jogging_d1_uncomp] [--rounds 5]
"""

from __future__ import annotations

from unittest import mock

from experiments.running_span_cost import cost_options, ms_per_window, write_costs
from har_stream.temporal import running

SHIPPED_SPANS = (0.3, 0.1)


def main() -> None:
    args, tracks = cost_options(__doc__.splitlines()[0], "running_arm_cost.json")
    times: dict[str, list[float]] = {"with the elbow bend (shipped)": [], "without it": []}
    for _ in range(args.rounds):
        times["with the elbow bend (shipped)"].append(ms_per_window(tracks, SHIPPED_SPANS))
        with mock.patch.object(running, "elbow_bend", lambda window: float("nan")):
            times["without it"].append(ms_per_window(tracks, SHIPPED_SPANS))
    write_costs(times, args)


if __name__ == "__main__":
    main()
