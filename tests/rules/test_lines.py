"""Counting lines: crossings judged at the feet with hysteresis (a person jittering on the line counts once),
in / out by the line's direction, zone occupancy, crossing rules (one alert per crossing), and config checks."""

from __future__ import annotations

import numpy as np
import pytest
import supervision as sv
from pydantic import ValidationError

from har_stream.config import HarStreamConfig, LineConfig, RuleConfig, ZoneConfig
from har_stream.frame import ACTION, ACTION_CONFIDENCE, SPEED, FrameRecord
from har_stream.rules.counting import LineCounter
from har_stream.rules.engine import RuleEngine
from har_stream.rules.events import ALERT_START
from har_stream.rules.zones import ZoneError

WIDTH, HEIGHT = 640, 480
BOX_H = 100.0  # margin 0.15: the feet must be 15 px past the line
#: A horizontal line at y = 240 drawn left to right: its left side is above it, so "in" (left_to_right) is down.
GATE = LineConfig(name="gate", points=[(100, 240), (540, 240)])


def frame(index: int, *feet: tuple[int, float, float], ended: list[int] | None = None) -> FrameRecord:
    """A 10 fps record with one 40x100 box per ``(track_id, feet_x, feet_y)``."""
    n = len(feet)
    boxes = [(x - 20, y - BOX_H, x + 20, y) for _, x, y in feet]
    detections = sv.Detections(
        xyxy=np.array(boxes, dtype=np.float32).reshape(n, 4),
        confidence=np.full(n, 0.9, dtype=np.float32),
        class_id=np.zeros(n, dtype=int),
        tracker_id=np.array([t for t, _, _ in feet], dtype=int),
    )
    detections.data[ACTION] = np.array(["walking"] * n, dtype=object)
    detections.data[ACTION_CONFIDENCE] = np.full(n, 0.9, dtype=np.float32)
    detections.data[SPEED] = np.full(n, 1.0, dtype=np.float32)
    return FrameRecord(
        index=index,
        timestamp=index / 10,
        wall_time=1.8e9 + index / 10,
        captured_at=0.0,
        image=np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8),
        detections=detections,
        ended_tracks=list(ended or []),
    )


def walk(counter: LineCounter, ys: list[float], x: float = 300, track_id: int = 1) -> list[str]:
    """Feed one person's feet heights frame by frame; the crossing directions counted."""
    out = []
    for i, y in enumerate(ys):
        record = counter(frame(i, (track_id, x, y)))
        out += [c.direction for c in record.crossings]
    return out


def test_walking_down_across_a_left_to_right_line_counts_in_once() -> None:
    counter = LineCounter([GATE], [])
    assert walk(counter, [150, 180, 210, 240, 270, 300, 330]) == ["in"]
    assert counter.counts == {"gate": {"in": 1, "out": 0}}


def test_jitter_on_the_line_counts_once() -> None:
    # Down to the line, then ten frames wobbling 10 px either side of it (within the 15 px margin), then on down.
    ys = [150, 200, 230, *[250, 230] * 5, 245, 235, 260, 300]
    counter = LineCounter([GATE], [])
    assert walk(counter, ys) == ["in"]
    # Without hysteresis every wobble would count: the margin is what keeps it to one.
    no_margin = LineCounter([GATE.model_copy(update={"margin": 0.0})], [])
    assert len(walk(no_margin, ys)) == 13  # in, out, in, ... on every side change


def test_stepping_back_before_the_margin_counts_nothing() -> None:
    counter = LineCounter([GATE], [])
    assert walk(counter, [150, 220, 250, 225, 180]) == []  # 10 px past the line, then back
    assert counter.counts["gate"] == {"in": 0, "out": 0}


def test_direction_follows_in_direction() -> None:
    down_then_up = [150, 300, 150]
    assert walk(LineCounter([GATE], []), down_then_up) == ["in", "out"]
    reverse = GATE.model_copy(update={"in_direction": "right_to_left"})
    assert walk(LineCounter([reverse], []), down_then_up) == ["out", "in"]
    # The same line drawn right to left swaps its sides: walking down is then right to left.
    flipped = GATE.model_copy(update={"points": [(540, 240), (100, 240)]})
    assert walk(LineCounter([flipped], []), down_then_up) == ["out", "in"]


def test_walking_round_the_end_of_the_line_is_no_crossing() -> None:
    counter = LineCounter([GATE], [])
    # Above the line at x 520, out past its end (x 600) to below it, then back inside the segment, below.
    feet = [(520, 150), (600, 150), (600, 330), (520, 330)]
    crossings = []
    for i, (x, y) in enumerate(feet):
        crossings += counter(frame(i, (1, x, y))).crossings
    assert crossings == []


