"""Temporal window features: normalisation, missing keypoints, small people, frame-rate independence."""

from __future__ import annotations

import numpy as np
import pytest

from har_stream.config import ConfigError, load_config
from har_stream.config.loading import validate_config
from har_stream.temporal.features import (
    ALL_FEATURE_NAMES,
    FEATURE_NAMES,
    MIN_PERSON_PX,
    NEIGHBOUR_SOURCES,
    feature_names,
    motion_patch,
    window_features,
)
from har_stream.temporal.flow import FLOW_STATS
from har_stream.temporal.windows import FORGET_AFTER_S, TrackWindows

F = {name: i for i, name in enumerate(FEATURE_NAMES)}


def walker(fps: float, seconds: float = 1.0, speed_px: float = 100.0, height: float = 200.0, conf: float = 0.9):
    """A synthetic person walking right at ``speed_px`` pixels per second, swinging the wrists."""
    times = np.arange(0, seconds + 1e-9, 1 / fps)
    boxes, keypoints = [], []
    for t in times:
        x = 100 + speed_px * t
        boxes.append([x, 100, x + height / 2.5, 100 + height])
        kp = np.zeros((17, 3), dtype=np.float32)
        centre = np.array([x + height / 5, 100 + height / 2])
        for j in range(17):
            kp[j, :2] = centre + np.array([0.0, (j - 8) * height / 20])
        swing = 0.2 * height * np.sin(2 * np.pi * 2 * t)
        kp[9, 0] += swing
        kp[10, 0] -= swing
        kp[:, 2] = conf
        keypoints.append(kp)
    return times, np.array(boxes, dtype=np.float32), np.array(keypoints, dtype=np.float32)


def features(times, boxes, keypoints, **kwargs):
    return window_features(times, boxes, keypoints, 720, np.zeros((0, 4)), np.zeros((0, 2)), **kwargs)


def test_body_speed_is_in_box_heights_per_second_whatever_the_frame_rate() -> None:
    slow = features(*walker(10))
    fast = features(*walker(30))
    assert slow[F["body_speed"]] == pytest.approx(0.5, rel=0.02)  # 100 px/s for a 200 px tall person
    assert fast[F["body_speed"]] == pytest.approx(0.5, rel=0.02)
    assert fast[F["wrist_speed_mean"]] == pytest.approx(slow[F["wrist_speed_mean"]], rel=0.35)


def test_replayed_faster_every_speed_scales() -> None:
    times, boxes, keypoints = walker(25, seconds=2.0)
    normal = features(times[:26], boxes[:26], keypoints[:26])
    double = features(times[:51] / 2, boxes[:51], keypoints[:51])
    assert double[F["body_speed"]] == pytest.approx(2 * normal[F["body_speed"]], rel=0.05)
    assert double[F["wrist_speed_mean"]] > 1.6 * normal[F["wrist_speed_mean"]]


def test_missing_keypoints_leave_limb_features_unseen_not_zero() -> None:
    times, boxes, keypoints = walker(25, conf=0.05)  # every keypoint below the confidence gate
    row = features(times, boxes, keypoints)
    assert row[F["keypoints_seen"]] == 0
    for name in ("wrist_speed_mean", "ankle_speed_max", "limb_speed_max", "pose_spread", "knee_angle_std"):
        assert np.isnan(row[F[name]]), name
    for name in ("body_speed", "aspect_mean", "nearest_gap", "coverage"):
        assert np.isfinite(row[F[name]]), name


def test_small_people_get_no_limb_features() -> None:
    row = features(*walker(25, height=MIN_PERSON_PX - 5))
    assert np.isnan(row[F["wrist_speed_max"]])
    assert np.isfinite(row[F["body_speed"]])


def test_too_short_a_window_gives_no_features() -> None:
    times, boxes, keypoints = walker(25)
    assert features(times[:3], boxes[:3], keypoints[:3]) is None


def test_neighbour_features() -> None:
    times, boxes, keypoints = walker(25)
    other = boxes[-1:] + np.array([30.0, 0.0, 30.0, 0.0])  # overlapping the person, standing still
    row = window_features(times, boxes, keypoints, 720, other, np.zeros((1, 2)))
    assert row[F["nearest_gap"]] == 0
    assert row[F["nearest_overlap"]] > 0.3
    assert row[F["people_within_1h"]] == 1
    assert row[F["nearest_relative_speed"]] == pytest.approx(0.5, rel=0.05)
    alone = features(times, boxes, keypoints)
    assert alone[F["nearest_gap"]] == 5 and alone[F["people_within_1h"]] == 0


