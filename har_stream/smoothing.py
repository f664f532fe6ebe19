"""Per-track temporal smoothing of action probabilities, with hysteresis so labels do not flicker."""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

import numpy as np

from har_stream.actions import UNKNOWN_ACTION
from har_stream.config.schema import SmoothingConfig
from har_stream.frame import ACTION, ACTION_CONFIDENCE, ACTION_PROBS, ACTION_SCORES, FrameRecord


@dataclass
class _TrackLabel:
    scores: np.ndarray
    label: int
    window: collections.deque[np.ndarray] = field(default_factory=collections.deque)


class ActionSmoother:
    """Turns each track's sporadic classifications into a steady label and confidence.

    ``ema``: scores are an exponential moving average of probability rows. ``vote``: scores are the
    share of the last ``window`` classifications won by each class. Either way the label changes only
    when another class's score beats the current label's by ``switch_margin``.
    """

    def __init__(self, config: SmoothingConfig, classes: tuple[str, ...]) -> None:
        self.config = config
        self.classes = classes
        self._tracks: dict[int, _TrackLabel] = {}

    def update(self, track_id: int, probs: np.ndarray) -> tuple[str, float]:
        """Feed one classification of ``track_id``; return its smoothed (label, confidence)."""
        state = self._tracks.get(track_id)
        if self.config.method == "vote":
            vote = np.zeros_like(probs)
            vote[int(np.argmax(probs))] = 1.0
            window = state.window if state is not None else collections.deque(maxlen=self.config.window)
            window.append(vote)
            scores = np.mean(window, axis=0)
        else:
            window = collections.deque()
            a = self.config.alpha
            scores = probs.copy() if state is None else a * probs + (1 - a) * state.scores
        best = int(np.argmax(scores))
        if state is None or (best != state.label and scores[best] >= scores[state.label] + self.config.switch_margin):
            label = best
        else:
            label = state.label
        self._tracks[track_id] = _TrackLabel(scores, label, window)
        return self.classes[label], float(scores[label])

    def current(self, track_id: int) -> tuple[str, float]:
        """The track's label and confidence without new evidence (``unknown``, 0 if never classified)."""
        state = self._tracks.get(track_id)
        if state is None:
            return UNKNOWN_ACTION, 0.0
        return self.classes[state.label], float(state.scores[state.label])

    def scores(self, track_id: int) -> np.ndarray | None:
        """The track's smoothed score per class (None if never classified)."""
        state = self._tracks.get(track_id)
        return None if state is None else state.scores

    def forget(self, track_ids: list[int]) -> None:
        """Drop ended tracks."""
        for track_id in track_ids:
            self._tracks.pop(track_id, None)

    def __len__(self) -> int:
        return len(self._tracks)

    def __call__(self, record: FrameRecord) -> FrameRecord:
        """Pipeline stage: set ``data['action']``, ``data['action_confidence']`` and ``data['action_scores']``.

        ``action_scores`` holds every class's smoothed score (zeros for people never classified); its columns
        are named by ``record.action_classes``. Rules judge a listed action by its score there.
        """
        self.forget(record.ended_tracks)
        detections = record.detections
        n = len(detections)
        labels = np.full(n, UNKNOWN_ACTION, dtype=object)
        confidences = np.zeros(n, dtype=np.float32)
        scores = np.zeros((n, len(self.classes)), dtype=np.float32)
        probs = detections.data.get(ACTION_PROBS)
        for i in range(n):
            track_id = int(detections.tracker_id[i])
            row = probs[i] if probs is not None else None
            if row is not None and not np.isnan(row[0]):
                labels[i], confidences[i] = self.update(track_id, row)
            else:
                labels[i], confidences[i] = self.current(track_id)
            smoothed = self.scores(track_id)
            if smoothed is not None:
                scores[i] = smoothed
        detections.data[ACTION] = labels
        detections.data[ACTION_CONFIDENCE] = confidences
        detections.data[ACTION_SCORES] = scores
        record.action_classes = self.classes
        return record