def test_a_new_track_starting_past_the_line_has_crossed_nothing_and_ended_tracks_are_forgotten() -> None:
    counter = LineCounter([GATE], [])
    assert walk(counter, [300, 320]) == []
    counter(frame(2, ended=[1]))
    assert walk(counter, [150], track_id=1) == []  # the same id again after it ended: a new start, no crossing


def test_zone_occupancy_counts_feet_in_each_zone() -> None:
    top = ZoneConfig(name="top", polygon=[(0, 0), (640, 0), (640, 240), (0, 240)])
    counter = LineCounter([], [top])
    record = counter(frame(0, (1, 100, 100), (2, 300, 200), (3, 300, 400)))
    assert record.zone_occupancy == {"top": 2}
    assert record.line_counts == {}


def crossing_rule(direction: str = "any", **extra: object) -> RuleConfig:
    fields = {"name": "gate_crossed", "actions": ["*"], "min_confidence": 0.0, "cooldown_s": 0.0, "end_grace_s": 0.0}
    return RuleConfig(**(fields | {"crossing": {"line": "gate", "direction": direction}} | extra))


def alerts(rule: RuleConfig, ys: list[float]) -> list[tuple[int, str, dict]]:
    """(frame, direction crossed, event extra) of every alert start of ``rule`` for one person's feet heights."""
    counter, engine = LineCounter([GATE], []), RuleEngine([rule], [])
    out = []
    for i, y in enumerate(ys):
        record = engine(counter(frame(i, (1, 300, y))))
        out += [(i, e.extra.get("direction"), e.extra) for e in record.alerts if e.type == ALERT_START]
    return out


def test_crossing_rule_alerts_once_per_crossing_even_with_jitter() -> None:
    ys = [150, 230, 250, 230, 250, 235, 300, 300, 150, 150, 300]  # down (jittering), up, down again
    started = alerts(crossing_rule(), ys)
    assert [(i, d) for i, d, _ in started] == [(6, "in"), (8, "out"), (10, "in")]  # 250 is within the margin
    assert started[0][2] == {"line": "gate", "direction": "in"}


def test_crossing_rule_direction_filter() -> None:
    ys = [150, 300, 150, 300]
    assert [d for _, d, _ in alerts(crossing_rule("in"), ys)] == ["in", "in"]
    assert [d for _, d, _ in alerts(crossing_rule("out"), ys)] == ["out"]


def test_crossing_rule_cooldown_keeps_one_alert_per_person() -> None:
    ys = [150, 300, 150, 300]  # three crossings in 0.3 s
    assert len(alerts(crossing_rule(cooldown_s=30.0), ys)) == 1


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"lines": [{"name": "a", "points": [[0.1, 0.5]]}]}, "lines.0.points"),
        ({"lines": [{"name": "a", "points": [[0.1, 0.5], [0.2, 0.5], [0.3, 0.5]]}]}, "exactly 2 points"),
        ({"lines": [{"name": "a", "points": [[0.1, 0.5], [0.1, 0.5]]}]}, "the same point"),
        ({"lines": [{"name": "a", "points": [[0.1, 0.5], [1.2, 0.5]], "units": "normalized"}]}, "within [0, 1]"),
        ({"lines": [{"name": "a", "points": [[-5, 10], [100, 10]]}]}, "must not be negative"),
        ({"lines": [{"name": "a", "points": [[0, 0], [1, 1]], "in_direction": "up"}]}, "lines.0.in_direction"),
        (
            {"lines": [{"name": "gate", "points": [[0, 0.5], [1, 0.5]]}], "rules": [crossing_rule().model_dump()]}
            | {"lines": [{"name": "gaet", "points": [[0, 0.5], [1, 0.5]]}]},
            "rules[0].crossing.line: line 'gate' is not defined (did you mean 'gaet'?)",
        ),
        (
            {"lines": [GATE.model_dump(), GATE.model_dump()]},
            "lines[1].name: line name 'gate' is used more than once",
        ),
    ],
)
def test_bad_line_configs_name_the_field(config: dict, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        HarStreamConfig.model_validate(config)
    assert message in str(info.value)


def test_crossing_rule_needs_min_duration_0() -> None:
    with pytest.raises(ValidationError, match=r"min_duration_s \(1.0\) must be 0 for a rule with crossing"):
        crossing_rule(min_duration_s=1.0)


def test_pixel_line_outside_the_frame_is_reported() -> None:
    line = LineConfig(name="far", points=[(10, 10), (2000, 10)])
    with pytest.raises(ZoneError, match=r"lines\[0\] \('far'\): point \(2000, 10\) lies outside the 640x480 frame"):
        LineCounter([line], [])(frame(0))
