"""Pipeline stage: each tracked person's ``fallen`` evidence (:mod:`har_stream.temporal.falls`) and how long they
have been down, for the rules (``actions: [fallen]``) and the overlay ("fallen 12 s")."""

from __future__ import annotations

import numpy as np

from har_stream.actions import FALLEN
from har_stream.config.schema import FallsConfig
from har_stream.frame import ACTION, ACTION_CONFIDENCE, ACTION_SCORES, DOWN_SECONDS, KEYPOINTS, FrameRecord
from har_stream.temporal.falls import FallSettings, FallWatch


class FallStage:
    """Adds the ``fallen`` column to ``data['action_scores']`` and ``data['down_s']`` (seconds down, NaN: not
    down); a fallen person's label becomes ``fallen`` while its evidence beats the label's."""

    def __init__(self, config: FallsConfig) -> None:
        self.config = config
        self.watch = FallWatch(FallSettings(getting_up_s=config.getting_up_s)) if config.enabled else None

    def forget(self, track_ids: list[int]) -> None:
        """Drop these tracks now (the camera went down). Tracks the tracker ends while frames flow are kept for
        a moment on their own: a fall often breaks a track in two, and the new one takes the old one's history."""
        if self.watch is not None:
            self.watch.forget(track_ids)

    def __call__(self, record: FrameRecord) -> FrameRecord:
        """Pipeline stage."""
        if self.watch is None:
            return record
        det = record.detections
        n = len(det)
        ids = det.tracker_id if n else np.zeros(0, dtype=int)
        boxes = det.xyxy if n else np.zeros((0, 4), dtype=np.float32)
        evidence, down_s = self.watch.update(record.timestamp, ids, boxes, det.data.get(KEYPOINTS))
        det.data[DOWN_SECONDS] = down_s
        classes = list(record.action_classes)
        scores = det.data.get(ACTION_SCORES)
        scores = np.zeros((n, len(classes)), dtype=np.float32) if scores is None else scores.copy()  # not in place
        if FALLEN not in classes:
            classes.append(FALLEN)
            scores = np.concatenate([scores, np.zeros((n, 1), dtype=np.float32)], axis=1)
            record.action_classes = tuple(classes)
        scores[:, classes.index(FALLEN)] = evidence
        det.data[ACTION_SCORES] = scores
        labels, confidences = det.data.get(ACTION), det.data.get(ACTION_CONFIDENCE)
        if labels is not None and confidences is not None:
            beats = evidence > confidences
            labels[beats] = FALLEN
            confidences[beats] = evidence[beats]
        return record