def test_appearance_motion_sees_content_moving_inside_the_box_not_the_box_moving() -> None:
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 255, (400, 400, 3), dtype=np.uint8)
    times = np.arange(0, 1.0001, 1 / 25)
    boxes = np.array([[50 + 4 * i, 50, 150 + 4 * i, 250] for i in range(len(times))], dtype=np.float32)
    keypoints = np.zeros((len(times), 17, 3), dtype=np.float32)
    # The whole textured scene moves with the box: the box-aligned patch does not change.
    still = np.stack([motion_patch(np.roll(texture, 4 * i, axis=1), b) for i, b in enumerate(boxes)])
    # New content inside the box every frame (flailing): the patch changes a lot.
    busy = np.stack([motion_patch(rng.integers(0, 255, (400, 400, 3), dtype=np.uint8), b) for b in boxes])
    calm = features(times, boxes, keypoints, patches=still)
    wild = features(times, boxes, keypoints, patches=busy)
    assert wild[F["deform_mean"]] > 5 * max(calm[F["deform_mean"]], 1e-3)
    assert np.isnan(features(times, boxes, keypoints)[F["deform_mean"]])  # no patches: not seen


def test_track_windows_forget_ended_and_stale_tracks() -> None:
    windows = TrackWindows()
    times, boxes, keypoints = walker(25)
    for t, b, k in zip(times, boxes, keypoints, strict=True):
        windows.update(float(t), np.array([1, 2]), np.stack([b, b + 300]), np.stack([k, k]))
    x, ok = windows.features(
        float(times[-1]), 720, np.array([1, 2]), np.stack([boxes[-1], boxes[-1] + 300]), np.array([0, 1])
    )
    assert ok.all() and x.shape == (2, len(ALL_FEATURE_NAMES))
    windows.forget([1])
    assert len(windows) == 1
    windows.update(float(times[-1]) + FORGET_AFTER_S + 0.1, np.array([3]), boxes[:1], keypoints[:1])
    assert len(windows) == 1  # track 2 was not seen for too long


def test_temporal_config_fields_are_validated_with_their_names() -> None:
    config = load_config(None, {"temporal": {"weight": 0.5, "every_n_frames": 3}})
    assert config.temporal.weight == 0.5 and config.temporal.every_n_frames == 3
    with pytest.raises(ConfigError, match=r"temporal\.weight"):
        validate_config({"temporal": {"weight": 1.5}})
    with pytest.raises(ConfigError, match=r"temporal\.alpha"):
        validate_config({"temporal": {"alpha": 0}})
    with pytest.raises(ConfigError, match=r"temporal\.windw_s"):
        validate_config({"temporal": {"windw_s": 1}})
    weights = load_config(None, {"temporal": {"weight": 0.6, "action_weights": {"running": 0.1}}}).temporal
    assert (weights.weight_of("fighting"), weights.weight_of("running")) == (0.6, 0.1)
    with pytest.raises(ConfigError, match=r"temporal\.action_weights: unknown action 'runing' \(did you mean"):
        validate_config({"temporal": {"action_weights": {"runing": 0.3}}})
    with pytest.raises(ConfigError, match=r"temporal\.action_weights\.running"):
        validate_config({"temporal": {"action_weights": {"running": 1.2}}})


def test_fighting_weights_make_closeness_alone_useless() -> None:
    from har_stream.training.temporal_training import deconfounded

    rng = np.random.default_rng(0)
    y = np.r_[np.ones(100, int), np.zeros(300, int)]
    near = np.r_[rng.random(100) < 0.9, rng.random(300) < 0.2]  # positives mostly touch someone, negatives rarely
    w = deconfounded(rng.random(400) + 0.1, y, near)
    assert w[y == 1].sum() == pytest.approx(1.0) and w[y == 0].sum() == pytest.approx(1.0)
    assert w[(y == 0) & near].sum() == pytest.approx(w[(y == 1) & near].sum())


