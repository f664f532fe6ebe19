"""Label harvested CCTV person crops for training: background classes for ordinary people, served fighting.

Clips are labelled per clip, so crops get per-person labels from what the tracker and pose say:

- In clips with no flagged action (label ``none`` or ``walking``): a person moving at least
  ``WALKING_SPEED`` box heights per second (median over +-0.5 s) is ``walking``; one moving less than
  ``STILL_SPEED`` is ``standing`` when hips, knees and ankles are seen with the legs stretched below the
  torso, else ``other`` (sitting, crouching, lying, occluded). Speeds in between are left out (ambiguous).
- In ``fighting`` clips: a person whose box touches or nearly touches another person's box on at least half
  of their frames is ``fighting`` (a fight clip has at least one fighting pair; bystanders far from everyone
  are left out, never labelled background).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from har_stream.geometry import box_gaps
from har_stream.training.harvest import ClipTracks

WALKING_SPEED = 0.12
STILL_SPEED = 0.06
NEAR_GAP = 0.3  # box gap, in the person's box heights, that counts as touching
QUIET_LABELS = ("none", "walking")

_SHOULDERS, _HIPS, _KNEES, _ANKLES = (5, 6), (11, 12), (13, 14), (15, 16)


@dataclass(frozen=True)
class HarvestedCrop:
    """A crop file with the per-person label given to it, and where it came from."""

    path: Path
    label: str
    clip: str
    group: str
    part: str


def smoothed_speed(tracks: ClipTracks, track_id: int, frame: int, half_window_s: float = 0.5) -> float:
    """Median tracker speed of a track within ``half_window_s`` of ``frame``."""
    mine = tracks.track_id == track_id
    t = tracks.timestamp[mine & (tracks.frame == frame)]
    if len(t) == 0:
        return float("nan")
    near = mine & (np.abs(tracks.timestamp - t[0]) <= half_window_s)
    return float(np.median(tracks.speed[near]))


def legs_stretched(keypoints: np.ndarray, min_conf: float = 0.3) -> bool | None:
    """True when the ankles hang well below the hips (standing), False when bent, None when not seen."""
    conf = keypoints[:, 2]
    needed = [*_SHOULDERS, *_HIPS, *_KNEES, *_ANKLES]
    if (conf[needed] < min_conf).any():
        return None
    y = keypoints[:, 1]
    torso = float(np.mean(y[list(_HIPS)]) - np.mean(y[list(_SHOULDERS)]))
    legs = float(np.mean(y[list(_ANKLES)]) - np.mean(y[list(_HIPS)]))
    if torso <= 1:
        return None
    return legs >= 1.1 * torso


def near_someone(tracks: ClipTracks, row: int) -> bool:
    """Whether the person of detection ``row`` touches or nearly touches another person's box on that frame."""
    same = np.flatnonzero((tracks.frame == tracks.frame[row]) & (np.arange(len(tracks.frame)) != row))
    if len(same) == 0:
        return False
    box = tracks.box[row]
    gap = NEAR_GAP * max(1.0, box[3] - box[1])
    others = tracks.box[same]
    dx, dy = box_gaps(box, others)
    return bool(((dx <= gap) & (dy <= gap)).any())


def label_for(tracks: ClipTracks, clip_label: str, track_id: int, frame: int) -> str | None:
    """The per-person training label of one harvested crop (None: leave it out)."""
    rows = np.flatnonzero((tracks.track_id == track_id) & (tracks.frame == frame))
    if len(rows) == 0:
        return None
    row = int(rows[0])
    if clip_label == "fighting":
        mine = np.flatnonzero(tracks.track_id == track_id)
        share = np.mean([near_someone(tracks, int(r)) for r in mine])
        return "fighting" if share >= 0.5 and near_someone(tracks, row) else None
    if clip_label not in QUIET_LABELS:
        return None
    speed = smoothed_speed(tracks, track_id, frame)
    if speed >= WALKING_SPEED:
        return "walking"
    if speed < STILL_SPEED:
        return "standing" if legs_stretched(tracks.keypoints[row]) else "other"
    return None


def labelled_crops(harvest: Path, parts: tuple[str, ...]) -> list[HarvestedCrop]:
    """Every harvested crop of the given split parts that gets a label, in file order."""
    crops: list[HarvestedCrop] = []
    cache: dict[str, ClipTracks] = {}
    with (harvest / "crops.csv").open() as handle:
        for row in csv.DictReader(handle):
            if row["part"] not in parts or not row["crop"]:
                continue
            stem = Path(row["clip"]).stem
            if stem not in cache:
                cache = {stem: ClipTracks.load(harvest / "tracks" / f"{stem}.npz")}
            label = label_for(cache[stem], row["label"], int(row["track_id"]), int(row["frame"]))
            if label is not None:
                crops.append(
                    HarvestedCrop(harvest / "crops" / row["crop"], label, row["clip"], row["group"], row["part"])
                )
    return crops
