"""Ground-plane speed: the homography of a calibrated zone, the tracker's m/s, rules on it, config errors."""

from __future__ import annotations

import numpy as np
import pytest
import supervision as sv

from har_stream.config import ConfigError, RuleConfig, TrackerConfig, ZoneConfig
from har_stream.config.loading import validate_config
from har_stream.frame import SPEED_MPS, FrameRecord
from har_stream.rules import RuleEngine
from har_stream.tracking.ground import GroundPlane
from har_stream.tracking.tracker import PersonTracker

# A floor 8 m wide and 12 m long seen in perspective: the far edge (top of the image) is shorter.
TRAPEZOID = [(400, 200), (880, 200), (1180, 700), (100, 700)]


def zone(**calibration: float) -> ZoneConfig:
    return ZoneConfig(name="floor", polygon=TRAPEZOID, units="pixels", calibration=calibration or None)


def test_homography_maps_the_corners_and_keeps_straight_lines() -> None:
    ground = GroundPlane([zone(width_m=8, length_m=12)], 1280, 720)
    metres, inside = ground.to_metres(np.array(TRAPEZOID, dtype=float))
    assert np.allclose(metres, [[0, 0], [8, 0], [8, 12], [0, 12]], atol=1e-3)
    assert (inside == 0).all()
    # The image midpoint of the near edge is the ground midpoint of that edge (a homography keeps lines/ratios
    # along lines parallel to the image plane).
    mid, _ = ground.to_metres(np.array([[640, 700]]))
    assert mid[0] == pytest.approx([4, 12], abs=1e-3)
    # A point outside the zone has no ground position.
    out, where = ground.to_metres(np.array([[10, 10]]))
    assert where[0] == -1 and np.isnan(out).all()


def test_the_same_pixel_step_is_faster_far_away() -> None:
    ground = GroundPlane([zone(width_m=8, length_m=12)], 1280, 720)
    near = ground.speed_mps(np.array([600, 690]), np.array([650, 690]), 1.0)
    far = ground.speed_mps(np.array([600, 210]), np.array([650, 210]), 1.0)
    assert far > 1.5 * near > 0
    # Across the near edge (8 m = 1080 px there) 50 px is 0.37 m.
    assert near == pytest.approx(50 * 8 / 1080, rel=0.02)
    assert np.isnan(ground.speed_mps(np.array([600, 690]), np.array([5, 5]), 1.0))  # leaves the zone


def test_tracker_reports_metres_per_second_in_calibrated_zones() -> None:
    tracker = PersonTracker(
        TrackerConfig(min_consecutive_frames=1), frame_rate=10, zones=[zone(width_m=8, length_m=12)]
    )
    speeds = []
    for i in range(12):
        x = 500 + 27 * i  # 270 px/s along the near edge (8 m per 1080 px): 2.0 m/s
        record = FrameRecord(i, i / 10, i / 10, 0.0, np.zeros((720, 1280, 3), np.uint8))
        record.detections = sv.Detections(
            xyxy=np.array([[x, 450, x + 80, 690]], dtype=np.float32),
            confidence=np.array([0.9], dtype=np.float32),
            class_id=np.array([0]),
        )
        tracker(record)
        if len(record.detections):
            speeds.append(float(record.detections.data[SPEED_MPS][0]))
    assert speeds[-1] == pytest.approx(2.0, rel=0.05)


def test_rules_on_ground_speed() -> None:
    rule = RuleConfig(name="run", actions=["*"], min_confidence=0, min_speed_mps=2.5, cooldown_s=0)
    engine = RuleEngine([rule], [])

    def frame(speed: float) -> FrameRecord:
        record = FrameRecord(0, 0.0, 0.0, 0.0, np.zeros((10, 10, 3), np.uint8))
        record.detections = sv.Detections(
            xyxy=np.array([[1, 1, 5, 9]], dtype=np.float32), tracker_id=np.array([1]), class_id=np.array([0])
        )
        record.detections.data.update(
            action=np.array(["walking"], dtype=object), action_confidence=np.array([1.0], dtype=np.float32)
        )
        record.detections.data[SPEED_MPS] = np.array([speed], dtype=np.float32)
        return record

    assert engine(frame(1.4)).alerts == []
    assert engine(frame(float("nan"))).alerts == []  # no ground speed outside calibrated zones: does not hold
    assert [e.type for e in engine(frame(3.0)).alerts] == ["alert_start"]


def test_calibration_config_errors_name_the_field() -> None:
    with pytest.raises(ConfigError, match=r"zones\[0\].*exactly 4 corners"):
        validate_config(
            {
                "zones": [
                    {"name": "z", "polygon": [[0, 0], [1, 0], [1, 1]], "calibration": {"width_m": 3, "length_m": 4}}
                ]
            }
        )
    with pytest.raises(ConfigError, match=r"zones\[0\]\.calibration\.width_m"):
        validate_config({"zones": [{"name": "z", "polygon": TRAPEZOID, "calibration": {"width_m": -1, "length_m": 4}}]})
    with pytest.raises(ConfigError, match=r"rules\[0\].*max_speed_mps \(1.0\) is below min_speed_mps \(2.0\)"):
        validate_config({"rules": [{"name": "r", "actions": ["running"], "min_speed_mps": 2, "max_speed_mps": 1}]})
