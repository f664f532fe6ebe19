"""The one label each person is shown with, chosen once a frame: the overlay draws it, ``*`` rules name it.

A person is shown with an action only when the evidence for it (its column of ``data['action_scores']``, the
value rules compare with ``min_confidence``; the smoothed confidence where there is no column) reaches
``render.min_label_confidence``: the smoothed label if it does, else the best-scoring action if that one does.
Otherwise the person is shown as ordinary, with the best of the background actions (walking, standing, other)
when the classifier scores them, or with ``unknown``: the box then shows the track id alone.
"""

from __future__ import annotations

import numpy as np
import supervision as sv

from har_stream.actions import BACKGROUND_ACTIONS, UNKNOWN_ACTION
from har_stream.frame import ACTION, ACTION_CONFIDENCE, ACTION_SCORES, DISPLAY_CONFIDENCE, DISPLAY_LABEL, FrameRecord


def display_labels(
    detections: sv.Detections, classes: tuple[str, ...], min_confidence: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per person: the label to show (str) and the evidence for it (0 for ``unknown``)."""
    n = len(detections)
    labels = detections.data.get(ACTION, np.full(n, UNKNOWN_ACTION, dtype=object))
    confidences = detections.data.get(ACTION_CONFIDENCE, np.zeros(n, dtype=np.float32))
    scores = detections.data.get(ACTION_SCORES)
    if scores is not None and scores.shape[1:] != (len(classes),):
        scores = None  # columns without names: judge the smoothed label alone
    if scores is not None:
        scores = np.nan_to_num(scores, nan=0.0)
    background = [classes.index(a) for a in BACKGROUND_ACTIONS if a in classes] if scores is not None else []
    shown = np.full(n, UNKNOWN_ACTION, dtype=object)
    evidence = np.zeros(n, dtype=np.float32)
    for i in range(n):
        label = str(labels[i])
        if label != UNKNOWN_ACTION:
            score = float(scores[i, classes.index(label)]) if scores is not None and label in classes else None
            candidates = [(label, float(confidences[i]) if score is None else score)]
        else:
            candidates = []
        if scores is not None and len(classes) and scores[i].max() > 0:  # scored at least once
            top = int(np.argmax(scores[i]))
            candidates.append((classes[top], float(scores[i, top])))
        passed = [(a, s) for a, s in candidates if s >= min_confidence]
        if passed:
            shown[i], evidence[i] = passed[0]
        elif background:
            best = background[int(np.argmax(scores[i, background]))]
            if scores[i, best] > 0:  # classified at least once
                shown[i], evidence[i] = classes[best], scores[i, best]
    return shown, evidence


class PersonLabeler:
    """Pipeline stage (after temporal, before rules and render): sets ``data['display_label']`` and
    ``data['display_confidence']``."""

    def __init__(self, min_confidence: float) -> None:
        self.min_confidence = min_confidence

    def __call__(self, record: FrameRecord) -> FrameRecord:
        """Label every person of ``record``."""
        detections = record.detections
        detections.data[DISPLAY_LABEL], detections.data[DISPLAY_CONFIDENCE] = display_labels(
            detections, record.action_classes, self.min_confidence
        )
        return record
