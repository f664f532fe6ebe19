"""Read an action image folder (``labels.csv`` + ``images/``), validate it, and split it reproducibly.

The folder format is the one of ``../shared/data/har``: ``labels.csv`` with a ``filename,label`` header and
the images under ``images/``. Labels must be among the 15 actions; unreadable images are reported and skipped.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from har_stream.actions import ACTIONS

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


class DatasetError(ValueError):
    """The dataset folder or its labels file is unusable; the message says where and why."""


@dataclass(frozen=True)
class LabelledImage:
    """One row of ``labels.csv``: the image file and its action label."""

    filename: str
    label: str
    path: Path

    @property
    def class_index(self) -> int:
        """Index of the label in :data:`har_stream.actions.ACTIONS`."""
        return ACTIONS.index(self.label)


def resolve_labels_csv(data: str | Path) -> tuple[Path, Path]:
    """Return ``(labels.csv, images folder)`` for a dataset folder or a labels CSV path."""
    data = Path(data).expanduser()
    csv_path = data / "labels.csv" if data.is_dir() else data
    if not csv_path.is_file():
        raise DatasetError(f"no labels file at {csv_path} (expected a folder with labels.csv and images/)")
    images = csv_path.parent / "images"
    if not images.is_dir():
        raise DatasetError(f"no images folder at {images} (expected next to {csv_path.name})")
    return csv_path, images


def read_labels(data: str | Path) -> list[LabelledImage]:
    """Read and validate ``labels.csv``: known labels only, files present; raise :class:`DatasetError` otherwise."""
    csv_path, images = resolve_labels_csv(data)
    rows: list[LabelledImage] = []
    bad_labels: list[str] = []
    missing: list[str] = []
    with csv_path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"filename", "label"} <= set(reader.fieldnames):
            raise DatasetError(f"{csv_path}: the header must name 'filename' and 'label', got {reader.fieldnames}")
        for line, row in enumerate(reader, start=2):
            filename, label = (row["filename"] or "").strip(), (row["label"] or "").strip()
            if label not in ACTIONS:
                bad_labels.append(f"line {line}: {label!r}")
                continue
            path = images / filename
            if not path.is_file():
                missing.append(f"line {line}: {filename}")
                continue
            rows.append(LabelledImage(filename, label, path))
    if bad_labels:
        shown = "; ".join(bad_labels[:5]) + (f"; ... ({len(bad_labels)} in all)" if len(bad_labels) > 5 else "")
        raise DatasetError(f"{csv_path}: labels that are not one of the 15 actions ({', '.join(ACTIONS)}): {shown}")
    if missing:
        log.warning("%s: %d listed images are missing and skipped (%s)", csv_path, len(missing), missing[0])
    if not rows:
        raise DatasetError(f"{csv_path}: no usable images")
    return rows


def load_bgr(path: Path) -> np.ndarray | None:
    """Decode an image as BGR uint8, or None if it is unreadable (corrupt, truncated or not an image)."""
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None or image.size == 0:
        return None
    return image


def content_hash(path: Path) -> str:
    """SHA-1 of the file bytes: exact duplicates share it."""
    return hashlib.sha1(path.read_bytes()).hexdigest()


def stratified_split(
    rows: list[LabelledImage], seed: int = 42, fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)
) -> dict[str, str]:
    """Assign every filename to train/val/test, stratified by label, exact duplicates kept on one side.

    Duplicate groups (same bytes) move together; a group is filed under its most common label.
    """
    groups: dict[str, list[LabelledImage]] = defaultdict(list)
    for row in rows:
        groups[content_hash(row.path)].append(row)
    by_label: dict[str, list[list[LabelledImage]]] = defaultdict(list)
    for members in groups.values():
        labels = [m.label for m in members]
        by_label[max(set(labels), key=labels.count)].append(members)
    rng = np.random.default_rng(seed)
    assignment: dict[str, str] = {}
    for label in sorted(by_label):
        label_groups = sorted(by_label[label], key=lambda g: g[0].filename)
        order = rng.permutation(len(label_groups))
        total = sum(len(g) for g in label_groups)
        counts = dict.fromkeys(SPLITS, 0)
        for index in order:
            group = label_groups[index]
            # Fill val and test to their share first, the rest goes to train.
            split = "train"
            for candidate, fraction in zip(("val", "test"), fractions[1:], strict=True):
                # Every class with 3 or more images gets at least one val and one test image.
                share = max(1, round(fraction * total)) if total >= 3 else round(fraction * total)
                if counts[candidate] + len(group) <= share:
                    split = candidate
                    break
            counts[split] += len(group)
            for member in group:
                assignment[member.filename] = split
    return assignment


def save_split(assignment: dict[str, str], rows: list[LabelledImage], path: Path) -> None:
    """Write the split as CSV (filename,label,split)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["filename", "label", "split"])
        for row in rows:
            writer.writerow([row.filename, row.label, assignment[row.filename]])


def load_split(path: Path) -> dict[str, str]:
    """Read a split written by :func:`save_split`."""
    with path.open(newline="", encoding="utf-8") as handle:
        return {row["filename"]: row["split"] for row in csv.DictReader(handle)}


def split_parts(
    split_file: Path, data: str | Path, names: tuple[str, ...], hint: str = ""
) -> dict[str, list[LabelledImage]]:
    """The labelled images of ``data`` in each named part of the split saved at ``split_file``; a
    :class:`DatasetError` names the parts that hold none of them (followed by ``hint``)."""
    split = load_split(split_file)
    rows = [r for r in read_labels(data) if r.filename in split]
    parts = {name: [r for r in rows if split[r.filename] == name] for name in names}
    empty = [name for name, part in parts.items() if not part]
    if empty:
        where = f"{split_file} puts none of the images of {data} in the {', '.join(empty)} split"
        raise DatasetError(f"{where}: {hint}" if hint else where)
    return parts
