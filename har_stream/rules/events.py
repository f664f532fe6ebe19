"""Alert records, the one definition of an alert for the rules, the event log, the store, the API and notifiers.

:class:`AlertEvent` is what the rule engine raises: one record when an alert starts, one when it ends. The
event log (JSONL) and the webhook / MQTT message are its :meth:`AlertEvent.to_json`. :class:`Alert` is one
alert from its start to its end, start and end merged: the event store keeps its stored fields as one row,
and the API and live updates serve it (:meth:`Alert.opened_by` and :meth:`Alert.ended_by` say what each
record contributes).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, Field

ALERT_START = "alert_start"
ALERT_END = "alert_end"


@dataclass
class AlertEvent:
    """An alert of one rule for one tracked person starting or ending.

    ``timestamp`` is in the source's clock (media seconds for files, epoch for live); ``wall_time`` is
    epoch seconds. ``action`` is the listed action the rule judged and ``confidence`` that action's evidence
    (for a ``*`` rule: the label the person's box shows, and its evidence). End records carry ``duration_s``,
    ``peak_confidence`` and ``reason`` (``condition_cleared``, ``track_ended`` or ``shutdown``).
    """

    type: Literal["alert_start", "alert_end"]
    alert_id: str
    camera: str
    rule: str
    severity: str
    track_id: int
    action: str
    confidence: float
    zone: str | None
    timestamp: float
    wall_time: float
    frame_index: int
    box: list[float]
    started_at: float | None = None
    duration_s: float | None = None
    peak_confidence: float | None = None
    reason: str | None = None
    snapshot: str | None = None
    extra: dict[str, object] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict with an ISO-8601 ``time`` added; empty fields are left out (``zone`` is always there,
        null for a rule without zones)."""
        data = asdict(self)
        data["time"] = iso_time(self.wall_time)
        if not data["extra"]:
            del data["extra"]
        return {k: v for k, v in data.items() if v is not None or k == "zone"}


def iso_time(epoch: float) -> str:
    """Epoch seconds as ISO 8601 UTC with milliseconds, e.g. ``2026-01-02T03:04:05.678+00:00``."""
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="milliseconds")


def media_url(base_url: str, relative: str) -> str:
    """Absolute URL of a file in the media folder, e.g. ``http://127.0.0.1:8080/media/snapshots/a.jpg``."""
    return f"{base_url.rstrip('/')}/media/{quote(relative)}"


#: Fields of :class:`Alert` computed from the stored ones; the store has no columns for them.
DERIVED_FIELDS = ("time", "active", "snapshot_url", "clip_url")
#: Stored fields an end record sets on the alert's row.
END_FIELDS = ("ended_at", "duration_s", "peak_confidence", "end_reason")
#: Stored fields an operator's review sets.
REVIEW_FIELDS = ("review", "reviewed_by", "reviewed_at", "review_note")
#: What a review says about an alert.
Verdict = Literal["confirmed", "false_alarm"]
VERDICTS: tuple[str, ...] = ("confirmed", "false_alarm")


class Alert(BaseModel):
    """An alert: one person matching one rule, from its start to its end."""

    alert_id: str
    camera: str
    rule: str
    severity: str
    track_id: int
    action: str = Field(description="the action the rule judged; for a '*' rule, the label the person's box showed")
    confidence: float = Field(description="the evidence for that action (0 for unknown)")
    zone: str | None
    started_at: float = Field(description="epoch seconds")
    time: str = Field(description="start time, ISO 8601 UTC")
    media_time: float = Field(description="the source's clock at the start (media seconds for files)")
    frame_index: int
    box: list[float]
    ended_at: float | None
    duration_s: float | None
    peak_confidence: float | None
    end_reason: str | None = Field(description="condition_cleared, track_ended, shutdown or interrupted")
    active: bool
    snapshot_url: str | None
    clip_url: str | None
    review: Verdict | None = Field(
        None, description="an operator's verdict: confirmed or false_alarm (null: unreviewed)"
    )
    reviewed_by: str | None = Field(None, description="the name of the token that reviewed it")
    reviewed_at: float | None = Field(None, description="epoch seconds of the review")
    review_note: str | None = Field(None, description="the reviewer's note")
    # Paths relative to the media folder: stored, not served (the API serves their URLs).
    snapshot: str | None = Field(None, exclude=True)
    clip: str | None = Field(None, exclude=True)

    @classmethod
    def stored_fields(cls) -> tuple[str, ...]:
        """The fields the event store keeps (its columns), in order."""
        return tuple(name for name in cls.model_fields if name not in DERIVED_FIELDS)

    @classmethod
    def from_stored(cls, stored: dict[str, Any]) -> Alert:
        """The alert from its stored fields (a row of the store); the derived fields are computed."""
        snapshot, clip = stored.get("snapshot"), stored.get("clip")
        return cls(
            **stored,
            time=iso_time(stored["started_at"]),
            active=stored.get("end_reason") is None,
            snapshot_url=media_url("", snapshot) if snapshot else None,
            clip_url=media_url("", clip) if clip else None,
        )

    @classmethod
    def opened_by(cls, event: AlertEvent, snapshot: str | None = None) -> dict[str, Any]:
        """The stored fields an alert's start record gives (an end record stands in when the start was lost).

        ``snapshot`` is relative to the media folder; the end fields are left for :meth:`ended_by`.
        """
        if event.type == ALERT_END:  # its start was lost: start time and clock reckoned back from the end
            started_at = float(event.wall_time) - float(event.duration_s or 0.0)
            media_time = float(event.started_at if event.started_at is not None else event.timestamp)
        else:
            started_at, media_time = float(event.wall_time), float(event.timestamp)
        return {
            "alert_id": event.alert_id,
            "camera": event.camera,
            "rule": event.rule,
            "severity": event.severity,
            "track_id": int(event.track_id),
            "action": event.action,
            "confidence": float(event.confidence),
            "zone": event.zone,
            "started_at": started_at,
            "media_time": media_time,
            "frame_index": int(event.frame_index),
            "box": [round(float(v), 1) for v in event.box],
            "snapshot": snapshot,
        }

    @classmethod
    def ended_by(cls, event: AlertEvent) -> dict[str, Any]:
        """The stored fields an alert's end record sets (:data:`END_FIELDS`)."""
        return {
            "ended_at": float(event.wall_time),
            "duration_s": float(event.duration_s or 0.0),
            "peak_confidence": event.peak_confidence,
            "end_reason": event.reason,
        }

    def live_json(self) -> dict[str, Any]:
        """The JSON object live updates send: the served fields plus the stored media paths."""
        return {**self.model_dump(mode="json"), "snapshot": self.snapshot, "clip": self.clip}

    # Read access by key, as when a stored alert was a plain dict (scripts outside the package still read it so).
    def __getitem__(self, key: str) -> Any:
        if key not in type(self).model_fields:
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        """The field ``key``, or ``default`` when there is no such field."""
        return getattr(self, key) if key in type(self).model_fields else default
