"""Cost of the temporal stage per track update, on the crowded concourse footage (about 34 people a frame) or
any other video.

    .venv/bin/python -m experiments.temporal_cost [--frames 120] [--json experiments/results/temporal_cost.json]
    .venv/bin/python -m experiments.temporal_cost --video ../shared/videos/cctv/surv_fi015.mp4 --imgsz 640

Detects and tracks the frames first (not timed), then times the temporal stage alone over them, with every
person re-scored on every frame (every_n_frames 1: the worst case) and with the default staggering, each with
the optical flow on and off (interleaved rounds, medians), so the flow's share is measured side by side. Reports
milliseconds per frame, per person and frame (each track's history grows, with its optical flow, on every
frame), and per track update (a track's window scored: everything the stage did, divided by the windows
scored).
People under 40 px tall get no optical flow and at most 10 people a frame get it (``FLOW_BUDGET``), so a crowd
costs the flow what 10 people do; on a CCTV clip everyone is tall enough.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from pathlib import Path

import numpy as np

from experiments.paths import CROWD_VIDEO
from har_stream.config import TemporalConfig, TrackerConfig, load_config
from har_stream.detection.detector import PersonDetector
from har_stream.frame import FrameRecord
from har_stream.sources import open_source
from har_stream.temporal.flow import FLOW_STATS
from har_stream.temporal.model import TemporalModel, load_temporal_model
from har_stream.temporal.stage import TemporalStage
from har_stream.tracking.tracker import PersonTracker


def _no_flow(image: np.ndarray, t: float, boxes: np.ndarray, index: int, track_ids: object = None) -> np.ndarray:
    return np.full((len(boxes), len(FLOW_STATS)), np.nan, np.float32)


def time_stage(model: TemporalModel | None, every: int, records: list, flow: bool) -> tuple[float, int]:
    """Seconds the stage takes over copies of ``records``, and the track windows it scored; ``flow`` False:
    the optical flow is not computed (its features are NaN), to see its share of the cost."""
    stage = TemporalStage(model, TemporalConfig(every_n_frames=every))
    if not flow:
        stage.flow = _no_flow  # type: ignore[assignment]
    work = [copy.copy(r) for r in records]
    for r, original in zip(work, records, strict=True):
        r.detections = copy.deepcopy(original.detections)
    start = time.perf_counter()
    for record in work:
        stage(record)
    return time.perf_counter() - start, stage.updates


def detected_records(video: Path, frames: int, imgsz: int) -> list[FrameRecord]:
    """The first ``frames`` frames of ``video``, detected at input ``imgsz`` and tracked (not timed)."""
    config = load_config(None, {"detector": {"imgsz": imgsz}})
    detector = PersonDetector(config.detector)
    source = open_source(str(video), config.source)
    tracker = PersonTracker(TrackerConfig(), frame_rate=source.info.fps or 25.0)
    records = []
    for frame in source:
        record = FrameRecord(frame.index, frame.timestamp, frame.wall_time, frame.captured_at, frame.image)
        tracker(detector(record))
        records.append(record)
        if len(records) >= frames:
            break
    source.close()
    return records


def compare_running(model: TemporalModel | None, records: list, rounds: int, people: int) -> dict:
    """The stage's cost with the kinematic running model and without it (trees), side by side."""
    import shutil
    import tempfile

    from har_stream.weights import MODELS_DIR

    with tempfile.TemporaryDirectory() as tmp:
        trees_folder = Path(tmp) / "temporal_trees"
        shutil.copytree(MODELS_DIR / "temporal_pose", trees_folder, ignore=shutil.ignore_patterns("running.json"))
        models = {"kinematic": model, "trees": TemporalModel(trees_folder)}
        runs: dict[str, list[tuple[float, int]]] = {name: [] for name in models}
        for _ in range(rounds):
            for name, candidate in models.items():
                runs[name].append(time_stage(candidate, 1, records, flow=True))
    out: dict = {}
    for name, timings in runs.items():
        elapsed = statistics.median(t for t, _ in timings)
        out[name] = {
            "ms_per_frame": round(elapsed * 1000 / len(records), 2),
            "ms_per_track_update": round(elapsed * 1000 / max(timings[0][1], 1), 3),
            "updates": timings[0][1],
        }
    out["kinematic_over_trees"] = round(out["kinematic"]["ms_per_frame"] / out["trees"]["ms_per_frame"], 3)
    out["extra_ms_per_track_update"] = round(
        out["kinematic"]["ms_per_track_update"] - out["trees"]["ms_per_track_update"], 3
    )
    return out


def main() -> None:
    """Time the stage and print / write the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, default=CROWD_VIDEO)
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--imgsz", type=int, default=1280, help="detector input size")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds (median reported)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--compare-running",
        action="store_true",
        help="Time the stage with the kinematic running model against the same folder without running.json "
        "(running from the trees, the previous release), interleaved, every person re-scored every frame.",
    )
    args = parser.parse_args()
    records = detected_records(args.video, args.frames, args.imgsz)
    model = load_temporal_model("default")
    people = sum(len(r.detections) for r in records)
    result = {
        "video": args.video.name,
        "imgsz": args.imgsz,
        "frames": len(records),
        "people_per_frame": round(people / len(records), 1),
    }
    if args.compare_running:
        result["running"] = compare_running(model, records, args.rounds, people)
        print(json.dumps(result, indent=2))
        if args.json:
            args.json.write_text(json.dumps(result, indent=2) + "\n")
        return
    for every in (1, TemporalConfig().every_n_frames):  # worst case, then the default
        runs: dict[str, list[tuple[float, int]]] = {"flow_on": [], "flow_off": []}
        for _ in range(args.rounds):  # interleaved, so machine noise hits both alike
            for key in runs:
                runs[key].append(time_stage(model, every, records, flow=key == "flow_on"))
        entry = {}
        for key, timings in runs.items():
            elapsed = statistics.median(t for t, _ in timings)
            updates = timings[0][1]
            entry[key] = {
                "ms_per_frame": round(elapsed * 1000 / len(records), 2),
                "ms_per_person_frame": round(elapsed * 1000 / max(people, 1), 3),
                "updates": updates,
                "ms_per_track_update": round(elapsed * 1000 / max(updates, 1), 3),
            }
        on, off = entry["flow_on"]["ms_per_frame"], entry["flow_off"]["ms_per_frame"]
        entry["flow_share_of_stage"] = round(1 - off / on, 3)
        result[f"every_{every}_frames"] = entry
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
