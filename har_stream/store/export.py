"""Reviewed alerts as labelled clips: each reviewed alert's clip copied into a folder with ``labels.csv``
(``file,label,group,start_s``), the format training and ``clips evaluate-video`` read.

A confirmed alert is labelled with its action, a false alarm ``none``. The group is the camera (or camera and
day), so a split by group keeps one camera's clips together. ``start_s`` is where the alert starts in its clip,
when the clip's lead-in (``media.clip_pre_s``) is known: serve opens a clip that many seconds before its first
alert (less at the very start of a source), and later alerts in the same clip start later in it.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from har_stream.rules.events import Alert

log = logging.getLogger(__name__)

GroupBy = Literal["camera", "camera-day"]
#: The label of a clip showing none of the actions (what evaluate-video and training call it).
NONE_LABEL = "none"


class ExportError(ValueError):
    """Nothing can be exported (no reviewed alerts, no clip files) or the output folder is in the way."""


@dataclass
class ExportSummary:
    """What an export wrote and what it skipped (alert id and why)."""

    out: Path
    rows: list[dict[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def labels(self) -> Path:
        """The labels.csv written."""
        return self.out / "labels.csv"


def label_of(alert: Alert) -> str:
    """The training label a review gives: the alert's action when confirmed, ``none`` for a false alarm."""
    return alert.action if alert.review == "confirmed" else NONE_LABEL


def export_reviewed(
    reviewed: Sequence[Alert],
    media: Path,
    out: Path,
    *,
    lookup: Callable[[str], Alert | None],
    pre_s: float | None = None,
    group_by: GroupBy = "camera",
    overwrite: bool = False,
) -> ExportSummary:
    """Copy each reviewed alert's clip from ``media`` to ``out`` and write ``out/labels.csv``.

    ``lookup`` finds an alert by id (the first alert of a shared clip, for ``start_s``). Alerts without a clip
    file are skipped with a warning; raises :class:`ExportError` when nothing is left to export.
    """
    if not reviewed:
        raise ExportError("no reviewed alerts: review alerts on the events page (or POST /api/events/{id}/review)")
    if (out / "labels.csv").exists() and not overwrite:
        raise ExportError(f"{out / 'labels.csv'} exists: choose another --out or pass --overwrite")
    summary = ExportSummary(out)
    planned: list[tuple[Path, str, Alert]] = []
    for alert in reviewed:
        source = _inside(media, alert.clip) if alert.clip else None
        if source is None or not source.is_file():
            why = (
                "no clip was saved"
                if alert.clip is None
                else f"clip file missing or outside the media folder: {source}"
            )
            log.warning("skipping alert %s (%s): %s", alert.alert_id, alert.camera, why)
            summary.skipped.append((alert.alert_id, why))
            continue
        planned.append((source, f"{_safe(alert.camera)}_{_safe(alert.alert_id)}{source.suffix}", alert))
    if not planned:
        raise ExportError(f"none of the {len(reviewed)} reviewed alerts has its clip file under {media}")
    out.mkdir(parents=True, exist_ok=True)
    for source, name, alert in planned:
        shutil.copyfile(source, out / name)
        start = _start_in_clip(alert, lookup, pre_s)
        summary.rows.append(
            {
                "file": name,
                "label": label_of(alert),
                "group": _group(alert, group_by),
                "start_s": "" if start is None else f"{start:.3f}",
            }
        )
    with summary.labels.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["file", "label", "group", "start_s"])
        writer.writeheader()
        writer.writerows(summary.rows)
    return summary


def _inside(media: Path, relative: str) -> Path | None:
    """``media / relative`` when it really lies inside ``media`` (symlinks followed), else None: a stored path
    is data, and the export copies only media files."""
    base = media.resolve()
    candidate = (base / relative).resolve()
    return candidate if candidate.is_relative_to(base) else None


def _start_in_clip(alert: Alert, lookup: Callable[[str], Alert | None], pre_s: float | None) -> float | None:
    """Seconds from the clip's first frame to the alert's start, or None when the lead-in is unknown."""
    if pre_s is None or alert.clip is None:
        return None
    first = lookup(Path(alert.clip).stem) or alert  # a clip is named after the first alert it holds
    clip_start = first.media_time - min(pre_s, max(0.0, first.media_time))
    return max(0.0, alert.media_time - clip_start)


def _group(alert: Alert, group_by: GroupBy) -> str:
    if group_by == "camera-day":
        return f"{alert.camera}_{dt.datetime.fromtimestamp(alert.started_at, dt.UTC):%Y-%m-%d}"
    return alert.camera


def _safe(text: str) -> str:
    """A file-name-safe version of a camera name or alert id."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)
