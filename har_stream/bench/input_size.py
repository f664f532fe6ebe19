"""How the detector's input size trades person recall for cost, on real footage, and which size a camera needs.

Recall is measured against the detector's own output at a reference size (the largest one tried), counting
reference people with confidence >= ``reference_conf`` that the tested size finds again (IoU >= 0.5). No labels
are needed: a camera's own footage is enough. Cost is CPU time per frame (process time, which a busy machine
disturbs less than wall time) and wall time.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import supervision as sv

from har_stream.config.schema import DetectorConfig, SourceConfig
from har_stream.detection.detector import PersonDetector
from har_stream.sources import STREAM_SCHEMES, SourceError, open_source
from har_stream.sources.video_file import decode_video

#: The sizes ``har-stream bench detector-size`` tries: the default, and the two larger ones the int8 detector is
#: calibrated for or between.
CAMERA_SIZES = (640, 960, 1280)
#: A size is enough when it finds at least this share of the people the largest size finds.
MIN_RECALL = 0.9


def sample_frames(video: Path, count: int, step: int | None = None) -> list[np.ndarray]:
    """``count`` frames of ``video``: every ``step``-th from the start, or, when ``step`` is None, spread evenly
    over the whole video (read to its end; at most ``2 * count`` frames are held at a time)."""
    frames: list[np.ndarray] = []
    if step is not None:
        for i, raw in enumerate(decode_video(video, lambda _: None)):
            if i % step == 0:
                frames.append(raw.image)
            if len(frames) >= count:
                break
        return frames
    every = 1  # keep every ``every``-th frame; when twice ``count`` are kept, drop every other one and double it
    for i, raw in enumerate(decode_video(video, lambda _: None)):
        if i % every == 0:
            frames.append(raw.image)
            if len(frames) >= 2 * count:
                frames, every = frames[::2], every * 2
    if len(frames) <= count:
        return frames
    return [frames[int(k)] for k in np.rint(np.linspace(0, len(frames) - 1, count))]


def is_live(source: str) -> bool:
    """Whether ``source`` names a webcam index or a stream URL rather than a file."""
    text = source.strip()
    return text.isdigit() or text.lower().startswith(STREAM_SCHEMES)


def live_frames(source: str, count: int, every_s: float = 1.0, config: SourceConfig | None = None) -> list[np.ndarray]:
    """``count`` frames of a live camera (a stream URL or a webcam index), one every ``every_s`` seconds.

    Raises :class:`SourceError` when the camera gives no frame for its ``open_timeout_s`` plus ``read_timeout_s``
    (it cannot be reached, or it stalled), naming the camera without its password."""
    config = config or SourceConfig()
    patience_s = config.open_timeout_s + config.read_timeout_s
    camera = open_source(source, config).start()
    frames: list[np.ndarray] = []
    taken_at = float("-inf")
    last_frame = time.monotonic()
    try:
        while len(frames) < count:
            try:
                frame = camera.read(timeout=0.5)
            except StopIteration:
                break
            now = time.monotonic()
            if frame is None:
                if now - last_frame > patience_s:
                    raise SourceError(
                        f"no frame from {camera.info.name} for {patience_s:g} s (unreachable or stalled); "
                        f"{len(frames)} of {count} frames taken"
                    )
                continue
            last_frame = now
            if now - taken_at >= every_s:
                frames.append(frame.image)
                taken_at = now
    finally:
        camera.close()
    return frames


def recall(reference: sv.Detections, found: sv.Detections, iou: float = 0.5) -> tuple[int, int]:
    """(reference people matched by ``found``, reference people), greedy one-to-one on IoU."""
    if len(reference) == 0:
        return 0, 0
    if len(found) == 0:
        return 0, len(reference)
    overlaps = sv.box_iou_batch(reference.xyxy, found.xyxy)
    matched = 0
    used: set[int] = set()
    for i in np.argsort(-reference.confidence):
        for j in np.argsort(-overlaps[i]):
            if overlaps[i, j] < iou:
                break
            if int(j) not in used:
                used.add(int(j))
                matched += 1
                break
    return matched, len(reference)


def measure_input_sizes(
    video: Path | str,
    sizes: list[int],
    reference_size: int | None = None,
    frames: int = 40,
    step: int | None = 8,
    backend: str = "onnxruntime",
    int8: bool = True,
    reference_conf: float = 0.5,
    detector: DetectorConfig | None = None,
    images: list[np.ndarray] | None = None,
) -> dict[str, Any]:
    """Recall and cost of each input size on ``frames`` frames of ``video`` (or on ``images``, frames already
    taken from it, e.g. by :func:`live_frames`).

    ``reference_size`` defaults to the largest of ``sizes``; ``step`` None spreads the frames over the whole
    video. ``detector`` (a camera's detector settings) replaces ``backend`` and ``int8`` when given; only its
    input size is varied.
    """
    base = detector or DetectorConfig(backend=backend, int8=int8)
    reference_size = reference_size or max(sizes)
    images = sample_frames(video, frames, step) if images is None else images
    if not images:
        raise SourceError(f"no frame of {video} could be decoded")
    reference_detector = PersonDetector(base.model_copy(update={"imgsz": reference_size}))
    references = []
    for image in images:
        found = reference_detector.detect(image)
        references.append(found[found.confidence >= reference_conf])
    height, width = images[0].shape[:2]
    results: dict[str, Any] = {
        "video": str(video),
        "frame_size": [width, height],
        "frames": len(images),
        "reference_size": reference_size,
        "reference_conf": reference_conf,
        "reference_people_per_frame": round(float(np.mean([len(r) for r in references])), 2),
        "sizes": {},
    }
    for size in sizes:
        sized = (
            reference_detector if size == reference_size else PersonDetector(base.model_copy(update={"imgsz": size}))
        )
        sized.detect(images[0])  # warm-up
        matched = total = people = 0
        cpu = wall = 0.0
        for image, reference in zip(images, references, strict=True):
            c, w = time.process_time(), time.perf_counter()
            found = sized.detect(image)
            cpu += time.process_time() - c
            wall += time.perf_counter() - w
            m, t = recall(reference, found)
            matched, total, people = matched + m, total + t, people + len(found)
        results["sizes"][str(size)] = {
            "recall": round(matched / total, 3) if total else None,
            "people_per_frame": round(people / len(images), 2),
            "cpu_ms_per_frame": round(cpu / len(images) * 1000, 1),
            "wall_ms_per_frame": round(wall / len(images) * 1000, 1),
        }
    return results


def recommend_input_size(result: dict[str, Any], min_recall: float = MIN_RECALL) -> int | None:
    """The smallest measured size that finds at least ``min_recall`` of the reference's people; None when the
    reference found nobody on the sampled frames (nothing to judge by)."""
    measured = sorted((int(size), figures["recall"]) for size, figures in result["sizes"].items())
    if not measured or measured[0][1] is None:
        return None
    return next((size for size, found in measured if found >= min_recall), result["reference_size"])


def size_report(result: dict[str, Any], recommended: int | None, min_recall: float = MIN_RECALL) -> str:
    """A table of the measured sizes and the recommendation, for people to read."""
    width, height = result["frame_size"]
    video = str(result["video"])
    shown = video if "://" in video or video.isdigit() else Path(video).name
    lines = [
        f"{shown}: {width}x{height}, {result['frames']} frames; reference: input "
        f"{result['reference_size']}, {result['reference_people_per_frame']} people a frame "
        f"(confidence >= {result['reference_conf']})",
        "",
        "input size   people a frame   of the reference's people   CPU ms a frame   cost",
    ]
    cheapest = min(figures["cpu_ms_per_frame"] for figures in result["sizes"].values()) or 1.0
    for size, figures in sorted(result["sizes"].items(), key=lambda item: int(item[0])):
        share = "-" if figures["recall"] is None else f"{figures['recall']:.0%}"
        ratio = figures["cpu_ms_per_frame"] / cheapest
        lines.append(
            f"{size:>10}   {figures['people_per_frame']:>14}   {share:>26}   "
            f"{figures['cpu_ms_per_frame']:>14}   {ratio:.1f}x"
        )
    lines.append("")
    if recommended is None:
        lines.append(
            "no recommendation: the largest size found nobody on these frames. Give footage with people in it "
            "(or more --frames)."
        )
    else:
        lines.append(
            f"recommended: {recommended}, the smallest size that finds at least {min_recall:.0%} of the people the "
            f"largest finds\nin the camera's config:  detector: {{imgsz: {recommended}}}"
        )
    return "\n".join(lines)
