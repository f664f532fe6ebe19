"""Person down: what each cue of the fall watch adds, and what it costs, on harvested tracks of the train and val
groups of ``falls/`` (the test group, gmdcsa24_subject1, is never read here; its figures come from
``har-stream clips evaluate-video``).

    .venv/bin/python -m experiments.falls_cues --json experiments/results/falls_cues.json
    .venv/bin/python -m experiments.falls_cues --folder out/falls_cut20   # feet out of frame (experiments.falls_cut)

The tracks come from ``python -m experiments.running_harvest`` (boxes and keypoints of every tracked person of
every train/val clip, found by the real detector and tracker). Each variant replays them through
:class:`~har_stream.temporal.falls.FallWatch` with one cue switched off, and applies the shipped rule (evidence
0.6 held 1 s): falls alerted of the fall clips, daily-activity clips alerted, and the median seconds from the
labelled fall start to the alert. Without ``--folder``, also the train/val clips of every other folder (nobody falls
there) alerted by each variant. The cost is FallStage's time per track update, interleaved with an empty stage
over the same records.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import statistics
import time
from pathlib import Path

import numpy as np
import supervision as sv

from experiments.paths import CLIP_FOLDERS, OUT, VIDEOS
from har_stream.config.schema import FallsConfig
from har_stream.frame import KEYPOINTS, FrameRecord
from har_stream.temporal.fall_stage import FallStage
from har_stream.temporal.falls import FallSettings, FallWatch
from har_stream.training.harvest import ClipTracks

MIN_CONFIDENCE, MIN_DURATION_S = 0.6, 1.0
SHIPPED = FallSettings()
VARIANTS: dict[str, FallSettings] = {
    "shipped": SHIPPED,
    "no track handover": dataclasses.replace(SHIPPED, handover_s=0.0),
    "track handover 3 s (2 s shipped)": dataclasses.replace(SHIPPED, handover_s=3.0),
    "track handover 4 s": dataclasses.replace(SHIPPED, handover_s=4.0),
    "previous release (crouch check at 0.75, settling 0.3 s)": dataclasses.replace(
        SHIPPED, crouch_height=0.75, settle_s=0.3
    ),
    "crouch check at 0.75 of the upright height (0.6 shipped)": dataclasses.replace(SHIPPED, crouch_height=0.75),
    "settling 0.3 s (0.15 s shipped)": dataclasses.replace(SHIPPED, settle_s=0.3),
    "no crouch check (sitting counts as upright)": dataclasses.replace(SHIPPED, crouch_height=0.0),
    "no settling (judged on the first lying frame)": dataclasses.replace(SHIPPED, settle_s=0.0),
    "no width check (bending over counts as lying)": dataclasses.replace(SHIPPED, lying_width=0.0),
    "no head drop needed": dataclasses.replace(SHIPPED, min_drop=0.0),
    "no time limit (lying down slowly counts)": dataclasses.replace(SHIPPED, fall_within_s=1e9),
    "no torso angle (box shape alone)": dataclasses.replace(SHIPPED, upright_angle=1e9, lying_angle=1e9),
    "no unseen hold (a fallen person the detector loses is forgotten)": dataclasses.replace(SHIPPED, hold_unseen_s=0.0),
}


def clips(harvest: Path, folder: Path | None = None) -> list[tuple[str, str, float | None, ClipTracks, float]]:
    """(file, label, labelled fall start, tracks, clip duration) of the train and val clips of falls/, or of every
    clip in ``folder`` (its labels.csv, the tracks beside it: ``experiments.falls_cut --harvest``)."""
    split = {r["file"]: r["part"] for r in csv.DictReader(CLIP_FOLDERS["falls"].open())}
    labels = (folder or VIDEOS / "falls") / "labels.csv"
    out = []
    for row in csv.DictReader(labels.open()):
        if split.get(row["file"]) not in ("train", "val"):
            continue
        path = (folder or harvest) / f"{Path(row['file']).stem}.npz"
        if path.is_file():
            start = float(row["start_s"]) if row["start_s"] else None
            out.append((row["file"], row["label"], start, ClipTracks.load(path), float(row["duration_s"])))
    return out


def frame_times(tracks: ClipTracks, duration_s: float) -> list[tuple[float, np.ndarray]]:
    """(media time, rows) of every harvested frame with people, then empty frames at the harvest's step to the
    clip's end (a fallen person the detector lost is held through those)."""
    frames = [(float(tracks.timestamp[tracks.frame == f][0]), tracks.frame == f) for f in np.unique(tracks.frame)]
    times = [t for t, _ in frames]
    step = float(np.median(np.diff(times))) if len(times) > 1 else 0.1
    empty = np.zeros(len(tracks.frame), dtype=bool)
    t = times[-1] if times else 0.0
    while (t := t + step) <= duration_s:
        frames.append((t, empty))
    return frames


