"""Frame sources: files lose nothing, live sources keep the newest frames, failures are reconnected."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from har_stream.config import ReconnectConfig
from har_stream.sources import CameraStatus, FrameSource, SourceError, SourceInfo, SourceLostError, open_source
from har_stream.sources.base import RawFrame


def test_video_file_yields_every_frame_with_media_time(concourse_video: Path) -> None:
    source = open_source(concourse_video)
    assert source.info.frame_count == 341 and source.info.fps == 25.0
    assert (source.info.width, source.info.height) == (1280, 720)
    frames = list(source)
    assert len(frames) == 341
    assert [f.index for f in frames] == list(range(341))
    times = np.array([f.timestamp for f in frames])
    assert times[0] == 0.0 and np.all(np.diff(times) > 0)
    assert times[-1] == pytest.approx(340 / 25, abs=0.1)
    assert source.stats.frames_dropped == 0 and source.problems == []


def test_missing_and_non_video_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="video file not found"):
        open_source(tmp_path / "nope.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 100)
    with pytest.raises(SourceError, match=r"cannot open video .*junk\.mp4"):
        open_source(junk)


def test_image_folder_in_name_order_skipping_unreadable(tmp_path: Path) -> None:
    for i in range(4):
        cv2.imwrite(str(tmp_path / f"img_{i:02d}.png"), np.full((48, 64, 3), i * 40, dtype=np.uint8))
    (tmp_path / "img_02b.jpg").write_bytes(b"broken")
    source = open_source(tmp_path)
    frames = list(source)
    assert [int(f.image[0, 0, 0]) for f in frames] == [0, 40, 80, 120]
    assert len(source.problems) == 1 and "img_02b.jpg" in source.problems[0]


def numbered_frames(delay: float = 0.0) -> Iterator[RawFrame]:
    for i in itertools.count():
        image = np.zeros((4, 4, 3), dtype=np.uint8)
        image[0, 0, 0] = i % 256
        if delay:
            time.sleep(delay)
        yield RawFrame(image, None)


def read_until(source: FrameSource, done: Callable[[], bool], timeout_s: float = 10) -> None:
    """Keep reading from a started source until ``done()`` or the timeout."""
    deadline = time.monotonic() + timeout_s
    while not done() and time.monotonic() < deadline:
        source.read(timeout=0.1)


def test_live_source_keeps_only_the_newest_frames() -> None:
    source = FrameSource(SourceInfo("fast-camera", live=True), reader=lambda: numbered_frames(0.001), queue_size=2)
    source.start()
    got = []
    try:
        for _ in range(10):
            time.sleep(0.05)  # a slow consumer
            frame = source.read(timeout=1.0)
            assert frame is not None
            got.append(frame.index)
    finally:
        source.close()
    assert source.stats.frames_dropped > 0
    assert all(b > a for a, b in itertools.pairwise(got))
    assert max(b - a for a, b in itertools.pairwise(got)) > 5  # skipped over the backlog


def test_live_source_reconnects_after_failures() -> None:
    attempts = {"n": 0}

    def flaky() -> Iterator[RawFrame]:
        attempts["n"] += 1
        if attempts["n"] <= 2:
            raise ConnectionRefusedError("camera offline")
        yield from itertools.islice(numbered_frames(0.005), 20)
        raise ConnectionResetError("dropped")

    reconnect = ReconnectConfig(initial_delay_s=0.05, max_delay_s=0.2, give_up_after_s=None)
    source = FrameSource(SourceInfo("flaky", live=True), reader=flaky, queue_size=4, reconnect=reconnect)
    source.start()
    try:
        read_until(source, lambda: attempts["n"] >= 4)
    finally:
        source.close()
    events = [e.status for e in source.drain_events()]
    assert attempts["n"] >= 4 and source.stats.reconnects >= 3
    assert events[:3] == [CameraStatus.RECONNECTING, CameraStatus.RECONNECTING, CameraStatus.CONNECTED]
    assert CameraStatus.RECONNECTING in events[3:]


def test_outages_are_counted_once_however_many_attempts_they_take() -> None:
    # Connected, dropped, refused three times, back; dropped again, refused once, back for good.
    script = iter(["frames", "refuse", "refuse", "refuse", "frames", "refuse"])
    calls = {"n": 0}

    def camera() -> Iterator[RawFrame]:
        calls["n"] += 1
        step = next(script, "forever")
        if step == "refuse":
            raise ConnectionRefusedError("camera offline")
        if step == "forever":
            yield from numbered_frames(0.005)
        yield from itertools.islice(numbered_frames(0.002), 10)
        raise ConnectionResetError("dropped")

    reconnect = ReconnectConfig(initial_delay_s=0.02, max_delay_s=0.05, give_up_after_s=None)
    source = FrameSource(SourceInfo("flaky", live=True), reader=camera, queue_size=4, reconnect=reconnect)
    source.start()
    try:
        read_until(source, lambda: calls["n"] >= 7 and source.status is CameraStatus.CONNECTED)
        status = source.status
    finally:
        source.close()
    assert calls["n"] == 7 and status is CameraStatus.CONNECTED
    assert source.stats.reconnects == 6  # every attempt after a failure
    assert source.stats.outages == 2 and source.health()["outages"] == 2  # but two outages


def test_live_source_gives_up_with_a_clear_error() -> None:
    def dead() -> Iterator[RawFrame]:
        raise ConnectionRefusedError("no route to camera")
        yield  # pragma: no cover

    reconnect = ReconnectConfig(initial_delay_s=0.05, max_delay_s=0.1, give_up_after_s=0.5)
    source = FrameSource(SourceInfo("gone", live=True), reader=dead, reconnect=reconnect).start()
    started = time.monotonic()
    with pytest.raises(SourceLostError, match=r"camera 'gone' lost: no frames for .*no route to camera"):
        while time.monotonic() - started < 10:
            source.read(timeout=0.1)
    assert time.monotonic() - started < 3
    assert source.status is CameraStatus.LOST
