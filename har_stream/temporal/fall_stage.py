"""Pipeline stage: each tracked person's ``fallen`` evidence (:mod:`har_stream.temporal.falls`) and how long they
have been down, for the rules (``actions: [fallen]``) and the overlay ("fallen 12 s"); a fallen person the detector
loses stays on the record, at their last box, marked ``unseen``."""

from __future__ import annotations

import numpy as np
import supervision as sv

from har_stream.actions import FALLEN
from har_stream.config.schema import FallsConfig
from har_stream.frame import (
    ACTION,
    ACTION_CONFIDENCE,
    ACTION_SCORES,
    DOWN_SECONDS,
    KEYPOINTS,
    UNSEEN,
    FrameRecord,
)
from har_stream.temporal.falls import FallSettings, FallWatch


class FallStage:
    """Adds the ``fallen`` column to ``data['action_scores']``, ``data['down_s']`` (seconds down, NaN: not down)
    and ``data['unseen']``; a fallen person's label becomes ``fallen`` while its evidence beats the label's. Fallen
    people the detector lost are appended as ``unseen`` rows (see :meth:`FallWatch.held`), labelled ``fallen``,
    with no keypoints, speed or classifier output of their own.

    A held track is not over for the stages after this one (its alert goes on): the stage takes it out of
    ``record.ended_tracks`` while it holds it, and puts it there on the frame the hold ends."""

    def __init__(self, config: FallsConfig) -> None:
        self.config = config
        settings = FallSettings(getting_up_s=config.getting_up_s, hold_unseen_s=config.hold_unseen_s)
        self.watch = FallWatch(settings) if config.enabled else None
        self._held: set[int] = set()  # the tracks held unseen on the last frame

    def forget(self, track_ids: list[int]) -> None:
        """Drop these tracks now, and every fallen person held unseen (the camera went down). Tracks the tracker
        ends while frames flow are kept for a moment on their own: a fall often breaks a track in two, and the
        new one takes the old one's history."""
        if self.watch is not None:
            self.watch.forget(track_ids)
        self._held.clear()

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
        det.data[UNSEEN] = np.zeros(n, dtype=bool)
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
        held = self.watch.held(record.timestamp, record.width, record.height)
        if len(held[0]):
            record.detections = _with_held(det, *held, fallen_column=classes.index(FALLEN))
        held_now = {int(tid) for tid in held[0]}
        over = self._held - held_now - {int(tid) for tid in ids}  # holds that ended without the track coming back
        record.ended_tracks = [tid for tid in record.ended_tracks if tid not in held_now] + sorted(over)
        self._held = held_now
        return record


def _with_held(
    det: sv.Detections,
    track_ids: np.ndarray,
    boxes: np.ndarray,
    evidence: np.ndarray,
    down_s: np.ndarray,
    fallen_column: int,
) -> sv.Detections:
    """``det`` with one ``unseen`` row per held fallen person: their last box and id, ``fallen`` evidence and
    seconds down; every other data key empty for them (NaN, 0, False or "")."""
    m = len(track_ids)
    data = {key: _blank_rows(value, m) for key, value in det.data.items()}
    data[DOWN_SECONDS] = down_s.astype(np.float32)
    data[UNSEEN] = np.ones(m, dtype=bool)
    data[ACTION_SCORES] = np.zeros_like(data[ACTION_SCORES])
    data[ACTION_SCORES][:, fallen_column] = evidence
    if ACTION in data:
        data[ACTION] = np.full(m, FALLEN, dtype=det.data[ACTION].dtype)
    if ACTION_CONFIDENCE in data:
        data[ACTION_CONFIDENCE] = evidence.astype(det.data[ACTION_CONFIDENCE].dtype)
    held = sv.Detections(
        xyxy=boxes.astype(det.xyxy.dtype),
        confidence=None if det.confidence is None else np.zeros(m, dtype=det.confidence.dtype),
        class_id=None if det.class_id is None else np.zeros(m, dtype=det.class_id.dtype),
        tracker_id=track_ids.astype(det.tracker_id.dtype) if det.tracker_id is not None else track_ids,
        data=data,
    )
    return sv.Detections.merge([det, held]) if len(det) else held


def _blank_rows(value: np.ndarray, m: int) -> np.ndarray:
    """``m`` empty rows shaped like ``value``'s: NaN for floats, 0 for integers, False, or "" for text."""
    value = np.asarray(value)
    shape = (m, *value.shape[1:])
    if value.dtype.kind == "f":
        return np.full(shape, np.nan, dtype=value.dtype)
    if value.dtype.kind in "OUS":
        return np.full(shape, "", dtype=value.dtype)
    return np.zeros(shape, dtype=value.dtype)
