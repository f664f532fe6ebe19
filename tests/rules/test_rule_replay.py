"""The cross-validation's rule replay (``experiments.fusion_cv.fires``, which chooses configs/cctv.yaml's fighting
rule) must start an alert exactly when the real rule engine does, on the same per-person scores."""

from __future__ import annotations

import numpy as np
import pytest
import supervision as sv

from experiments.fusion_cv import fires
from har_stream.config import RuleConfig
from har_stream.frame import ACTION, ACTION_CONFIDENCE, ACTION_SCORES, FrameRecord
from har_stream.rules import RuleEngine
from har_stream.rules.events import ALERT_START

FPS = 15


def random_trace(rng: np.random.Generator) -> np.ndarray:
    """Rows (time, track, score) of up to 4 people who come and go over a clip of up to 3 s."""
    rows = []
    for index in range(int(rng.integers(1, 3 * FPS))):
        for track in rng.choice(4, int(rng.integers(0, 4)), replace=False):
            rows.append((index / FPS, int(track), float(rng.random())))
    return np.array(rows, dtype=np.float64).reshape(-1, 3)


def engine_starts_alert(rows: np.ndarray, threshold: float, duration: float, people: int) -> bool:
    """Feed the trace, frame by frame, to a RuleEngine with one fighting rule; whether it started an alert."""
    rule = RuleConfig(
        name="fighting",
        actions=["fighting"],
        min_confidence=threshold,
        min_duration_s=duration,
        min_people=people,
        end_grace_s=0.0,
        cooldown_s=0.0,
    )
    engine = RuleEngine([rule], [])
    for t in np.unique(rows[:, 0]):
        on = rows[rows[:, 0] == t]
        n = len(on)
        det = sv.Detections(
            xyxy=np.tile([10.0, 10.0, 50.0, 130.0], (n, 1)).astype(np.float32),
            class_id=np.zeros(n, dtype=int),
            tracker_id=on[:, 1].astype(int),
        )
        det.data[ACTION_SCORES] = np.stack([1 - on[:, 2], on[:, 2]], axis=1).astype(np.float32)
        det.data[ACTION] = np.array(["walking"] * n, dtype=object)
        det.data[ACTION_CONFIDENCE] = np.zeros(n, dtype=np.float32)
        record = FrameRecord(
            index=round(t * FPS),
            timestamp=float(t),
            wall_time=1.8e9 + t,
            captured_at=0.0,
            image=np.zeros((4, 4, 3), dtype=np.uint8),
            detections=det,
            action_classes=("walking", "fighting"),
        )
        engine(record)
        if any(event.type == ALERT_START for event in record.alerts):
            return True
    return False


@pytest.mark.parametrize(
    ("threshold", "duration", "people"), [(0.5, 0.2, 1), (0.3, 0.4, 1), (0.6, 0.0, 1), (0.4, 0.2, 2)]
)
def test_replay_agrees_with_rule_engine(threshold: float, duration: float, people: int) -> None:
    rng = np.random.default_rng(7)
    outcomes = []
    for _ in range(150):
        rows = random_trace(rng)
        replayed = fires(rows[:, :2], rows[:, 2], threshold, duration, people) if len(rows) else False
        assert replayed == engine_starts_alert(rows, threshold, duration, people), rows
        outcomes.append(replayed)
    assert 0 < sum(outcomes) < len(outcomes)  # both outcomes were exercised
