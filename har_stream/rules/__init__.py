"""Alert rules: zones, schedules, durations, cooldowns and the alert events they produce."""

from __future__ import annotations

from har_stream.rules.engine import RuleEngine
from har_stream.rules.events import ALERT_END, ALERT_START, AlertEvent
from har_stream.rules.schedule import schedule_active
from har_stream.rules.zones import ZoneError, ZoneSet

__all__ = ["ALERT_END", "ALERT_START", "AlertEvent", "RuleEngine", "ZoneError", "ZoneSet", "schedule_active"]
