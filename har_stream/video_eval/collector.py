"""The per-frame callback that turns a clip's rendered records into its scores, alerts and peak frames."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from har_stream.frame import ACTION_SCORES, FrameRecord
from har_stream.rules.events import ALERT_START
from har_stream.video_eval.clip_result import ClipResult

#: Width of the stored peak frames (the contact sheet's tile width).
THUMBNAIL_WIDTH = 480


def thumbnail(image: np.ndarray, width: int = THUMBNAIL_WIDTH) -> bytes:
    """``image`` scaled to ``width`` pixels wide (never enlarged), as JPEG bytes."""
    height, current = image.shape[:2]
    if current > width:
        image = cv2.resize(image, (width, max(1, round(height * width / current))), interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 88])
    if not ok:
        raise ValueError("could not encode a peak frame as JPEG")
    return encoded.tobytes()


def frame_scores(record: FrameRecord, actions: Sequence[str]) -> dict[str, float]:
    """Per action, the highest evidence any tracked person on this frame has (0 without people or that column)."""
    scores = record.detections.data.get(ACTION_SCORES)
    out = dict.fromkeys(actions, 0.0)
    if scores is None or len(scores) == 0:
        return out
    for action in actions:
        if action in record.action_classes:
            column = np.asarray(scores)[:, record.action_classes.index(action)]
            out[action] = float(np.nanmax(column)) if np.isfinite(column).any() else 0.0
    return out


class ScoreCollector:
    """``on_frame`` callback: running per-action maximum, its frame, alert starts and the frame count."""

    def __init__(self, result: ClipResult, actions: Sequence[str], thumbnail_width: int = THUMBNAIL_WIDTH) -> None:
        self.result = result
        self.actions = tuple(actions)
        self.thumbnail_width = thumbnail_width
        result.scores = dict.fromkeys(self.actions, 0.0)

    def __call__(self, record: FrameRecord) -> None:
        """Take in one rendered record."""
        result = self.result
        result.frames += 1
        for action, score in frame_scores(record, self.actions).items():
            if action not in result.peak_frames or score > result.scores[action]:
                result.scores[action] = score
                result.peak_frames[action] = thumbnail(record.image, self.thumbnail_width)
        for event in record.alerts:
            if getattr(event, "type", None) != ALERT_START:
                continue
            result.alerts.append(event.action)
            result.first_alert_s.setdefault(event.action, float(event.timestamp))
