"""Rule engine behaviour, table-driven: durations, zones, schedules, cooldowns, grace, track ends."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pytest
import supervision as sv

from har_stream.config import RuleConfig, ZoneConfig
from har_stream.frame import (
    ACTION,
    ACTION_CONFIDENCE,
    ACTION_SCORES,
    ALERT_RULE,
    FLAGGED,
    SPEED,
    UNSEEN,
    FrameRecord,
)
from har_stream.rules import RuleEngine, ZoneError, schedule_active

WIDTH, HEIGHT = 640, 480
# Monday 23 November 2026, 10:00 local time.
MONDAY_10AM = dt.datetime(2026, 11, 23, 10, 0).timestamp()


@dataclass
class Person:
    """One tracked person on one frame."""

    track_id: int = 1
    action: str = "running"
    confidence: float = 0.9
    box: tuple[float, float, float, float] = (100, 100, 150, 300)  # bottom centre (125, 300)
    speed: float = 1.0


def frame(t: float, *people: Person, ended: list[int] | None = None, wall: float | None = None) -> FrameRecord:
    """A record at media time ``t`` seconds (10 fps frame indices) carrying ``people``."""
    n = len(people)
    detections = sv.Detections(
        xyxy=np.array([p.box for p in people], dtype=np.float32).reshape(n, 4),
        confidence=np.full(n, 0.9, dtype=np.float32),
        class_id=np.zeros(n, dtype=int),
        tracker_id=np.array([p.track_id for p in people], dtype=int),
    )
    detections.data[ACTION] = np.array([p.action for p in people], dtype=object)
    detections.data[ACTION_CONFIDENCE] = np.array([p.confidence for p in people], dtype=np.float32)
    detections.data[SPEED] = np.array([p.speed for p in people], dtype=np.float32)
    return FrameRecord(
        index=round(t * 10),
        timestamp=t,
        wall_time=(wall if wall is not None else MONDAY_10AM) + t,
        captured_at=0.0,
        image=np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8),
        detections=detections,
        ended_tracks=list(ended or []),
    )


def run_engine(engine: RuleEngine, frames: list[FrameRecord]) -> list[tuple[float, str, str]]:
    """Feed frames; return (time, event type, reason) of every event."""
    out = []
    for record in frames:
        engine(record)
        out += [(record.timestamp, e.type, e.reason or "") for e in record.alerts]
    return out


def timeline(seconds: float, person: Person | None = None, step: float = 0.1, start: float = 0.0) -> list[FrameRecord]:
    """Frames every ``step`` seconds with the same person (or nobody)."""
    n = round(seconds / step)
    return [frame(start + i * step, *([person] if person else [])) for i in range(n)]


def rule(**kwargs) -> RuleConfig:
    base = {"name": "r", "actions": ["running"], "min_confidence": 0.5, "end_grace_s": 0.0, "cooldown_s": 0.0}
    base.update(kwargs)
    return RuleConfig(**base)


ZONE = ZoneConfig(name="door", polygon=[(0, 0), (200, 0), (200, 480), (0, 480)], units="pixels")


@pytest.mark.parametrize(
    ("rule_kwargs", "person", "expect_start_at"),
    [
        ({}, Person(), 0.0),  # no minimum duration: starts on the first frame
        ({"min_duration_s": 1.0}, Person(), 1.0),
        ({"min_duration_s": 2.5}, Person(), 2.5),
        ({"min_duration_s": 5.0}, Person(), None),  # never held long enough within 3 s
        ({}, Person(action="sitting"), None),  # action not listed
        ({"actions": ["*"]}, Person(action="sitting"), 0.0),  # wildcard
        ({"actions": ["sitting", "running"]}, Person(), 0.0),
        ({"min_confidence": 0.95}, Person(), None),  # not confident enough
        ({"zones": ["door"]}, Person(), 0.0),  # bottom centre (125, 300) inside the door zone
        ({"zones": ["door"]}, Person(box=(300, 100, 350, 300)), None),  # outside
        # Head inside the zone but feet outside: zones are judged at the bottom centre.
        ({"zones": ["door"]}, Person(box=(150, 100, 260, 300)), None),
        ({"min_speed": 0.5}, Person(speed=1.0), 0.0),
        ({"min_speed": 0.5}, Person(speed=0.2), None),
        ({"max_speed": 0.5}, Person(speed=1.0), None),
        ({"schedule": {"days": ["mon"], "start": "09:00", "end": "11:00"}}, Person(), 0.0),
        ({"schedule": {"days": ["tue"]}}, Person(), None),  # wrong day
        ({"schedule": {"days": ["mon"], "start": "10:30"}}, Person(), None),  # not yet
    ],
)
def test_when_an_alert_starts(rule_kwargs, person, expect_start_at) -> None:
    engine = RuleEngine([rule(**rule_kwargs)], [ZONE])
    events = run_engine(engine, timeline(3.0, person))
    starts = [t for t, kind, _ in events if kind == "alert_start"]
    if expect_start_at is None:
        assert starts == []
    else:
        assert starts and starts[0] == pytest.approx(expect_start_at, abs=1e-6)
        assert len(starts) == 1


def test_interrupted_condition_restarts_the_duration() -> None:
    engine = RuleEngine([rule(min_duration_s=1.0)], [])
    frames = timeline(0.8, Person()) + timeline(0.2, Person(action="sitting"), start=0.8)
    frames += timeline(1.5, Person(), start=1.0)
    events = run_engine(engine, frames)
    # Held 0.0-0.7, broken at 0.8-0.9, held again from 1.0: the alert waits for 2.0.
    assert [t for t, kind, _ in events if kind == "alert_start"] == [pytest.approx(2.0)]


def test_alert_ends_after_grace_and_cooldown_blocks_a_new_one() -> None:
    engine = RuleEngine([rule(end_grace_s=0.5, cooldown_s=2.0)], [])
    frames = (
        timeline(1.0, Person())  # alert starts at 0
        + timeline(1.0, Person(action="sitting"), start=1.0)  # cleared at 1.0, ends at 1.5
        + timeline(1.0, Person(), start=2.0)  # within cooldown (ends 1.5 + 2.0 = 3.5): no alert
        + timeline(1.0, Person(), start=3.0)  # cooldown over at 3.5: a new alert
    )
    events = run_engine(engine, frames)
    assert events == [
        (0.0, "alert_start", ""),
        (pytest.approx(1.5), "alert_end", "condition_cleared"),
        (pytest.approx(3.5), "alert_start", ""),
    ]


def test_short_flicker_within_grace_keeps_one_alert() -> None:
    engine = RuleEngine([rule(end_grace_s=0.5)], [])
    frames = timeline(1.0, Person()) + timeline(0.3, Person(action="sitting"), start=1.0)
    frames += timeline(1.0, Person(), start=1.3)
    events = run_engine(engine, frames)
    assert [kind for _, kind, _ in events] == ["alert_start"]


def test_cooldown_is_per_track() -> None:
    engine = RuleEngine([rule(cooldown_s=60)], [])
    a, b = Person(track_id=1), Person(track_id=2, box=(300, 100, 350, 300))
    frames = [frame(0.0, a), frame(0.1, Person(track_id=1, action="sitting")), frame(0.2, a, b)]
    events = run_engine(engine, frames)
    assert [(t, kind) for t, kind, _ in events] == [
        (0.0, "alert_start"),
        (pytest.approx(0.1), "alert_end"),
        (pytest.approx(0.2), "alert_start"),  # track 2, not blocked by track 1's cooldown
    ]


def test_track_end_closes_its_alerts_and_forgets_it() -> None:
    engine = RuleEngine([rule()], [])
    events = run_engine(engine, [frame(0.0, Person()), frame(0.1, ended=[1])])
    assert events[-1] == (pytest.approx(0.1), "alert_end", "track_ended")
    assert len(engine) == 0 and engine.active == 0


def test_shutdown_closes_open_alerts() -> None:
    engine = RuleEngine([rule(), rule(name="r2", actions=["*"], min_confidence=0)], [])
    last = frame(0.0, Person())
    engine(last)
    closing = engine.close_all(last)
    assert sorted(e.rule for e in closing) == ["r", "r2"]
    assert all(e.type == "alert_end" and e.reason == "shutdown" for e in closing)


def test_flags_and_highest_severity_rule_are_marked_per_person() -> None:
    engine = RuleEngine(
        [rule(name="low", severity="low", actions=["*"], min_confidence=0), rule(name="high", severity="high")], []
    )
    record = frame(0.0, Person(), Person(track_id=2, action="sitting", box=(300, 100, 350, 300)))
    engine(record)
    assert record.detections.data[FLAGGED].tolist() == [True, True]
    assert record.detections.data[ALERT_RULE].tolist() == ["high", "low"]


def test_end_record_carries_duration_and_peak_confidence() -> None:
    engine = RuleEngine([rule()], [])
    frames = [frame(0.0, Person(confidence=0.6)), frame(0.5, Person(confidence=0.95)), frame(1.0, ended=[1])]
    for record in frames:
        engine(record)
    end = frames[-1].alerts[0]
    assert end.duration_s == pytest.approx(1.0) and end.peak_confidence == pytest.approx(0.95)
    assert end.alert_id == frames[0].alerts[0].alert_id


def test_normalized_zone_scales_with_the_frame() -> None:
    zone = ZoneConfig(name="left", polygon=[(0, 0), (0.3, 0), (0.3, 1), (0, 1)])
    engine = RuleEngine([rule(zones=["left"])], [zone])
    record = frame(0.0, Person(box=(100, 100, 150, 300)))  # bottom centre x=125 < 0.3*640
    engine(record)
    assert record.alerts and record.alerts[0].zone == "left"


def test_pixel_zone_outside_the_frame_is_a_clear_error() -> None:
    zone = ZoneConfig(name="far", polygon=[(0, 0), (2000, 0), (2000, 400)], units="pixels")
    engine = RuleEngine([rule(zones=["far"])], [zone])
    with pytest.raises(ZoneError, match=r"zones\[0\] \('far'\): point \(2000, 0\) lies outside the 640x480 frame"):
        engine(frame(0.0, Person()))


@pytest.mark.parametrize(
    ("schedule", "when", "active"),
    [
        (None, "2026-11-23 03:00", True),
        ({"days": ["mon"], "start": "08:00", "end": "16:00"}, "2026-11-23 08:00", True),
        ({"days": ["mon"], "start": "08:00", "end": "16:00"}, "2026-11-23 16:00", False),  # end is exclusive
        ({"days": ["mon"], "start": "08:00", "end": "16:00"}, "2026-11-24 09:00", False),  # Tuesday
        ({"days": ["mon"], "start": "22:00", "end": "06:00"}, "2026-11-23 23:30", True),  # overnight, same day
        ({"days": ["mon"], "start": "22:00", "end": "06:00"}, "2026-11-24 05:59", True),  # after midnight
        ({"days": ["mon"], "start": "22:00", "end": "06:00"}, "2026-11-24 06:00", False),
        ({"days": ["mon"], "start": "22:00", "end": "06:00"}, "2026-11-23 05:00", False),  # Sunday's night
        ({"days": ["sat", "sun"]}, "2026-11-29 23:59", True),
        ({"days": ["mon"], "start": "12:00"}, "2026-11-23 11:59", False),
    ],
)
def test_schedule_windows(schedule, when, active) -> None:
    from har_stream.config import ScheduleConfig

    config = ScheduleConfig(**schedule) if schedule else None
    assert schedule_active(config, dt.datetime.fromisoformat(when)) is active


def scored(t: float, label: str, scores: dict[str, float], classes: tuple[str, ...]) -> FrameRecord:
    """A one-person record whose smoothed label is ``label`` and whose per-action scores are ``scores``."""
    record = frame(t, Person(action=label, confidence=scores.get(label, 0.0)))
    record.detections.data[ACTION_SCORES] = np.array([[scores.get(c, 0.0) for c in classes]], dtype=np.float32)
    record.action_classes = classes
    return record


def test_rule_judges_the_listed_actions_score_not_only_the_top_label() -> None:
    classes = ("fighting", "hugging", "walking")
    engine = RuleEngine([rule(actions=["fighting"], min_confidence=0.4)], [])
    # The label says hugging (0.45 > 0.42) but the fighting evidence is above the rule's threshold: it fires.
    events = run_engine(engine, [scored(0.0, "hugging", {"fighting": 0.42, "hugging": 0.45}, classes)])
    assert [e[1] for e in events] == ["alert_start"]
    start = engine(scored(0.1, "hugging", {"fighting": 0.42, "hugging": 0.45}, classes))
    assert start.detections.data[FLAGGED].tolist() == [True]
    # Below the threshold it does not fire, even when fighting is the label.
    quiet = RuleEngine([rule(actions=["fighting"], min_confidence=0.5)], [])
    assert run_engine(quiet, [scored(0.0, "fighting", {"fighting": 0.45, "walking": 0.3}, classes)]) == []


def test_alert_names_the_best_scoring_listed_action() -> None:
    classes = ("fighting", "running", "walking")
    engine = RuleEngine([rule(actions=["fighting", "running"], min_confidence=0.3)], [])
    record = engine(scored(0.0, "walking", {"fighting": 0.31, "running": 0.35, "walking": 0.34}, classes))
    assert [(e.type, e.action, e.confidence) for e in record.alerts] == [("alert_start", "running", 0.35)]


def test_background_classes_are_valid_rule_actions_and_typos_are_named() -> None:
    assert RuleConfig(name="idle", actions=["standing", "other"]).actions == ["standing", "other"]
    with pytest.raises(ValueError, match="unknown action 'walkng'"):
        RuleConfig(name="bad", actions=["walkng"])


def test_min_people_needs_that_many_people_meeting_the_condition_on_the_same_frame() -> None:
    """A fight rule with min_people 2: one person scoring high alone never alerts; two at once both do; a second
    person who does not meet the condition (low score, or outside the rule's zone) does not count."""
    fight = rule(actions=["fighting"], min_people=2, min_duration_s=0.2)
    lone = Person(track_id=1, action="fighting", confidence=0.95)
    partner = Person(track_id=2, action="fighting", confidence=0.9, box=(160, 100, 210, 300))
    calm = Person(track_id=3, action="fighting", confidence=0.3, box=(400, 100, 450, 300))
    outside = Person(track_id=4, action="fighting", confidence=0.9, box=(400, 100, 450, 300))

    alone = [frame(i * 0.1, lone, calm) for i in range(10)]
    assert run_engine(RuleEngine([fight], []), alone) == []

    together = [frame(i * 0.1, lone, partner, calm) for i in range(10)]
    engine = RuleEngine([fight], [])
    events = run_engine(engine, together)
    assert [e[1] for e in events] == ["alert_start", "alert_start"]
    assert together[-1].detections.data[FLAGGED].tolist() == [True, True, False]

    zoned = rule(actions=["fighting"], min_people=2, zones=["door"])
    assert run_engine(RuleEngine([zoned], [ZONE]), [frame(i * 0.1, lone, outside) for i in range(5)]) == []
    assert len(run_engine(RuleEngine([zoned], [ZONE]), [frame(i * 0.1, lone, partner) for i in range(5)])) == 2

    assert run_engine(RuleEngine([rule(actions=["fighting"])], []), alone[:3])  # the default, 1: alone alerts


def test_a_person_held_unseen_counts_only_for_rules_that_judge_falls() -> None:
    """A fighter the detector misses for one frame while judged down is held by the fall stage as an unseen
    ``fallen`` row: the fighting rule treats that frame as if the row were absent (its duration keeps running),
    a ``fallen`` rule judges it."""
    fighting = Person(track_id=1, action="fighting", confidence=0.9)
    held = Person(track_id=1, action="fallen", confidence=1.0)

    def frames(middle: list[Person]) -> list[FrameRecord]:
        out = [frame(i * 0.1, *(middle if i == 3 else [fighting])) for i in range(8)]
        out[3].detections.data[UNSEEN] = np.array([True] * len(middle), dtype=bool)
        return out

    fight = rule(actions=["fighting"], min_duration_s=0.5)
    absent = run_engine(RuleEngine([fight], []), frames([]))
    assert absent == [(0.5, "alert_start", "")]
    assert run_engine(RuleEngine([fight], []), frames([held])) == absent  # not restarted by the held frame
    down = rule(name="down", actions=["fallen"], min_duration_s=0.0)
    when, kind, _ = run_engine(RuleEngine([down], []), frames([held]))[0]
    assert (when, kind) == (pytest.approx(0.3), "alert_start")
