"""One camera in-process against the same camera as a Ray actor, side by side in one run, plus per-camera costs.

    .venv/bin/python -m experiments.cluster_overhead [--seconds 20] [--rounds 2]
        [--json experiments/results/cluster_overhead.json]

Both variants run the real ``SiteRuntime`` (hub, store, media) on the same looping 720p footage; the Ray
variant runs the camera in an actor on a private local Ray instance (``cluster.address: local``) with
``num_cpus`` equal to this machine's cores so it gets the same threads. Rounds alternate (in-process, Ray,
in-process, Ray, ...) so load from other work on the machine hits both alike. Per camera it also measures
what the paper plan in docs/scaling.md scales from: CPU seconds per frame (camera process, head process),
720p decode time per frame, the source bitrate, bytes of a live frame, alert events per minute, and the
event store's sustained write rate.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from experiments.paths import CROWD_VIDEO
from har_stream.config.site import validate_site
from har_stream.serve.runtime import SiteRuntime


def camera(video: Path, imgsz: int) -> dict[str, Any]:
    """The sample site's first camera at ``imgsz`` (default classifier every 15 frames)."""
    return {
        "name": "bench",
        "source": {"uri": str(video), "loop": True},
        "detector": {"imgsz": imgsz, "confidence": 0.25},
        "classifier": {"every_n_frames": 15, "max_per_frame": 4},
        "rules": [{"name": "anyone", "actions": ["*"], "min_confidence": 0.0, "min_duration_s": 0.5}],
    }


def run_once(folder: Path, cluster: dict[str, Any] | None, args: argparse.Namespace) -> dict[str, Any]:
    """Warm up, then count frames over ``args.seconds``; CPU of this process and of the camera's process."""
    site = validate_site(
        {"cameras": [camera(args.video, args.imgsz)], "media": {"folder": str(folder)}, "cluster": cluster}, env={}
    )
    runtime = SiteRuntime(site).start()
    worker = runtime.cameras["bench"]
    try:
        deadline = time.monotonic() + 300
        while worker.health()["frames_processed"] < args.warmup and time.monotonic() < deadline:
            time.sleep(0.2)
        health = worker.health()
        head = psutil.Process()
        cam = psutil.Process(health["pid"]) if "pid" in health else head
        f0, c0, h0, t0 = health["frames_processed"], _cpu(cam), _cpu(head), time.monotonic()
        alerts0 = runtime.store.query()[0]
        time.sleep(args.seconds)
        f1, c1, h1, t1 = worker.health()["frames_processed"], _cpu(cam), _cpu(head), time.monotonic()
        alerts = runtime.store.query()[0] - alerts0
        frames = f1 - f0
        _, jpeg = worker.live.get()
        return {
            "fps": frames / (t1 - t0),
            "camera_cpu_s_per_frame": (c1 - c0) / max(frames, 1),
            "head_cpu_s_per_frame": (h1 - h0) / max(frames, 1) if cam is not head else 0.0,
            "alerts_per_min": alerts * 60 / (t1 - t0),
            "live_jpeg_bytes": len(jpeg or b""),
        }
    finally:
        runtime.stop()


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def decode_cost(video: Path, frames: int = 300) -> dict[str, float]:
    """ms to decode one frame of ``video`` (one thread, as a camera's reader does) and its bitrate."""
    import av

    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "NONE"
        started, count = time.process_time(), 0
        for frame in container.decode(stream):
            frame.to_ndarray(format="bgr24")
            count += 1
            if count == frames:
                break
        ms = (time.process_time() - started) * 1000 / count
        fps = float(stream.average_rate or 25)
        seconds = float(stream.frames / fps) if stream.frames else None
    bitrate = video.stat().st_size * 8 / seconds / 1e6 if seconds else float("nan")
    return {"decode_ms_per_frame": ms, "source_mbit_s": bitrate, "source_fps": fps}


def store_rate(folder: Path, alerts: int = 5000) -> float:
    """Alerts (start + end) per second the SQLite event store writes, one transaction per event as the hub does."""
    from har_stream.rules.events import AlertEvent
    from har_stream.store import EventStore

    store = EventStore(folder / "rate.db")
    started = time.perf_counter()
    for i in range(alerts):
        start = AlertEvent(
            "alert_start", f"a{i}", "cam", "r", "low", i, "walking", 0.5, None, 1.0, 1e9 + i, i, [1, 2, 3, 4]
        )
        store.record(start, f"snapshots/cam/a{i}.jpg")
        end = AlertEvent(
            "alert_end", f"a{i}", "cam", "r", "low", i, "walking", 0.5, None, 2.0, 1e9 + i + 1, i, [1, 2, 3, 4]
        )
        end.duration_s, end.reason = 1.0, "track_ended"
        store.record(end)
        store.get(f"a{i}")  # the hub reads each row back for the live view
    rate = alerts / (time.perf_counter() - started)
    store.close()
    return rate


def main() -> None:
    """Measure, print and optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, default=CROWD_VIDEO)
    parser.add_argument("--imgsz", type=int, default=640)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=int, default=20, help="frames processed before counting")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    cluster = {"engine": "ray", "address": "local", "camera_resources": {"num_cpus": cores}}
    results: dict[str, list[dict[str, Any]]] = {"in_process": [], "ray_actor": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.rounds):
            for name, mode in (("in_process", None), ("ray_actor", cluster)):
                result = run_once(Path(tmp) / f"{name}{i}", mode, args)
                results[name].append(result)
                print(f"round {i + 1} {name:10s} {result['fps']:6.2f} fps", flush=True)
        costs = decode_cost(args.video)
        costs["store_alerts_per_s"] = store_rate(Path(tmp))
    summary = {k: {m: statistics.median(r[m] for r in v) for m in v[0]} for k, v in results.items()}
    ratio = summary["ray_actor"]["fps"] / summary["in_process"]["fps"]
    print(json.dumps({"median": summary, "ray_over_in_process_fps": ratio, "costs": costs}, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        report = {"args": {k: str(v) for k, v in vars(args).items()}, "cores": cores, "rounds": results}
        report.update(median=summary, ray_over_in_process_fps=ratio, costs=costs)
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
