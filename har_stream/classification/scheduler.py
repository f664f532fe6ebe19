"""Decide which tracks to classify on this frame, within a per-frame budget."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import supervision as sv


@dataclass
class _LastRun:
    frame: int
    box: np.ndarray


class ClassificationScheduler:
    """Classifies a track when it is new, every ``every_n_frames`` frames, or when its box changed a lot.

    At most ``max_per_frame`` tracks per frame, never-classified and stalest first. Boxes shorter than
    ``min_box_height`` pixels are skipped.
    """

    def __init__(self, every_n_frames: int, reclassify_iou: float, max_per_frame: int, min_box_height: int) -> None:
        self.every_n_frames = every_n_frames
        self.reclassify_iou = reclassify_iou
        self.max_per_frame = max_per_frame
        self.min_box_height = min_box_height
        self._last: dict[int, _LastRun] = {}
        self._frame = 0

    def select(self, track_ids: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Indices (into ``track_ids``) to classify on this frame; call once per processed frame."""
        self._frame += 1
        candidates: list[tuple[float, int]] = []
        for i, (track_id, box) in enumerate(zip(track_ids.tolist(), boxes, strict=True)):
            if box[3] - box[1] < self.min_box_height:
                continue
            last = self._last.get(track_id)
            if last is None:
                candidates.append((float("inf"), i))
                continue
            age = self._frame - last.frame
            if age >= self.every_n_frames:
                candidates.append((float(age), i))
                continue
            iou = float(sv.box_iou_batch(last.box[None], box[None])[0, 0])
            if iou < self.reclassify_iou:
                candidates.append((float(age) + 0.5, i))
        candidates.sort(key=lambda c: -c[0])
        chosen = np.array([i for _, i in candidates[: self.max_per_frame]], dtype=int)
        for i in chosen.tolist():
            self._last[int(track_ids[i])] = _LastRun(self._frame, boxes[i].copy())
        return chosen

    def forget(self, track_ids: list[int]) -> None:
        """Drop ended tracks."""
        for track_id in track_ids:
            self._last.pop(track_id, None)

    def __len__(self) -> int:
        return len(self._last)
