"""Head side, per camera: each alert event goes to the hub once, and alerts a lost worker left open get ends."""

from __future__ import annotations

import collections
import dataclasses

from har_stream.rules.events import ALERT_END, ALERT_START, AlertEvent

#: End reason of an alert whose camera worker died (process or node) before it could end the alert.
WORKER_LOST = "worker_lost"


class AlertLedger:
    """Remembers which (alert, start|end) events were passed on and which alerts are open, per incarnation.

    ``remember`` bounds the memory of ended alerts: repeats only come within a few polls of the original.
    """

    def __init__(self, remember: int = 50_000) -> None:
        self.remember = remember
        self.duplicates = 0
        self._open: dict[str, tuple[AlertEvent, str]] = {}
        self._ended: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._retired: set[str] = set()

    @property
    def open_alerts(self) -> int:
        """Alerts started and not yet ended."""
        return len(self._open)

    def accept(self, event: AlertEvent, incarnation: str, at: float) -> list[AlertEvent]:
        """The events to pass on for ``event`` from ``incarnation``: none for a repeat, else the event.

        A start from an incarnation already given up as lost is passed on with its ``worker_lost`` end.
        """
        if event.alert_id in self._ended or (event.type == ALERT_START and event.alert_id in self._open):
            self.duplicates += 1
            return []
        if event.type == ALERT_START:
            self._open[event.alert_id] = (event, incarnation)
            if incarnation in self._retired:
                return [event, *self.lost(incarnation, at)]
            return [event]
        self._open.pop(event.alert_id, None)
        self._end(event.alert_id)
        return [event]

    def lost(self, incarnation: str | None, at: float) -> list[AlertEvent]:
        """``worker_lost`` ends (at epoch ``at``) for the open alerts of ``incarnation`` (None: of every one)."""
        if incarnation is not None:
            self._retired.add(incarnation)
        ends = []
        for alert_id, (start, owner) in list(self._open.items()):
            if incarnation is None or owner == incarnation:
                del self._open[alert_id]
                self._end(alert_id)
                ends.append(lost_end(start, at))
        return ends

    def _end(self, alert_id: str) -> None:
        self._ended[alert_id] = None
        while len(self._ended) > self.remember:
            self._ended.popitem(last=False)


def lost_end(start: AlertEvent, at: float) -> AlertEvent:
    """The end record of ``start`` when its worker was lost: last heard of at epoch ``at``."""
    duration = max(0.0, at - start.wall_time)
    return dataclasses.replace(
        start,
        type=ALERT_END,
        timestamp=start.timestamp + duration,
        wall_time=max(at, start.wall_time),
        started_at=start.timestamp,
        duration_s=round(duration, 3),
        peak_confidence=start.confidence,
        reason=WORKER_LOST,
        snapshot=None,
        extra=dict(start.extra),
    )
