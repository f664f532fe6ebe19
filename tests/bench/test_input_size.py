"""Choosing the detector's input size: frames spread over a recording, and the recommendation rule."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from har_stream.bench.input_size import live_frames, recommend_input_size, sample_frames, size_report
from har_stream.config import SourceConfig
from tests.conftest import decode_frames, write_clip
from tests.rtsp_camera import RtspCamera, free_port
from tests.test_cli import cli


def _result(recalls: dict[int, float | None], people: float = 5.0) -> dict:
    sizes = {str(size): {"recall": r, "people_per_frame": people, "cpu_ms_per_frame": size / 10.0} for size, r in
             recalls.items()}  # fmt: skip
    return {"video": "cam.mp4", "frame_size": [320, 240], "frames": 10, "reference_size": max(recalls),
            "reference_conf": 0.5, "reference_people_per_frame": people, "sizes": sizes}  # fmt: skip


def test_the_smallest_size_finding_enough_of_the_people_is_recommended() -> None:
    assert recommend_input_size(_result({640: 0.06, 960: 0.96, 1280: 1.0})) == 960
    assert recommend_input_size(_result({640: 0.95, 960: 1.0, 1280: 1.0})) == 640
    assert recommend_input_size(_result({640: 0.06, 960: 0.88, 1280: 1.0})) == 1280
    assert recommend_input_size(_result({640: 0.06, 960: 0.88, 1280: 1.0}), min_recall=0.8) == 960


def test_no_people_at_the_reference_size_gives_no_recommendation() -> None:
    empty = _result({640: None, 960: None, 1280: None}, people=0.0)
    assert recommend_input_size(empty) is None
    assert "no recommendation" in size_report(empty, None)


def test_frames_are_spread_over_the_whole_recording(concourse_video: Path, tmp_path: Path) -> None:
    clip = write_clip(concourse_video, tmp_path / "clip.mp4", frames=50)
    every = decode_frames(clip)
    spread = sample_frames(clip, 5)
    assert len(spread) == 5
    first, last = (next(i for i, f in enumerate(every) if (f == s).all()) for s in (spread[0], spread[-1]))
    assert first == 0 and last >= 45  # the last one comes from the end, not from the first 5 frames
    assert len(sample_frames(clip, 80)) == 50  # a short recording gives every frame it has
    assert len(sample_frames(clip, 5, step=2)) == 5


@pytest.mark.slow
def test_a_live_camera_is_sampled_over_time(concourse_video: Path, tmp_path: Path) -> None:
    """A real RTSP camera: frames are taken from the stream one every ``every_s`` seconds, and the command line
    measures them like a recording's."""
    clip = write_clip(concourse_video, tmp_path / "camera.mp4", frames=50, crop=(320, 180, 640, 360))
    camera = RtspCamera(clip).start()
    try:
        started = time.monotonic()
        frames = live_frames(camera.url, 3, every_s=0.5, config=SourceConfig(open_timeout_s=5.0))
        assert len(frames) == 3 and frames[0].shape == (360, 640, 3)
        assert time.monotonic() - started >= 1.0  # three frames half a second apart span at least a second
        result = cli("bench", "detector-size", "--source", camera.url, "--frames", "3", "--every-s", "0.2",
                     "--size", "640", "--size", "1280")  # fmt: skip
    finally:
        camera.kill()
    assert result.returncode == 0, result.stderr
    assert f"{camera.url}: 640x360, 3 frames" in result.stdout and "recommended: " in result.stdout


def test_an_unreachable_camera_is_a_clear_error_without_its_password() -> None:
    url = f"rtsp://viewer:secret@127.0.0.1:{free_port()}/cam"
    result = cli("bench", "detector-size", "--source", url, "--frames", "2",
                 "--set", "source.open_timeout_s=1", "--set", "source.read_timeout_s=1")  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "no frame from rtsp://viewer:***@127.0.0.1" in result.stderr and "secret" not in result.stderr
