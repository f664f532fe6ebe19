"""Side-by-side benchmark: the naive baseline and har-stream's pipeline on the same frames, in one process."""

from __future__ import annotations

import logging
import os
import platform
import tempfile
from pathlib import Path
from typing import Any

from har_stream.bench.memory import peak_rss_mb, reset_peak_rss
from har_stream.bench.naive import NaiveBaseline
from har_stream.config.schema import HarStreamConfig, SourceConfig
from har_stream.detection.weights import resolve_detector_weights
from har_stream.pipeline import Pipeline
from har_stream.sources.base import FrameSource
from har_stream.sources.replay import open_replay

log = logging.getLogger(__name__)


def machine_description() -> dict[str, Any]:
    """CPU, core count, memory and library versions, for the results table."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        mem_kb = 0
    versions = {}
    for module in ("torch", "onnxruntime", "openvino", "tensorflow", "ultralytics", "av", "cv2"):
        try:
            versions[module] = __import__(module).__version__
        except Exception:  # not installed or no version: leave it out
            continue
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "versions": versions,
    }


def live_source(video: Path, queue_size: int = 2) -> FrameSource:
    """``video`` replayed in real time as a live camera that drops the frames the pipeline cannot take."""
    return open_replay(video, SourceConfig(queue_size=queue_size), loop=True)


def run_harstream(config: HarStreamConfig, video: Path, frames: int, workdir: Path, live: bool) -> dict[str, Any]:
    """Run the pipeline (models loaded before the clock starts) and return its summary."""
    config = config.model_copy(
        update={
            "output": config.output.model_copy(
                update={"video": workdir / "harstream.mp4", "events": workdir / "events.jsonl", "show": False}
            )
        }
    )
    pipeline = Pipeline(config)
    reset_peak_rss()
    source = live_source(video) if live else None
    result = pipeline.run(source=source if live else str(video), max_frames=frames)
    summary = result.summary.as_json()
    summary["peak_rss_mb"] = round(peak_rss_mb(), 1)
    summary["detector"] = {"imgsz": config.detector.imgsz, "model": config.detector.model}
    summary["classifier"] = getattr(pipeline.action_model, "name", "none")
    if result.error:
        summary["error"] = result.error
    return summary


def run_benchmark(
    video: Path,
    frames: int = 150,
    baseline_frames: int | None = None,
    config: HarStreamConfig | None = None,
    live: bool = False,
    baseline_imgsz: int = 640,
    workdir: Path | None = None,
) -> dict[str, Any]:
    """Measure the naive baseline, then har-stream, on the first frames of ``video``; return one JSON-ready dict.

    Top-level keys: ``fps`` (har-stream), ``baseline_fps``, ``speedup`` (their ratio), ``frames``, plus the full
    summaries of both runs and a machine description.
    """
    config = config or HarStreamConfig()
    video = Path(video)
    baseline_frames = baseline_frames or frames
    with tempfile.TemporaryDirectory(prefix="har-bench-") as tmp:
        work = Path(workdir) if workdir else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        log.info("naive baseline: %d frames of %s", baseline_frames, video.name)
        baseline = NaiveBaseline(resolve_detector_weights(config.detector.model), imgsz=baseline_imgsz)
        naive = baseline.run(video, baseline_frames, work / "naive.mp4", live=live)
        del baseline
        log.info("har-stream: %d frames of %s", frames, video.name)
        ours = run_harstream(config, video, frames, work, live)
    return {
        "video": str(video),
        "live": live,
        "frames": ours["frames"],
        "fps": ours["fps"],
        "baseline_frames": naive["frames"],
        "baseline_fps": naive["fps"],
        "speedup": round(ours["fps"] / naive["fps"], 2) if naive["fps"] else None,
        "harstream": ours,
        "baseline": naive,
        "machine": machine_description(),
    }
