"""A file replayed as a live camera (the soak benchmark's source): real-time pacing, looping, live semantics."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

from har_stream.sources import CameraStatus
from har_stream.sources.replay import open_replay


def test_replay_loops_in_real_time_as_a_live_source(concourse_clip: Path) -> None:
    source = open_replay(concourse_clip).start()
    started = time.monotonic()
    frames = []
    try:
        while len(frames) < 60:  # 1.5 passes over the 40-frame clip
            frame = source.read(timeout=5.0)
            assert frame is not None, "the replay stopped"
            frames.append(frame)
    finally:
        source.close()
    took = time.monotonic() - started
    assert source.info.live and source.status in (CameraStatus.CONNECTED, CameraStatus.FINISHED)
    assert took >= 59 / 25 * 0.9, f"60 frames in {took:.2f}s: not paced at 25 fps"
    assert [f.index for f in frames] == list(range(60)) and source.stats.reconnects == 0
    assert (frames[40].image == frames[0].image).all()  # the clip starts over
    assert all(b.timestamp > a.timestamp for a, b in itertools.pairwise(frames))
