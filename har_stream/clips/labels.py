"""Read a folder of labelled clips: ``labels.csv`` with at least ``file,label`` (``group`` and ``start_s``, the
media time the labelled action starts, optional)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path


class ClipLabelError(ValueError):
    """``labels.csv`` is missing, lacks a column, or names a clip that is not there; says which line."""


@dataclass(frozen=True)
class LabelledClip:
    """One clip: its file name, label, recording group (the file name when there is no ``group`` column) and,
    when ``labels.csv`` gives it, the media time in seconds at which the labelled action starts."""

    file: str
    label: str
    group: str
    path: Path
    start_s: float | None = None


def read_clip_labels(folder: str | Path) -> list[LabelledClip]:
    """The clips listed in ``folder/labels.csv``, in file order; other columns are ignored."""
    folder = Path(folder)
    labels = folder / "labels.csv"
    if not labels.is_file():
        raise ClipLabelError(f"{folder}: no labels.csv (expected columns file,label and optionally group)")
    with labels.open(newline="") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        missing = [c for c in ("file", "label") if c not in columns]
        if missing:
            raise ClipLabelError(f"{labels}: missing column(s) {', '.join(missing)} (has: {', '.join(columns)})")
        clips = []
        for line, row in enumerate(reader, start=2):
            name, label = (row.get("file") or "").strip(), (row.get("label") or "").strip()
            if not name or not label:
                raise ClipLabelError(f"{labels}, line {line}: empty file or label")
            path = folder / name
            if not path.is_file():
                raise ClipLabelError(f"{labels}, line {line}: {name} is not in {folder}")
            group = (row.get("group") or "").strip() or name
            clips.append(LabelledClip(name, label, group, path, _start_s(row.get("start_s"), labels, line)))
    if not clips:
        raise ClipLabelError(f"{labels}: lists no clips")
    return clips


def _start_s(value: str | None, labels: Path, line: int) -> float | None:
    """The optional ``start_s`` column: blank means unknown; otherwise a finite number of seconds, at least 0."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        start = float(text)
    except ValueError:
        raise ClipLabelError(f"{labels}, line {line}: start_s {text!r} is not a number of seconds") from None
    if not (start >= 0 and start != float("inf")):
        raise ClipLabelError(f"{labels}, line {line}: start_s must be a finite number of seconds, at least 0")
    return start
