"""Choosing the detector's input size: frames spread over a recording, and the recommendation rule."""

from __future__ import annotations

from pathlib import Path

from har_stream.bench.input_size import recommend_input_size, sample_frames, size_report
from tests.conftest import decode_frames, write_clip


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
