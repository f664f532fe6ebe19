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


def test_realtime_option_plays_a_file_once_as_a_live_camera(concourse_clip: Path) -> None:
    from har_stream.config import SourceConfig
    from har_stream.sources import open_source

    source = open_source(concourse_clip, SourceConfig(realtime=True, queue_size=64)).start()
    started = time.monotonic()
    frames = list(source)  # ends by itself: no loop, no reconnect
    took = time.monotonic() - started
    assert source.info.live and len(frames) == 40 and source.stats.reconnects == 0
    assert source.status is CameraStatus.FINISHED
    assert took >= 39 / 25 * 0.9, f"40 frames in {took:.2f}s: not paced at 25 fps"
    assert abs(frames[0].timestamp - time.time()) < 60  # wall-clock timestamps, as from a camera
