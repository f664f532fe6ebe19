"""Apply alert rules to every tracked person on every frame; start and end alerts."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from dataclasses import dataclass

import numpy as np

from har_stream.actions import FALLEN, UNKNOWN_ACTION
from har_stream.config.schema import ANY_ACTION, SEVERITIES, RuleConfig, ZoneConfig
from har_stream.frame import (
    ACTION,
    ACTION_CONFIDENCE,
    ACTION_SCORES,
    ALERT_RULE,
    DISPLAY_CONFIDENCE,
    DISPLAY_LABEL,
    FLAGGED,
    SPEED,
    SPEED_MPS,
    UNSEEN,
    FrameRecord,
)
from har_stream.rules.events import ALERT_END, ALERT_START, AlertEvent
from har_stream.rules.schedule import schedule_active
from har_stream.rules.zones import ZoneSet


@dataclass
class _Observation:
    """What a rule saw of a person on one frame."""

    action: str
    confidence: float
    zone: str | None
    box: list[float]
    timestamp: float
    wall_time: float
    frame_index: int
    crossed: str | None = None  # crossing rules: the direction ("in", "out") the person crossed the rule's line


@dataclass
class _RuleState:
    """One rule's state for one track."""

    since: float | None = None  # the condition has held since
    false_since: float | None = None  # the condition stopped holding during an active alert
    alert: AlertEvent | None = None  # start record of the active alert
    peak: float = 0.0
    cooldown_until: float = -math.inf
    last: _Observation | None = None


