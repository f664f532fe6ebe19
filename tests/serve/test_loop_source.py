"""``source.loop``: a video file replayed forever, with media time running on (for dashboards and demos)."""

from __future__ import annotations

import itertools
from pathlib import Path

from har_stream.config import SourceConfig
from har_stream.sources import open_source


def test_looping_file_keeps_going_with_increasing_media_time(concourse_clip: Path) -> None:
    source = open_source(str(concourse_clip), SourceConfig(loop=True))
    assert source.info.frame_count is None  # endless
    frames = []
    for frame in source:
        frames.append(frame)
        if len(frames) == 100:  # 2.5 passes over the 40-frame clip
            break
    source.close()
    times = [f.timestamp for f in frames]
    assert all(b > a for a, b in itertools.pairwise(times))
    assert abs(times[40] - 40 / 25) < 1e-6 and abs(times[99] - 99 / 25) < 1e-6  # one frame step across the seam
    assert (frames[0].image == frames[40].image).all()  # the second pass starts again at the first frame


def test_without_loop_the_file_ends(concourse_clip: Path) -> None:
    source = open_source(str(concourse_clip), SourceConfig())
    assert sum(1 for _ in source) == 40
