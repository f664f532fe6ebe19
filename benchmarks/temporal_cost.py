"""Cost of the temporal stage per track update, on the crowded concourse footage (about 34 people a frame).

    .venv/bin/python benchmarks/temporal_cost.py [--frames 120] [--json benchmarks/video/temporal_cost.json]

Detects and tracks the frames first (not timed), then times the temporal stage alone over them, with every
person re-scored on every frame (every_n_frames 1: the worst case) and with the default staggering. Reports
milliseconds per frame and per track update (window features + ONNX trees + fusion, divided by the updates).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from har_stream.config import TemporalConfig, TrackerConfig, load_config  # noqa: E402
from har_stream.detection.detector import PersonDetector  # noqa: E402
from har_stream.frame import FrameRecord  # noqa: E402
from har_stream.sources import open_source  # noqa: E402
from har_stream.temporal.model import load_temporal_model  # noqa: E402
from har_stream.temporal.stage import TemporalStage  # noqa: E402
from har_stream.tracking.tracker import PersonTracker  # noqa: E402


def main() -> None:
    """Time the stage and print / write the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, default=REPO.parent / "shared" / "videos" / "concourse_crowd_720p.avi")
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    config = load_config(None, {"detector": {"imgsz": 1280}})
    detector = PersonDetector(config.detector)
    source = open_source(str(args.video), config.source)
    tracker = PersonTracker(TrackerConfig(), frame_rate=source.info.fps or 25.0)
    records = []
    for frame in source:
        record = FrameRecord(frame.index, frame.timestamp, frame.wall_time, frame.captured_at, frame.image)
        tracker(detector(record))
        records.append(record)
        if len(records) >= args.frames:
            break
    source.close()
    model = load_temporal_model("default")
    result = {
        "video": args.video.name,
        "frames": len(records),
        "people_per_frame": round(sum(len(r.detections) for r in records) / len(records), 1),
    }
    for every in (1, TemporalConfig().every_n_frames):  # worst case, then the default
        stage = TemporalStage(model, TemporalConfig(every_n_frames=every))
        work = [copy.copy(r) for r in records]
        for r, original in zip(work, records, strict=True):
            r.detections = copy.deepcopy(original.detections)
        start = time.perf_counter()
        for record in work:
            stage(record)
        elapsed = time.perf_counter() - start
        result[f"every_{every}_frames"] = {
            "ms_per_frame": round(elapsed * 1000 / len(work), 2),
            "updates": stage.updates,
            "ms_per_track_update": round(elapsed * 1000 / max(stage.updates, 1), 3),
        }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