class RuleEngine:
    """Decides, per person and rule, when an alert starts and ends.

    A rule's condition holds when the person's evidence for one of the listed actions (its column of
    ``data['action_scores']``) is at least ``min_confidence`` (rules listing ``*`` or ``unknown``, and records
    without scores, judge the smoothed label and its confidence instead), the speed (box heights per second,
    and metres per second in calibrated zones) is within bounds, the box's bottom centre is in one of the
    rule's zones, the person crossed the rule's ``crossing`` line on this frame (``record.crossings``, from the count
    stage; in the rule's direction), the schedule is active, and at least ``min_people`` people on the frame meet all
    of that (default 1; 2 for a fight means one person alone never raises it). The alert starts once the condition
    has held for ``min_duration_s`` and no cooldown is running; it ends once the condition has been false for
    ``end_grace_s``, when the track ends, or on shutdown. After an alert ends, the same track cannot raise
    the same rule for ``cooldown_s``. An alert names the listed action its rule judged, with that action's
    evidence; an alert of a ``*`` rule names the label the person's box shows (``data['display_label']``). A
    flagged person's shown label becomes what their most severe alert names when that evidence reaches
    ``min_label_confidence`` (``render.min_label_confidence``), so a red box says what its alert says.
    """

    def __init__(
        self,
        rules: list[RuleConfig],
        zones: list[ZoneConfig],
        camera: str = "default",
        min_label_confidence: float = 0.0,
    ) -> None:
        self.rules = rules
        self.min_label_confidence = min_label_confidence  # render.min_label_confidence: see __call__
        self.zone_configs = zones
        self.camera = camera
        self._zone_set: ZoneSet | None = None
        self._states: dict[tuple[int, int], _RuleState] = {}
        self.alerts_started = 0

    @property
    def active(self) -> int:
        """Number of alerts currently active."""
        return sum(1 for s in self._states.values() if s.alert is not None)

    def _zones_for(self, record: FrameRecord) -> ZoneSet:
        zs = self._zone_set
        if zs is None or (zs.width, zs.height) != (record.width, record.height):
            zs = self._zone_set = ZoneSet(self.zone_configs, record.width, record.height)
        return zs

    def __call__(self, record: FrameRecord) -> FrameRecord:
        """Pipeline stage: set ``data['flagged']`` and ``data['alert_rule']``; append events to ``record.alerts``."""
        events: list[AlertEvent] = []
        for track_id in record.ended_tracks:
            events += self._end_track(track_id, record, "track_ended")
        detections = record.detections
        n = len(detections)
        flagged = np.zeros(n, dtype=bool)
        flagged_by = np.full(n, "", dtype=object)
        shown: dict[int, tuple[str, float]] = {}  # flagged person -> what the flagging rule's alert names
        if n and self.rules:
            evidence = [self._evidence(rule, record) for rule in self.rules]
            named = [self._named(rule, record, judged) for rule, judged in zip(self.rules, evidence, strict=True)]
            holds, zones = self._conditions(record, evidence)
            crossed = {(c.track_id, c.line): c.direction for c in record.crossings}
            unseen = detections.data.get(UNSEEN, np.zeros(n, dtype=bool))
            for i in range(n):
                track_id = int(detections.tracker_id[i])
                best_severity = -1
                for r, rule in enumerate(self.rules):
                    if unseen[i] and not _judges_unseen(rule):
                        continue  # held by the fall stage: absent for this rule, as the detector left them
                    zone = zones[i][r]
                    actions, confidences = named[r]
                    observation = _Observation(
                        str(actions[i]),
                        float(confidences[i]),
                        zone,
                        [round(float(v), 1) for v in detections.xyxy[i]],
                        record.timestamp,
                        record.wall_time,
                        record.index,
                        crossed.get((track_id, rule.crossing.line)) if rule.crossing is not None else None,
                    )
                    event, active = self._step(track_id, r, bool(holds[i, r]), observation)
                    if event is not None:
                        events.append(event)
                    if active:
                        flagged[i] = True
                        severity = SEVERITIES.index(rule.severity)
                        if severity > best_severity:
                            best_severity, flagged_by[i] = severity, rule.name
                            if observation.confidence >= self.min_label_confidence:
                                shown[i] = (observation.action, observation.confidence)
        if shown and DISPLAY_LABEL in detections.data and DISPLAY_CONFIDENCE in detections.data:
            # a red box says what its alert says: the flagging rule's action, with that action's evidence
            for i, (action, confidence) in shown.items():
                detections.data[DISPLAY_LABEL][i] = action
                detections.data[DISPLAY_CONFIDENCE][i] = confidence
        detections.data[FLAGGED] = flagged
        detections.data[ALERT_RULE] = flagged_by
        record.alerts.extend(events)
        record.active_alerts = self.active
        return record

    def _conditions(
        self, record: FrameRecord, evidence: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
    ) -> tuple[np.ndarray, list[list[str | None]]]:
        """Whether each rule's condition holds for each person (n, rules), and the rule's zone each is in."""
        detections = record.detections
        n = len(detections)
        membership = self._zones_for(record).membership(detections) if self.zone_configs else {}
        local = dt.datetime.fromtimestamp(record.wall_time)
        speeds = detections.data.get(SPEED, np.zeros(n, dtype=np.float32))
        ground_speeds = detections.data.get(SPEED_MPS, np.full(n, np.nan, dtype=np.float32))
        holds = np.zeros((n, len(self.rules)), dtype=bool)
        zones = [[self._zone_of(rule, membership, i) for rule in self.rules] for i in range(n)]
        ids = detections.tracker_id if detections.tracker_id is not None else np.zeros(n, dtype=int)
        crossed = {(c.track_id, c.line, c.direction) for c in record.crossings}
        for r, rule in enumerate(self.rules):
            if not schedule_active(rule.schedule, local):
                continue
            _, confidences, matches = evidence[r]
            for i in range(n):
                holds[i, r] = (
                    bool(matches[i])
                    and confidences[i] >= rule.min_confidence
                    and (rule.min_speed is None or speeds[i] >= rule.min_speed)
                    and (rule.max_speed is None or speeds[i] <= rule.max_speed)
                    and (rule.min_speed_mps is None or ground_speeds[i] >= rule.min_speed_mps)
                    and (rule.max_speed_mps is None or ground_speeds[i] <= rule.max_speed_mps)
                    and (not rule.zones or zones[i][r] is not None)
                    and (
                        rule.crossing is None
                        or _crossed(crossed, int(ids[i]), rule.crossing.line, rule.crossing.direction)
                    )
                )
            if holds[:, r].sum() < rule.min_people:  # e.g. a fight needs two people showing it at once
                holds[:, r] = False
        return holds, zones

    @staticmethod
    def _evidence(rule: RuleConfig, record: FrameRecord) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per person: the action a rule judges, its score, and whether it is one the rule lists."""
        data = record.detections.data
        scores = data.get(ACTION_SCORES)
        columns = [record.action_classes.index(a) for a in rule.actions if a in record.action_classes]
        label_based = ANY_ACTION in rule.actions or UNKNOWN_ACTION in rule.actions
        if scores is None or label_based or not columns:
            labels = data[ACTION]
            matches = np.array([ANY_ACTION in rule.actions or a in rule.actions for a in labels], dtype=bool)
            return labels, data[ACTION_CONFIDENCE], matches
        best = np.asarray(columns)[np.argmax(scores[:, columns], axis=1)]
        labels = np.array([record.action_classes[c] for c in best], dtype=object)
        return labels, scores[np.arange(len(best)), best], np.ones(len(best), dtype=bool)

    @staticmethod
    def _named(
        rule: RuleConfig, record: FrameRecord, judged: tuple[np.ndarray, np.ndarray, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per person: the action an alert of ``rule`` names and the evidence it reports.

        A rule on listed actions names the one it judged, with that action's own evidence (not whatever scored
        highest); a ``*`` rule names the label the person is shown with (``data['display_label']``) and its
        evidence, so an alert never claims more than the box does.
        """
        data = record.detections.data
        if ANY_ACTION in rule.actions and DISPLAY_LABEL in data and DISPLAY_CONFIDENCE in data:
            return data[DISPLAY_LABEL], data[DISPLAY_CONFIDENCE]
        return judged[0], judged[1]

    @staticmethod
    def _zone_of(rule: RuleConfig, membership: dict[str, np.ndarray], i: int) -> str | None:
        for name in rule.zones:
            if membership[name][i]:
                return name
        return None

    def _step(self, track_id: int, r: int, holds: bool, obs: _Observation) -> tuple[AlertEvent | None, bool]:
        """Advance one (track, rule) state by one frame; return a new event (if any) and whether it is active."""
        key = (track_id, r)
        state = self._states.get(key)
        if state is None:
            if not holds:
                return None, False
            state = self._states[key] = _RuleState()
        rule = self.rules[r]
        t = obs.timestamp
        event = None
        if holds:
            state.last = obs
            state.false_since = None
            if state.since is None:
                state.since = t
            if state.alert is None and t - state.since >= rule.min_duration_s and t >= state.cooldown_until:
                state.alert = event = self._event(ALERT_START, rule, track_id, obs)
                state.peak = obs.confidence
                self.alerts_started += 1
            elif state.alert is not None:
                state.peak = max(state.peak, obs.confidence)
        else:
            state.since = None
            if state.alert is not None:
                if state.false_since is None:
                    state.false_since = t
                if t - state.false_since >= rule.end_grace_s:
                    event = self._close(state, rule, obs, "condition_cleared")
            elif t >= state.cooldown_until:
                del self._states[key]  # nothing left to remember
                return None, False
        return event, state.alert is not None

    def _event(self, kind: str, rule: RuleConfig, track_id: int, obs: _Observation) -> AlertEvent:
        extra: dict[str, object] = {}
        if rule.crossing is not None:  # which line, and (on the start) which way the person crossed it
            extra = {"line": rule.crossing.line} | ({"direction": obs.crossed} if obs.crossed else {})
        return AlertEvent(
            type=kind,  # type: ignore[arg-type]
            alert_id=uuid.uuid4().hex[:12],
            camera=self.camera,
            rule=rule.name,
            severity=rule.severity,
            track_id=track_id,
            action=obs.action,
            confidence=round(obs.confidence, 4),
            zone=obs.zone,
            timestamp=round(obs.timestamp, 3),
            wall_time=obs.wall_time,
            frame_index=obs.frame_index,
            box=obs.box,
            extra=extra,
        )

    def _close(self, state: _RuleState, rule: RuleConfig, obs: _Observation, reason: str) -> AlertEvent:
        start = state.alert
        assert start is not None
        end = self._event(ALERT_END, rule, start.track_id, obs)
        end.alert_id = start.alert_id
        end.started_at = start.timestamp
        end.duration_s = round(obs.timestamp - start.timestamp, 3)
        end.peak_confidence = round(state.peak, 4)
        end.reason = reason
        state.alert = None
        state.since = None
        state.false_since = None
        state.cooldown_until = obs.timestamp + rule.cooldown_s
        return end

    def _end_track(self, track_id: int, record: FrameRecord, reason: str) -> list[AlertEvent]:
        events = []
        for key in [k for k in self._states if k[0] == track_id]:
            state = self._states.pop(key)
            if state.alert is not None and state.last is not None:
                last = state.last
                obs = _Observation(
                    last.action,
                    last.confidence,
                    last.zone,
                    last.box,
                    record.timestamp,
                    record.wall_time,
                    record.index,
                )
                events.append(self._close(state, self.rules[key[1]], obs, reason))
        return events

    def close_all(self, record: FrameRecord, reason: str = "shutdown") -> list[AlertEvent]:
        """End every active alert (at ``record``'s time) and forget all state."""
        events = []
        for track_id in sorted({k[0] for k in self._states}):
            events += self._end_track(track_id, record, reason)
        self._states.clear()
        return events

    def __len__(self) -> int:
        return len(self._states)


def _crossed(crossed: set[tuple[int, str, str]], track_id: int, line: str, direction: str) -> bool:
    """Whether the track crossed ``line`` on this frame in ``direction`` ("in", "out" or "any")."""
    if direction == "any":
        return (track_id, line, "in") in crossed or (track_id, line, "out") in crossed
    return (track_id, line, direction) in crossed


def _judges_unseen(rule: RuleConfig) -> bool:
    """Whether ``rule`` judges a person the detector lost and the fall stage holds as still down
    (``data['unseen']``): a rule on ``fallen`` or on any action. For every other rule the held person is absent,
    so a fighter missed for one frame while judged down keeps their fighting rule's duration running."""
    return FALLEN in rule.actions or ANY_ACTION in rule.actions
