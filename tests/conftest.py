"""Shared fixtures: paths to the shared data, a loaded detector, and small real video clips."""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HAR_STREAM_SHARED", REPO.parent / "shared"))
CONCOURSE = SHARED / "videos" / "concourse_crowd_720p.avi"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def require(path: Path) -> Path:
    """Fail (not skip) with a clear message when shared data the tests rely on is missing."""
    if not path.exists():
        pytest.fail(f"shared test data missing: {path} (expected ../shared beside the repository)")
    return path


@pytest.fixture(scope="session")
def concourse_video() -> Path:
    """The real 1280x720 concourse footage (341 frames, dozens of people)."""
    return require(CONCOURSE)


def write_clip(
    source: Path,
    target: Path,
    frames: int,
    start: int = 0,
    crop: tuple[int, int, int, int] | None = None,
    size: tuple[int, int] | None = None,
    fps: int = 25,
) -> Path:
    """Re-encode ``frames`` frames of ``source`` (optionally cropped/resized) to an H.264 mp4 at ``target``."""
    import cv2

    with av.open(str(source)) as inp, av.open(str(target), "w") as out:
        stream = None
        written = 0
        for i, frame in enumerate(inp.decode(video=0)):
            if i < start:
                continue
            image = frame.to_ndarray(format="bgr24")
            if crop is not None:
                x, y, w, h = crop
                image = image[y : y + h, x : x + w]
            if size is not None:
                image = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
            if stream is None:
                stream = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "crf": "20"})
                stream.height, stream.width = image.shape[:2]
                stream.pix_fmt = "yuv420p"
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")):
                out.mux(packet)
            written += 1
            if written >= frames:
                break
        assert stream is not None
        for packet in stream.encode():
            out.mux(packet)
    return target


@pytest.fixture(scope="session")
def concourse_clip(concourse_video: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 40 frames of the concourse footage as an H.264 mp4."""
    return write_clip(concourse_video, tmp_path_factory.mktemp("clips") / "concourse40.mp4", frames=40)


@pytest.fixture(scope="session")
def detector():
    """The real yolo11n-pose person detector at imgsz 1280 (small overhead people need it)."""
    from har_stream.config import DetectorConfig
    from har_stream.detection import PersonDetector

    return PersonDetector(DetectorConfig(imgsz=1280))


def decode_frames(path: Path) -> list[np.ndarray]:
    """Every frame of a video as BGR arrays (really decoded)."""
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]


@pytest.fixture(scope="session")
def detector_640():
    """The real person detector at imgsz 640, for 640x360 footage (the concourse's centre at full resolution)."""
    from har_stream.config import DetectorConfig
    from har_stream.detection import PersonDetector

    return PersonDetector(DetectorConfig(imgsz=640))


def count_decodable_frames(path: Path) -> int:
    """How many frames of ``path`` decode, skipping packets that fail (as a player does with a damaged file)."""
    count = 0
    with av.open(str(path)) as container:
        for packet in container.demux(video=0):
            try:
                count += len(packet.decode())
            except av.FFmpegError:
                continue
    return count


def alerts_and_flagged(pipeline, clip: Path) -> tuple[list[str], list]:
    """Run ``pipeline`` over ``clip`` as ``har-stream run`` does: the rules whose alerts started, in order, and
    the records (frames) on which someone was flagged."""
    from har_stream.frame import FLAGGED
    from har_stream.rules.events import ALERT_START

    started: list[str] = []
    flagged: list = []

    def on_frame(record) -> None:
        started.extend(e.rule for e in record.alerts if e.type == ALERT_START)
        if len(record.detections) and record.detections.data[FLAGGED].any():
            flagged.append(record)

    pipeline.run(source=str(require(clip)), on_frame=on_frame)
    return started, flagged