def test_a_person_scored_alone_gets_the_row_scoring_everyone_gives_them() -> None:
    """The nearest person's columns are filled in whether or not that person is scored on this frame (the stage
    staggers who is scored; a neighbour's own features are computed only when someone chosen stands near)."""
    windows = TrackWindows()
    times, boxes, keypoints = walker(25)
    far = np.array([2000.0, 100.0, 2080.0, 300.0])
    beside = np.array([60.0, 0.0, 60.0, 0.0])
    for t, b, k in zip(times, boxes, keypoints, strict=True):
        shaking = k.copy()
        shaking[9, 1] += 40 * np.sin(40 * t)  # the neighbour's wrist flails
        ids = np.array([1, 2, 3])
        windows.update(float(t), ids, np.stack([b, b + beside, far]), np.stack([k, shaking, k]))
    now = np.stack([boxes[-1], boxes[-1] + beside, far])
    everyone, _ = windows.features(float(times[-1]), 720, np.array([1, 2, 3]), now, np.array([0, 1, 2]))
    alone, ok = windows.features(float(times[-1]), 720, np.array([1, 2, 3]), now, np.array([0]))
    assert ok.all()
    np.testing.assert_array_equal(alone[0], everyone[0])
    width = len(FEATURE_NAMES)
    limbs = width + NEIGHBOUR_SOURCES.index("limb_speed_max")
    assert alone[0, limbs] > everyone[1, limbs]  # person 1 stands by person 2, whose wrist flails (not theirs)
    assert np.isnan(everyone[2, width:]).all()  # person 3 is alone


def test_a_track_followed_frame_by_frame_gets_the_features_of_its_last_second_computed_afresh() -> None:
    """The live history measures each frame once, on arrival, and keeps the last second in reused buffers; after
    3 s of frames (older frames dropped, buffers recycled) a window must give exactly the numbers computed from
    that second's frames alone, as training replays them."""
    rng = np.random.default_rng(1)
    times, boxes, keypoints = walker(25, seconds=3.0)
    keypoints[::7, 13:, 2] = 0.1  # knees and ankles missed now and then
    texture = rng.integers(0, 255, (600, 900, 3), dtype=np.uint8)
    patches = np.stack([motion_patch(np.roll(texture, 9 * i, axis=0), b) for i, b in enumerate(boxes)])
    flows = rng.random((len(times), len(FLOW_STATS))).astype(np.float32)
    windows = TrackWindows()
    for k, t in enumerate(times):
        windows.update(
            float(t), np.array([7]), boxes[k : k + 1], keypoints[k : k + 1], patches[k : k + 1], flows[k : k + 1]
        )
        if k in (30, 60, len(times) - 1):
            live, ok = windows.features(float(t), 720, np.array([7]), boxes[k : k + 1], np.array([0]))
            last = (times <= t) & (t - times <= 1.0 + 1e-6)
            fresh = window_features(
                times[last],
                boxes[last],
                keypoints[last],
                720,
                np.zeros((0, 4)),
                np.zeros((0, 2)),
                patches[last],
                flows=flows[last],
            )
            assert ok[0] and np.isfinite(live[0, F["deform_mean"]]) and np.isfinite(live[0, F["knee_angle_std"]])
            np.testing.assert_array_equal(live[0, : len(FEATURE_NAMES)], fresh)


def test_several_window_lengths_give_a_block_of_features_each_from_one_history() -> None:
    """With windows of 1 s and 0.5 s, each row holds the 1 s features and then the 0.5 s ones, each block the
    numbers a history of that length alone gives."""
    times, boxes, keypoints = walker(25, seconds=2.0)
    both, short = TrackWindows((1.0, 0.5)), TrackWindows((0.5,))
    one = TrackWindows((1.0,))
    assert feature_names((1.0, 0.5))[len(ALL_FEATURE_NAMES)] == f"{ALL_FEATURE_NAMES[0]}@0.5s"
    for t, b, k in zip(times, boxes, keypoints, strict=True):
        for windows in (both, short, one):
            windows.update(float(t), np.array([1, 2]), np.stack([b, b + 60]), np.stack([k, k]))
    now = np.stack([boxes[-1], boxes[-1] + 60])
    x, ok = both.features(float(times[-1]), 720, np.array([1, 2]), now, np.array([0, 1]))
    x_short, _ = short.features(float(times[-1]), 720, np.array([1, 2]), now, np.array([0, 1]))
    x_one, _ = one.features(float(times[-1]), 720, np.array([1, 2]), now, np.array([0, 1]))
    width = len(ALL_FEATURE_NAMES)
    assert ok.all() and x.shape == (2, 2 * width) == (2, len(feature_names((1.0, 0.5))))
    np.testing.assert_array_equal(x[:, :width], x_one)
    np.testing.assert_array_equal(x[:, width:], x_short)
    assert x[0, F["coverage"]] > 0.9 and x[0, width + F["coverage"]] > 0.9  # each window full for its length
    assert not np.array_equal(x[:, :width], x[:, width:])
