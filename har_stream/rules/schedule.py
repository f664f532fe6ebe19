"""Is a rule's schedule active at a given local time?"""

from __future__ import annotations

import datetime as dt

from har_stream.config.schema import WEEKDAYS, ScheduleConfig


def schedule_active(schedule: ScheduleConfig | None, when: dt.datetime) -> bool:
    """True if ``when`` (local time) falls on a listed day and inside [start, end).

    A window whose end is before its start spans midnight; the part after midnight belongs to the day
    the window started on.
    """
    if schedule is None:
        return True
    now = when.time()
    today = WEEKDAYS[when.weekday()]
    if schedule.end == "24:00":
        return today in schedule.days and now >= schedule.start
    if schedule.start < schedule.end:
        return today in schedule.days and schedule.start <= now < schedule.end
    # Overnight window, e.g. 22:00 to 06:00.
    yesterday = WEEKDAYS[(when.weekday() - 1) % 7]
    return (today in schedule.days and now >= schedule.start) or (yesterday in schedule.days and now < schedule.end)
