"""The kinematic running evidence: its measurements on tracks whose motion is known, and the shipped model."""

from __future__ import annotations

import numpy as np
import pytest

from har_stream.temporal.history import TrackHistory
from har_stream.temporal.model import load_temporal_model
from har_stream.temporal.running import (
    RUNNING_FEATURES,
    SPEED_SPAN_S,
    SUSTAIN_S,
    RunningModel,
    body_heights,
    elbow_bend,
    running_features,
)

FPS = 25.0
SPEED, STRAIGHT, JITTER = (RUNNING_FEATURES.index(n) for n in ("sustained_speed", "straightness", "height_jitter"))


def track(
    velocity_h_per_s: float, height: float = 100.0, jitter_px: float = 0.0, seconds: float = 1.0, seed: int = 0
) -> TrackHistory:
    """A box ``height`` px tall moving right at ``velocity_h_per_s`` body heights per second, its edges shaken by
    up to ``jitter_px``; no keypoints."""
    rng = np.random.default_rng(seed)
    history = TrackHistory(keep_s=seconds + 0.25)
    for k in range(int(seconds * FPS) + 1):
        t = k / FPS
        x = 100 + velocity_h_per_s * height * t
        box = np.array([x, 200, x + height / 2.5, 200 + height]) + rng.uniform(-jitter_px, jitter_px, 4)
        history.add(t, box.astype(np.float32), np.zeros((17, 3), np.float32))
    return history


def features(
    history: TrackHistory, seconds: float = 1.0, spans: tuple[float, float] = (SPEED_SPAN_S, SUSTAIN_S)
) -> np.ndarray:
    return running_features(history.window(seconds, 1.0), 1920, 1080, *spans)


def test_speed_is_in_body_heights_per_second_whatever_the_size() -> None:
    for height in (50.0, 100.0, 300.0):
        x = features(track(2.0, height))
        assert x[SPEED] == pytest.approx(2.0, rel=0.02)
        assert x[STRAIGHT] == pytest.approx(1.0, abs=1e-3)
        assert x[JITTER] == pytest.approx(0.0, abs=1e-6)


def test_box_jitter_is_not_sustained_straight_motion() -> None:
    shaky = features(track(0.0, jitter_px=25.0))
    steady = features(track(1.0))
    assert shaky[STRAIGHT] < 0.5 < steady[STRAIGHT]
    assert shaky[JITTER] > 0.05 > steady[JITTER]


def test_speed_needs_a_sustained_window() -> None:
    assert np.isnan(features(track(2.0, seconds=0.3), 0.3)[SPEED])  # too little history: no speed yet


def test_shorter_spans_measure_a_runner_sooner_and_still_in_body_heights() -> None:
    """A runner in sight for 0.36 s: a speed over 0.4 s needs more history; one over 0.3 s reads it."""
    short = track(2.0, seconds=0.36)
    assert np.isnan(features(short, 0.36, (0.4, 0.4))[SPEED])
    assert features(short, 0.36, (0.3, 0.1))[SPEED] == pytest.approx(2.0, rel=0.02)


def test_a_box_cut_by_the_frame_edge_takes_its_height_from_the_torso() -> None:
    history = TrackHistory(keep_s=1.0)
    keypoints = np.zeros((17, 3), np.float32)
    keypoints[[5, 6], :] = [[100, 100, 0.9], [130, 100, 0.9]]  # shoulders
    keypoints[[11, 12], :] = [[102, 160, 0.9], [128, 160, 0.9]]  # hips: a 60 px torso
    history.add(0.0, np.array([90, 80, 140, 120], np.float32), keypoints)  # a 40 px box: legs out of frame
    assert body_heights(history.window(0.0, 1.0))[0] == pytest.approx(60 / 0.3)


def arms_track(elbow_deg: float, arms_seen: bool = True) -> TrackHistory:
    """A standing person whose arms bend at ``elbow_deg`` (180: straight), over 0.4 s."""
    history = TrackHistory(keep_s=1.0)
    for k in range(10):
        keypoints = np.zeros((17, 3), np.float32)
        keypoints[[5, 6, 11, 12], :] = [[100, 100, 0.9], [140, 100, 0.9], [102, 160, 0.9], [138, 160, 0.9]]
        if arms_seen:
            for shoulder, elbow, wrist, side in ((5, 7, 9, -1), (6, 8, 10, 1)):
                elbow_at = keypoints[shoulder, :2] + [0, 30]  # the upper arm hangs straight down
                turn = np.radians(180 - elbow_deg)  # the forearm turns forward from the upper arm's line
                wrist_at = elbow_at + 30 * np.array([side * np.sin(turn), np.cos(turn)])
                keypoints[elbow] = [*elbow_at, 0.9]
                keypoints[wrist] = [*wrist_at, 0.9]
        history.add(k / FPS, np.array([90, 80, 150, 260], np.float32), keypoints)
    return history


def test_elbow_bend_reads_straight_arms_as_0_and_a_runners_right_angle_as_half() -> None:
    assert elbow_bend(arms_track(180).window(0.4, 1.0)) == pytest.approx(0.0, abs=1e-3)
    assert elbow_bend(arms_track(90).window(0.4, 1.0)) == pytest.approx(0.5, abs=1e-3)
    assert elbow_bend(arms_track(135).window(0.4, 1.0)) == pytest.approx(0.25, abs=1e-3)
    assert np.isnan(elbow_bend(arms_track(90, arms_seen=False).window(0.4, 1.0)))  # no arm seen: no evidence
    assert features(arms_track(90), 0.4)[RUNNING_FEATURES.index("elbow_bend")] == pytest.approx(0.5, abs=1e-3)


def test_model_json_errors_name_the_field() -> None:
    good = RunningModel(("log_sustained_speed",), np.zeros(1), np.ones(1), np.ones(1), 0.0)
    assert RunningModel.from_json(good.to_json()).predict(np.zeros((1, len(RUNNING_FEATURES)))).shape == (1,)
    broken = good.to_json() | {"features": ["log_flying_speed"]}
    with pytest.raises(ValueError, match="flying_speed"):
        RunningModel.from_json(broken)
    missing = {k: v for k, v in good.to_json().items() if k != "weights"}
    with pytest.raises(ValueError, match="weights"):
        RunningModel.from_json(missing)
    with pytest.raises(ValueError, match="sustain_s"):
        RunningModel.from_json(good.to_json() | {"sustain_s": 0})
    spans = RunningModel.from_json(good.to_json() | {"speed_span_s": 0.3, "sustain_s": 0.1})
    assert (spans.speed_span_s, spans.sustain_s) == (0.3, 0.1)


def test_shipped_model_reads_steady_fast_people_as_running_and_walkers_or_jitter_not() -> None:
    model = load_temporal_model("default")
    assert model is not None and model.running is not None, "models/temporal_pose/running.json is missing"
    spans = model.running.spans
    run = model.running.predict(features(track(2.5), spans=spans)[None])[0]
    walk = model.running.predict(features(track(0.7), spans=spans)[None])[0]
    shaky = model.running.predict(features(track(0.0, jitter_px=40.0), spans=spans)[None])[0]
    assert run >= 0.7 > 0.5 > walk, (run, walk)
    assert shaky < 0.5, shaky
