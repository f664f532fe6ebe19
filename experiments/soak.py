"""Soak benchmark: run the real pipeline on a looping live-like source for a long time and record memory.

Not a test: run it by hand, e.g. ``nice -n 10 .venv/bin/python -m experiments.soak --minutes 30``.
Every ``--interval-s`` it samples the process RSS, frames processed, track ids seen, and the size of the
per-track state each stage keeps (tracker registry, smoother, classifier scheduler, rule engine). Writes
JSON (samples plus a summary with the RSS growth rate over the run's second half) to ``--out``.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np

from experiments.paths import CROWD_VIDEO, REPO, RESULTS
from har_stream.api import build_config
from har_stream.frame import FrameRecord
from har_stream.pipeline import Pipeline
from har_stream.sources.replay import open_replay


def rss_mb() -> float:
    """Resident set size of this process in MiB (from /proc)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def stage_state_sizes() -> dict[str, int]:
    """How many tracks each stage of the running pipeline remembers (found through the garbage collector)."""
    from har_stream.classification.stage import ActionClassifierStage
    from har_stream.rules.engine import RuleEngine
    from har_stream.smoothing import ActionSmoother
    from har_stream.tracking.tracker import PersonTracker

    sizes = {"tracker_registry": 0, "smoother": 0, "classifier_scheduler": 0, "rule_states": 0}
    with warnings.catch_warnings():  # isinstance() on some torch objects warns about deprecated names
        warnings.simplefilter("ignore")
        objects = gc.get_objects()
        found = [
            o for o in objects if isinstance(o, (PersonTracker, ActionSmoother, ActionClassifierStage, RuleEngine))
        ]
    for obj in found:
        if isinstance(obj, PersonTracker):
            sizes["tracker_registry"] += len(obj.registry.tracks)
        elif isinstance(obj, ActionSmoother):
            sizes["smoother"] += len(obj)
        elif isinstance(obj, ActionClassifierStage):
            sizes["classifier_scheduler"] += len(obj.scheduler)
        elif isinstance(obj, RuleEngine):
            sizes["rule_states"] += len(obj)
    return sizes


def growth_mb_per_hour(samples: list[dict]) -> float | None:
    """Slope of a straight line fitted to RSS over the second half of the run, in MiB per hour."""
    half = [s for s in samples if s["t_s"] >= samples[-1]["t_s"] / 2]
    if len(half) < 3:
        return None
    slope = np.polyfit([s["t_s"] for s in half], [s["rss_mb"] for s in half], 1)[0]
    return round(float(slope) * 3600, 2)


def main() -> None:
    """Run the soak and write its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=CROWD_VIDEO)
    parser.add_argument("--config", type=Path, default=REPO / "configs" / "concourse.yaml")
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--interval-s", type=float, default=30.0)
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="KEY=VALUE config override")
    parser.add_argument("--out", type=Path, default=RESULTS / "soak.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    import yaml

    overrides = {k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in args.overrides)}
    workdir = Path(tempfile.mkdtemp(prefix="har-soak-"))
    config = build_config(
        args.config, export=workdir / "soak.mp4", events=workdir / "events.jsonl", overrides=overrides
    )
    pipeline = Pipeline(config)
    source = open_replay(args.video, config.source)
    seen_ids: set[int] = set()
    counters = {"frames": 0, "ended": 0}

    def on_frame(record: FrameRecord) -> None:
        counters["frames"] += 1
        counters["ended"] += len(record.ended_tracks)
        if record.detections.tracker_id is not None:
            seen_ids.update(int(i) for i in record.detections.tracker_id)

    samples: list[dict] = []
    started = time.monotonic()
    stop = threading.Event()

    def sample() -> None:
        while True:
            entry = {
                "t_s": round(time.monotonic() - started, 1),
                "rss_mb": round(rss_mb(), 1),
                "frames": counters["frames"],
                "track_ids_seen": len(seen_ids),
                "tracks_ended": counters["ended"],
                **stage_state_sizes(),
                **{k: v for k, v in source.health().items() if k in ("frames_in", "frames_dropped", "fps_in")},
            }
            samples.append(entry)
            print(json.dumps(entry), flush=True)
            if entry["t_s"] >= args.minutes * 60 or stop.wait(args.interval_s):
                pipeline.request_stop()
                return

    sampler = threading.Thread(target=sample, name="soak-sampler", daemon=True)
    sampler.start()
    result = pipeline.run(source=source, on_frame=on_frame)
    stop.set()
    sampler.join()
    rss = [s["rss_mb"] for s in samples]
    summary = {
        "command": "experiments/soak.py " + " ".join(f"{k}={v}" for k, v in vars(args).items()),
        "minutes": round((time.monotonic() - started) / 60, 2),
        "frames_processed": result.summary["frames"],
        "fps": result.summary["fps"],
        "frame_age_ms": result.summary["frame_age_ms"],
        "track_ids_seen": len(seen_ids),
        "tracks_ended": counters["ended"],
        "rss_mb_first": rss[0],
        "rss_mb_at_5_min": next((s["rss_mb"] for s in samples if s["t_s"] >= 300), rss[-1]),
        "rss_mb_last": rss[-1],
        "rss_mb_max": max(rss),
        "rss_growth_mb_per_hour_second_half": growth_mb_per_hour(samples),
        "max_state_sizes": {
            key: max(s[key] for s in samples)
            for key in ("tracker_registry", "smoother", "classifier_scheduler", "rule_states")
        },
        "source": result.summary["source"],
        "error": result.error,
        "cpu_count": os.cpu_count(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary, "samples": samples}, indent=1))
    print(json.dumps(summary, indent=1), flush=True)


if __name__ == "__main__":
    main()
