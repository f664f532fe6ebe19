"""Read a folder of labelled clips: ``labels.csv`` with at least ``file,label`` (``group`` optional)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path


class ClipLabelError(ValueError):
    """``labels.csv`` is missing, lacks a column, or names a clip that is not there; says which line."""


@dataclass(frozen=True)
class LabelledClip:
    """One clip: its file name, label, recording group (the file name when there is no ``group`` column)."""

    file: str
    label: str
    group: str
    path: Path


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
            clips.append(LabelledClip(name, label, group, path))
    if not clips:
        raise ClipLabelError(f"{labels}: lists no clips")
    return clips
