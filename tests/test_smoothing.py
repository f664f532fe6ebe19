"""Temporal smoothing with hysteresis: labels follow evidence without flickering."""

from __future__ import annotations

import numpy as np
import pytest

from har_stream.actions import UNKNOWN_ACTION
from har_stream.config import SmoothingConfig
from har_stream.smoothing import ActionSmoother

CLASSES = ("running", "sitting", "fighting")


def probs(**values: float) -> np.ndarray:
    row = np.array([values.get(c, 0.0) for c in CLASSES], dtype=np.float32)
    return row / row.sum()


def labels_for(config: SmoothingConfig, rows: list[np.ndarray]) -> list[str]:
    smoother = ActionSmoother(config, CLASSES)
    return [smoother.update(1, row)[0] for row in rows]


def test_single_noisy_frame_does_not_flip_the_label() -> None:
    rows = (
        [probs(running=0.8, sitting=0.2)] * 5
        + [probs(sitting=0.9, running=0.1)]
        + [probs(running=0.8, sitting=0.2)] * 3
    )
    assert set(labels_for(SmoothingConfig(alpha=0.4), rows)) == {"running"}


def test_sustained_change_switches_the_label() -> None:
    rows = [probs(running=0.8, sitting=0.2)] * 5 + [probs(sitting=0.9, running=0.1)] * 5
    labels = labels_for(SmoothingConfig(alpha=0.4), rows)
    assert labels[0] == "running" and labels[-1] == "sitting"


def test_hysteresis_holds_a_close_second() -> None:
    # Alternating near-ties: without a margin the label would flip back and forth.
    rows = [probs(running=0.52, sitting=0.48), probs(running=0.47, sitting=0.53)] * 5
    no_margin = labels_for(SmoothingConfig(alpha=1.0, switch_margin=0.0), rows)
    with_margin = labels_for(SmoothingConfig(alpha=1.0, switch_margin=0.1), rows)
    assert len(set(no_margin)) == 2
    assert set(with_margin) == {"running"}


def test_vote_window_majority() -> None:
    config = SmoothingConfig(method="vote", window=5, switch_margin=0.0)
    rows = [probs(running=0.9, sitting=0.1)] * 3 + [probs(sitting=0.9, running=0.1)] * 2
    assert labels_for(config, rows)[-1] == "running"
    rows += [probs(sitting=0.9, running=0.1)] * 2
    assert labels_for(config, rows)[-1] == "sitting"


def test_unclassified_track_is_unknown_and_ended_tracks_are_forgotten() -> None:
    smoother = ActionSmoother(SmoothingConfig(), CLASSES)
    assert smoother.current(7) == (UNKNOWN_ACTION, 0.0)
    label, confidence = smoother.update(7, probs(fighting=0.7, running=0.3))
    assert label == "fighting" and confidence == pytest.approx(0.7)
    smoother.forget([7])
    assert len(smoother) == 0 and smoother.current(7) == (UNKNOWN_ACTION, 0.0)
