"""Split labelled clips into train / val / test by recording group, reproducibly (fixed seed).

Every clip of a group lands in the same part, so scene and people never straddle the split. Groups are taken in
a seeded random order and each goes to the part that is furthest below its share of the group's labels, so every
part gets about its share of each label.
"""

from __future__ import annotations

import collections
import csv
from pathlib import Path

import numpy as np

from har_stream.clips.labels import LabelledClip

PARTS = ("train", "val", "test")
DEFAULT_FRACTIONS = {"train": 0.6, "val": 0.15, "test": 0.25}


def split_clips_by_group(
    clips: list[LabelledClip],
    seed: int = 0,
    fractions: dict[str, float] | None = None,
    pinned: dict[str, str] | None = None,
) -> dict[str, str]:
    """``{file: part}``; ``pinned`` puts named groups in a given part before the rest are shared out."""
    fractions = fractions or DEFAULT_FRACTIONS
    pinned = pinned or {}
    for group, part in pinned.items():
        if part not in PARTS:
            raise ValueError(f"pinned group {group!r}: part must be one of {', '.join(PARTS)}, not {part!r}")
    by_group: dict[str, list[LabelledClip]] = collections.defaultdict(list)
    for clip in clips:
        by_group[clip.group].append(clip)
    unknown = sorted(set(pinned) - set(by_group))
    if unknown:
        raise ValueError(f"pinned group(s) not in the clips: {', '.join(unknown)}")
    totals = collections.Counter(clip.label for clip in clips)
    have: dict[str, collections.Counter[str]] = {part: collections.Counter() for part in PARTS}
    assignment: dict[str, str] = {}
    for group, part in pinned.items():
        assignment[group] = part
        have[part].update(clip.label for clip in by_group[group])
    rng = np.random.default_rng(seed)
    free = sorted(set(by_group) - set(pinned))
    # Big groups first (placed while every part still has room), in a seeded order among equals.
    order = sorted(free, key=lambda g: (-len(by_group[g]), rng.random()))
    for group in order:
        labels = collections.Counter(clip.label for clip in by_group[group])

        def deficit(part: str, labels: collections.Counter[str] = labels) -> float:
            return sum(n * (fractions[part] - have[part][lab] / totals[lab]) for lab, n in labels.items())

        part = max(PARTS, key=deficit)
        assignment[group] = part
        have[part].update(labels)
    return {clip.file: assignment[clip.group] for clip in clips}


def save_clip_split(path: str | Path, clips: list[LabelledClip], split: dict[str, str]) -> Path:
    """Write ``file,label,group,part`` rows."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "label", "group", "part"])
        for clip in clips:
            writer.writerow([clip.file, clip.label, clip.group, split[clip.file]])
    return path


def load_clip_split(path: str | Path) -> dict[str, str]:
    """``{file: part}`` from a saved split; a clear error when the file or its columns are missing."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"clip split {path} does not exist")
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        if not {"file", "part"} <= set(reader.fieldnames or []):
            raise ValueError(f"{path}: a clip split needs columns file and part")
        return {row["file"]: row["part"] for row in reader}
