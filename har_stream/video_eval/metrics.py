"""Clip-level figures per flagged action: rank-based AUROC, alert recall and false-alarm rates, time to alert."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from har_stream.video_eval.clip_result import ClipResult
from har_stream.video_eval.uncertainty import group_bootstrap, wilson_interval

#: The label of clips in which nothing worth an alert happens (the headline false-alarm figure).
NONE_LABEL = "none"


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of ``values`` in ascending order; tied values share the mean of their ranks."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.arange(1, len(values) + 1)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return sums[inverse] / counts[inverse]


def auroc(scores: Sequence[float] | np.ndarray, positive: Sequence[bool] | np.ndarray) -> float | None:
    """Area under the ROC curve: the chance a random positive outscores a random negative (ties count half).

    None when there are no positives or no negatives.
    """
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = average_ranks(scores)
    u = ranks[positive].sum() - n_pos * (n_pos + 1) / 2  # Mann-Whitney U of the positives
    return float(u / (n_pos * n_neg))


def roc_points(
    scores: Sequence[float] | np.ndarray, positive: Sequence[bool] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates at every distinct threshold, from (0, 0) to (1, 1).

    Tied scores move both rates at once (a diagonal step), so the area under these points equals :func:`auroc`.
    """
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    n_pos, n_neg = max(int(positive.sum()), 1), max(int((~positive).sum()), 1)
    thresholds = np.unique(scores)[::-1]
    tpr = [0.0] + [float((positive & (scores >= t)).sum()) / n_pos for t in thresholds]
    fpr = [0.0] + [float((~positive & (scores >= t)).sum()) / n_neg for t in thresholds]
    return np.asarray(fpr), np.asarray(tpr)


def _share(flags: list[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def action_summary(clips: Sequence[ClipResult], action: str) -> dict[str, Any]:
    """Figures for one action over the clips that were evaluated (clips with an error are left out).

    A clip is positive when its label shows ``action`` (its own name; ``falling`` for ``fallen``); every other
    label is a negative. The time to alert counts
    from the start of the action where the labels give it (``start_s``), else from the start of the clip.
    """
    usable = [c for c in clips if c.error is None]
    positives = [c for c in usable if c.shows(action)]
    negatives = [c for c in usable if not c.shows(action)]
    nones = [c for c in usable if c.label == NONE_LABEL]
    times = [c.first_alert_s[action] - (c.start_s or 0.0) for c in positives if action in c.first_alert_s]
    scores = [c.scores.get(action, 0.0) for c in usable]
    is_positive = [c.shows(action) for c in usable]
    caught = sum(c.alerted(action) for c in positives)
    none_alerted = sum(c.alerted(action) for c in nones)
    return {
        "auroc": auroc(scores, is_positive),
        "alert_recall": _share([c.alerted(action) for c in positives]),
        "false_alarm_rate": _share([c.alerted(action) for c in negatives]),
        "false_alarm_rate_none": _share([c.alerted(action) for c in nones]),
        "n_pos": len(positives),
        "n_neg": len(negatives),
        "n_none": len(nones),
        "median_s_to_alert": float(np.median(times)) if times else None,
        # 95% intervals: recording groups resampled for the AUROC, Wilson intervals for the rates
        "auroc_ci95": _rounded(group_bootstrap(auroc, scores, is_positive, [c.group for c in usable])),
        "alert_recall_ci95": _rounded(wilson_interval(caught, len(positives))),
        "false_alarm_rate_none_ci95": _rounded(wilson_interval(none_alerted, len(nones))),
    }


def _rounded(interval: tuple[float, float] | None) -> list[float] | None:
    return None if interval is None else [round(interval[0], 3), round(interval[1], 3)]


def summarize(clips: Sequence[ClipResult], actions: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``{action: figures}`` for every flagged action (see :func:`action_summary`)."""
    return {action: action_summary(clips, action) for action in actions}
