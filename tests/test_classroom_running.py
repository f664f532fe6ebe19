"""configs/classroom.yaml's running rule on real footage: a runner passing a fixed camera is flagged, walkers are
not. The real detector, tracker, classifier and temporal model, as `har-stream run` uses them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from har_stream.config import load_config
from har_stream.frame import DISPLAY_LABEL, FLAGGED
from har_stream.pipeline import Pipeline
from tests.conftest import REPO, SHARED, alerts_and_flagged

RUNNER = SHARED / "videos" / "kth" / "kth_running_person04_running_d1_uncomp.mp4"  # a man running past, 4 times
WALKERS = (
    SHARED / "videos" / "kth" / "kth_walking_person01_walking_d1.mp4",  # a man walking past, to and fro
    SHARED / "videos" / "cctv" / "surv_nofi044.mp4",  # people walking through a CCTV scene
)
SCHOOL_HOURS = dt.datetime(2026, 12, 8, 10, 0, tzinfo=dt.UTC)  # a Tuesday morning: the rule's schedule is on

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    config = load_config(REPO / "configs" / "classroom.yaml", {"source.start_time": SCHOOL_HOURS.isoformat()})
    return Pipeline(config)


def test_a_runner_is_flagged_red_and_named_running(pipeline: Pipeline) -> None:
    started, flagged = alerts_and_flagged(pipeline, RUNNER)
    assert "running_in_classroom" in started, started
    record = flagged[0]
    shown = record.detections.data[DISPLAY_LABEL][record.detections.data[FLAGGED]]
    assert "running" in set(shown), shown  # the red box says what the alert says


@pytest.mark.parametrize("clip", WALKERS, ids=lambda p: p.stem)
def test_walkers_are_not_flagged(pipeline: Pipeline, clip: Path) -> None:
    started, flagged = alerts_and_flagged(pipeline, clip)
    assert "running_in_classroom" not in started, started
    assert not any(np.any(r.detections.data[DISPLAY_LABEL][r.detections.data[FLAGGED]] == "running") for r in flagged)
