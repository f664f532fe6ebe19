"""Alert records: one when an alert starts, one when it ends."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Literal

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
        data["time"] = dt.datetime.fromtimestamp(self.wall_time, dt.UTC).isoformat(timespec="milliseconds")
        if not data["extra"]:
            del data["extra"]
        return {k: v for k, v in data.items() if v is not None or k == "zone"}
