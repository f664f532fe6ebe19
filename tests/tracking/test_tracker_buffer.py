"""The tracker's lost-track buffer is seconds at the rate the tracker is updated, whatever that rate is.

A real ByteTrack (through PersonTracker) sees one person standing still, who vanishes for a number of frames
and comes back: with the same id while the gap is within ``lost_track_buffer_s``, with a new one (the old
track reported ended) beyond it, at 10, 50 and very few updates per second.
"""

from __future__ import annotations

import numpy as np
import pytest
import supervision as sv

from har_stream.config import TrackerConfig
from har_stream.frame import FrameRecord
from har_stream.tracking.tracker import PersonTracker

BOX = [500, 300, 580, 600]


def follow(rate: float, buffer_s: float, pattern: list[bool], frame_rate: float | None = None) -> tuple[list, list]:
    """Feed one update per ``1 / rate`` seconds, the person present where ``pattern`` is True.

    Returns the person's id on each update they were present (None while not yet confirmed) and every
    track id the tracker reported ended.
    """
    tracker = PersonTracker(TrackerConfig(lost_track_buffer_s=buffer_s), frame_rate=frame_rate or rate)
    ids: list[int | None] = []
    ended: list[int] = []
    for i, present in enumerate(pattern):
        record = FrameRecord(i, i / rate, 1_780_000_000 + i / rate, 0.0, np.zeros((720, 1280, 3), np.uint8))
        if present:
            record.detections = sv.Detections(
                xyxy=np.array([BOX], dtype=np.float32),
                confidence=np.array([0.9], dtype=np.float32),
                class_id=np.array([0]),
            )
        tracker(record)
        ended += record.ended_tracks
        if present:
            ids.append(int(record.detections.tracker_id[0]) if len(record.detections) else None)
    return ids, ended


def gap(rate: float, seconds: float, around_s: float = 1.0) -> list[bool]:
    """Present for ``around_s``, absent for ``seconds``, present for ``around_s`` (in updates at ``rate``)."""
    around, missing = round(around_s * rate), round(seconds * rate)
    return [True] * around + [False] * missing + [True] * around


@pytest.mark.parametrize("fps", [10, 50])
def test_a_gap_up_to_the_buffer_keeps_the_id_at_any_frame_rate(fps: int) -> None:
    for missing_s in (0.3, 0.5):  # 0.5 s exactly: 5 frames at 10 fps, 25 at 50 fps
        ids, ended = follow(fps, 0.5, gap(fps, missing_s))
        known = {i for i in ids if i is not None}
        assert len(known) == 1 and ids[-1] == ids[1], (missing_s, ids)
        assert ended == [], (missing_s, ended)


@pytest.mark.parametrize("fps", [10, 50])
def test_a_gap_beyond_the_buffer_ends_the_track(fps: int) -> None:
    for missing_s in (0.6, 1.5):
        ids, ended = follow(fps, 0.5, gap(fps, missing_s))
        first, last = ids[1], ids[-1]
        assert first is not None and last is not None and last != first, (missing_s, ids)
        assert ended == [first], (missing_s, ended)  # reported once, before the person is back


def test_the_buffer_follows_the_update_rate_not_the_sources_frame_rate() -> None:
    # A 25 fps camera processed at 5 frames a second (live frames dropped): the buffer is 0.4 s = 2 updates.
    ids, ended = follow(5, 0.4, gap(5, 0.4, around_s=2.0), frame_rate=25)
    assert len({i for i in ids if i is not None}) == 1 and ended == []
    ids, ended = follow(5, 0.4, gap(5, 0.6, around_s=2.0), frame_rate=25)
    assert ids[-1] != ids[2] and ended == [ids[2]]


def test_updates_slower_than_the_buffer_still_track() -> None:
    # Two processed frames a second with a 0.2 s buffer: a person seen on every update keeps one id ...
    ids, ended = follow(2, 0.2, [True] * 10)
    assert ids[0] is None and len(set(ids[1:])) == 1 and ids[1] is not None and ended == []
    # ... and one missed update (0.5 s, more than the buffer) ends the track.
    ids, ended = follow(2, 0.2, [True] * 4 + [False] + [True] * 4)
    assert ids[1] is not None and ids[-1] not in (None, ids[1]) and ended == [ids[1]]


def test_slow_updates_keep_the_track_state_as_long_as_bytetrack_keeps_the_track() -> None:
    # One update a second, 1 s buffer: one missed update is within the buffer; the track's state (speed,
    # rules) must not be ended while ByteTrack still re-finds it under the same id.
    ids, ended = follow(1, 1.0, [True] * 3 + [False] + [True] * 3)
    assert len({i for i in ids if i is not None}) == 1 and ended == []


def test_a_zero_buffer_tracks_and_drops_at_the_first_miss() -> None:
    ids, ended = follow(10, 0.0, [True] * 10)
    assert len({i for i in ids if i is not None}) == 1 and ended == []
    ids, ended = follow(10, 0.0, [True] * 5 + [False] + [True] * 5)
    assert ids[1] is not None and ids[-1] not in (None, ids[1]) and ended == [ids[1]]