def first_alert(tracks: ClipTracks, settings: FallSettings, duration_s: float) -> float | None:
    """Media time of the first alert the shipped rule would raise (evidence held ``MIN_DURATION_S``), counting
    the fallen people the detector lost and the watch holds."""
    watch = FallWatch(settings)
    since: dict[int, float] = {}
    for t, rows in frame_times(tracks, duration_s):
        evidence, _ = watch.update(t, tracks.track_id[rows], tracks.box[rows], tracks.keypoints[rows])
        held_ids, _, held_evidence, _ = watch.held(t, tracks.width, tracks.height)
        ids = tracks.track_id[rows].tolist() + held_ids.tolist()
        for tid, e in zip(ids, np.concatenate([evidence, held_evidence]), strict=True):
            if e >= MIN_CONFIDENCE:
                if t - since.setdefault(tid, t) >= MIN_DURATION_S:
                    return t
            else:
                since.pop(tid, None)
    return None


def other_clips(harvest: Path) -> list[tuple[ClipTracks, float]]:
    """(tracks, duration) of every harvested train/val clip of the other folders (fights, walkers, runners, crowds:
    nobody labelled as falling), for the false alarms a variant raises there."""
    out = []
    with (harvest / "clips.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            path = harvest / f"{Path(row['file']).stem}.npz"
            if row["folder"] != "falls" and path.is_file():
                tracks = ClipTracks.load(path)
                if len(tracks.timestamp):
                    out.append((tracks, float(tracks.timestamp.max()) + 0.1))
    return out


def score(data: list, settings: FallSettings) -> dict:
    alerts = [(label, start, first_alert(tracks, settings, duration)) for _, label, start, tracks, duration in data]
    falls = [a for a in alerts if a[0] == "falling"]
    daily = [a for a in alerts if a[0] != "falling"]
    delays = [alert - start for _, start, alert in falls if alert is not None and start is not None]
    return {
        "falls_alerted": sum(a[2] is not None for a in falls),
        "falls": len(falls),
        "daily_alerted": sum(a[2] is not None for a in daily),
        "daily": len(daily),
        "median_s_from_fall_start": round(statistics.median(delays), 2) if delays else None,
    }


def records(data: list) -> list[FrameRecord]:
    image = np.zeros((1, 1, 3), np.uint8)
    out = []
    for _, _, _, tracks, _ in data:
        for frame in np.unique(tracks.frame):
            rows = tracks.frame == frame
            det = sv.Detections(
                xyxy=tracks.box[rows].astype(np.float32), tracker_id=tracks.track_id[rows] + 10_000 * len(out)
            )
            det.data[KEYPOINTS] = tracks.keypoints[rows]
            t = float(tracks.timestamp[rows][0]) + 1000.0 * len(out)
            out.append(
                FrameRecord(index=len(out), timestamp=t, wall_time=t, captured_at=0.0, image=image, detections=det)
            )
    return out


def cost(data: list, rounds: int = 5) -> dict:
    """Milliseconds per track update of FallStage and of an empty stage, interleaved rounds, medians."""
    recs = records(data)
    updates = sum(len(r.detections) for r in recs)
    timings: dict[str, list[float]] = {"fall stage": [], "empty stage": []}
    for _ in range(rounds):
        for name in timings:
            stage = FallStage(FallsConfig()) if name == "fall stage" else (lambda record: record)
            fresh = [
                dataclasses.replace(
                    r,
                    detections=sv.Detections(
                        xyxy=r.detections.xyxy, tracker_id=r.detections.tracker_id, data=dict(r.detections.data)
                    ),
                )
                for r in recs
            ]
            start = time.perf_counter()
            for record in fresh:
                stage(record)
            timings[name].append((time.perf_counter() - start) * 1000 / updates)
    return {name: round(statistics.median(v), 4) for name, v in timings.items()} | {"track_updates": updates}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--harvest", type=Path, default=OUT / "running_harvest")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--folder", type=Path, default=None, help="clips made from falls/ train/val with their tracks (falls_cut)"
    )
    args = parser.parse_args()
    data = clips(args.harvest, args.folder)
    if not data:
        raise SystemExit(
            f"no harvested falls/ clips in {args.harvest}: run python -m experiments.running_harvest first"
        )
    others = other_clips(args.harvest) if args.folder is None else []
    result = {"clips": len(data), "variants": {}, "cost_ms_per_track_update": cost(data)}
    for name, settings in VARIANTS.items():
        result["variants"][name] = figures = score(data, settings)
        if others:
            fired = sum(first_alert(tracks, settings, duration) is not None for tracks, duration in others)
            figures["other_clips_alerted"] = f"{fired}/{len(others)}"
        falls = f"falls {figures['falls_alerted']}/{figures['falls']}"
        daily = f"daily {figures['daily_alerted']}/{figures['daily']}"
        other = f"  other clips {figures['other_clips_alerted']}" if others else ""
        print(f"{name:48s} {falls}  {daily}{other}  median s {figures['median_s_from_fall_start']}", flush=True)
    print(json.dumps(result["cost_ms_per_track_update"]))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
