"""Optical flow in and around each person: units, what it tells apart, gating, and that training sees what the
pipeline serves (the harvest and its backfill of older harvests give the same statistics on a real clip)."""

from __future__ import annotations

import numpy as np
import pytest

from har_stream.config import load_config
from har_stream.temporal.features import FEATURE_NAMES, MIN_PERSON_PX, window_features
from har_stream.temporal.flow import FLOW_EVERY, FLOW_STATS, FrameFlow, people_flow, person_flow
from har_stream.training.harvest import ClipTracks, add_flow, track_clip
from tests.conftest import REPO, SHARED, require

S = {name: i for i, name in enumerate(FLOW_STATS)}
F = {name: i for i, name in enumerate(FEATURE_NAMES)}
BOX = np.array([200.0, 100.0, 280.0, 300.0])  # a 200 px tall person


def textured(seed: int = 0, shape: tuple[int, int] = (480, 640)) -> np.ndarray:
    """A smooth random grey texture the flow can follow."""
    import cv2

    noise = np.random.default_rng(seed).integers(0, 255, (shape[0] // 8, shape[1] // 8)).astype(np.uint8)
    return cv2.resize(noise, shape[::-1], interpolation=cv2.INTER_CUBIC)


def test_a_person_carried_along_is_coherent_flow_with_no_limb_motion() -> None:
    """The whole region shifting 4 px in 1/25 s is translation: 0.5 box heights/s raw, nothing left over."""
    a = textured()
    b = np.roll(a, 4, axis=1)
    stats = person_flow(a, b, BOX, 1 / 25)
    assert stats[S["flow_coherence"]] > 0.9
    assert stats[S["flow_mean"]] < 0.1
    assert stats[S["flow_margin"]] < 0.1


def test_limbs_moving_inside_the_box_are_residual_flow_in_box_heights_per_second() -> None:
    """The upper half of the box moves, the rest stays: residual flow there, little in the lower half."""
    a = textured()
    b = a.copy()
    y1, y2, x1, x2 = 100, 200, 200, 280
    b[y1:y2, x1:x2] = np.roll(a, 6, axis=1)[y1:y2, x1:x2]
    fast = person_flow(a, b, BOX, 1 / 25)
    slow = person_flow(a, b, BOX, 2 / 25)  # the same motion over twice the time: half the speed
    assert fast[S["flow_upper"]] > 2 * fast[S["flow_mean"]] - fast[S["flow_upper"]]  # upper beats lower half
    assert fast[S["flow_p90"]] > 0.3
    assert slow[S["flow_mean"]] == pytest.approx(fast[S["flow_mean"]] / 2, rel=0.05)
    b[200:300, x1:x2] = np.roll(a, -6, axis=1)[200:300, x1:x2]  # the lower half moves the other way: no coherence
    assert person_flow(a, b, BOX, 1 / 25)[S["flow_coherence"]] < 0.3 < fast[S["flow_coherence"]]


def test_no_flow_on_the_first_frame_between_flow_frames_or_for_small_people() -> None:
    flow = FrameFlow(MIN_PERSON_PX, every=2)
    small = np.array([[10.0, 10.0, 20.0, 10.0 + MIN_PERSON_PX - 1]])
    boxes = np.vstack([BOX, small])
    assert np.isnan(flow(textured(0), 0.0, boxes, 0)).all()  # no previous frame
    assert np.isnan(flow(textured(1), 0.04, boxes, 1)).all()  # not a flow frame
    second = flow(textured(2), 0.08, boxes, 2)
    assert np.isfinite(second[0]).all() and np.isnan(second[1]).all()
    assert flow(textured(3), 0.12, np.zeros((0, 4)), 3).shape == (0, len(FLOW_STATS))


def test_a_frame_of_many_people_gives_each_their_own_flow() -> None:
    """All of a frame's people are computed together: each row is what that person alone gives."""
    a = textured()
    b = a.copy()
    b[100:200, 200:280] = np.roll(a, 6, axis=1)[100:200, 200:280]
    boxes = np.array([BOX, [400.0, 150.0, 460.0, 300.0], [5.0, 5.0, 60.0, 470.0]])
    together = people_flow(a, b, boxes, 1 / 25)
    for i, box in enumerate(boxes):
        np.testing.assert_allclose(together[i], person_flow(a, b, box, 1 / 25), rtol=1e-5)
    assert together[0, S["flow_mean"]] > 5 * together[1, S["flow_mean"]]  # only the first person's arms move


def test_window_flow_features_and_what_missing_flow_gives() -> None:
    times = np.arange(0, 1.0001, 1 / 10)
    boxes = np.tile(BOX, (len(times), 1)).astype(np.float32)
    keypoints = np.zeros((len(times), 17, 3), np.float32)
    flows = np.tile(np.array([1.0, 2.0, 1.5, 0.5, 0.2], np.float32), (len(times), 1))
    flows[::2, 0] = 3.0  # flow_mean alternates 3, 1: jerky

    def row(f):
        return window_features(times, boxes, keypoints, 720, np.zeros((0, 4)), np.zeros((0, 2)), flows=f)

    x = row(flows)
    assert x[F["flow_mean_max"]] == pytest.approx(3.0)
    assert x[F["flow_p90_std"]] == pytest.approx(0.0)
    assert x[F["flow_change"]] == pytest.approx(2.0)
    for missing in (None, np.full_like(flows, np.nan)):
        x = row(missing)
        assert all(np.isnan(x[F[f"{s}_mean"]]) for s in FLOW_STATS)  # "not seen", not zero


@pytest.mark.slow
def test_backfilled_flow_equals_the_flow_harvested_with_the_tracks_and_tells_a_fight(detector_640, tmp_path) -> None:
    """Train as served: an older harvest given flow afterwards holds what a fresh harvest (the stage's own
    FrameFlow on the pipeline's decoded frames) computes; and people fighting move more than people walking."""
    config = load_config(REPO / "configs" / "cctv.yaml")
    clips = SHARED / "videos" / "cctv"
    means = {}
    for name in ("surv_fi015.mp4", "surv_nofi044.mp4"):
        tracks, _ = track_clip(require(clips / name), config, detector_640)
        on_flow_frames = (tracks.frame % FLOW_EVERY == 0) & (tracks.box[:, 3] - tracks.box[:, 1] >= MIN_PERSON_PX)
        assert np.isfinite(tracks.flow[on_flow_frames, 0]).mean() > 0.9
        assert np.isnan(tracks.flow[tracks.frame % FLOW_EVERY != 0]).all()
        means[name] = float(np.nanmean(tracks.flow[:, S["flow_p90"]]))
    track_file = tmp_path / "fight.npz"
    fresh = track_clip(clips / "surv_fi015.mp4", config, detector_640)[0]
    fresh.save(track_file)
    with np.load(track_file) as stored:
        older = {k: stored[k] for k in stored.files if k != "flow"}
    np.savez_compressed(track_file, **older)
    with pytest.raises(ValueError, match="clips harvest"):
        ClipTracks.load(track_file)
    add_flow(clips / "surv_fi015.mp4", track_file, config)
    np.testing.assert_allclose(ClipTracks.load(track_file).flow, fresh.flow, rtol=1e-5, atol=1e-6)
    assert means["surv_fi015.mp4"] > 1.5 * means["surv_nofi044.mp4"], means


def test_in_a_crowd_at_most_the_budget_get_flow_on_a_frame_and_everyone_gets_their_turn() -> None:
    flow = FrameFlow(MIN_PERSON_PX, every=1, budget=2)
    boxes = np.array([[40.0 + 100 * i, 100.0, 100.0 + 100 * i, 300.0 - 10 * i] for i in range(5)])
    ids = np.array([11, 12, 13, 14, 15])
    flow(textured(0), 0.0, boxes, 0, ids)
    served: list[set[int]] = []
    for k in range(1, 6):
        rows = flow(textured(k), 0.04 * k, boxes, k, ids)
        served.append({int(ids[i]) for i in np.flatnonzero(np.isfinite(rows[:, 0]))})
    assert all(len(s) == 2 for s in served)
    assert served[0] == {11, 12}  # nobody had flow yet: the tallest first
    assert set().union(*served[:3]) == set(ids.tolist())  # then the longest overdue: all five within 3 frames
