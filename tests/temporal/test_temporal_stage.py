"""The temporal stage on real posed tracks: the real detector and tracker on real clips, the shipped ONNX model."""

from __future__ import annotations

import numpy as np
import pytest

from har_stream.config import load_config
from har_stream.frame import ACTION_SCORES, MOTION_SCORES, FrameRecord
from har_stream.pipeline import Pipeline
from har_stream.temporal.model import TemporalModel, load_temporal_model
from har_stream.training.harvest import track_clip
from har_stream.training.temporal_dataset import walking_tracks
from har_stream.training.temporal_stress import kinematic_walker_scores
from tests.conftest import REPO, SHARED, require

CCTV = SHARED / "videos" / "cctv"
FIGHT = "surv_fi015.mp4"  # a fight in a shop, test group
WALKERS = "surv_nofi044.mp4"  # people walking through a CCTV scene, test group
KTH_WALKER = SHARED / "videos" / "kth" / "kth_walking_person01_walking_d1.mp4"  # a man walking past, to and fro

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model() -> TemporalModel:
    loaded = load_temporal_model("default")
    assert loaded is not None, "models/temporal_pose is missing"
    return loaded


def config_weight(action: str) -> float:
    return load_config(REPO / "configs" / "cctv.yaml").temporal.weight_of(action)


def mean_motion(detector_640, model: TemporalModel, clip: str) -> tuple[float, list[FrameRecord]]:
    """The temporal model's fighting probability averaged over every scored person and frame of ``clip``."""
    config = load_config(REPO / "configs" / "cctv.yaml")
    kept: list[FrameRecord] = []
    pipeline = Pipeline(config, detector=detector_640, action_model=None, temporal_model=model)
    pipeline.run(source=str(require(CCTV / clip)), on_frame=kept.append)
    column = model.actions.index("fighting")
    scores = [r.detections.data[MOTION_SCORES][:, column] for r in kept if len(r.detections)]
    values = np.concatenate(scores) if scores else np.zeros(0)
    values = values[np.isfinite(values)]
    return float(values.mean()) if len(values) else 0.0, kept


def test_a_fight_scores_above_people_walking(detector_640, model: TemporalModel) -> None:
    fight, records = mean_motion(detector_640, model, FIGHT)
    walking, _ = mean_motion(detector_640, model, WALKERS)
    assert fight > walking + 0.2, (fight, walking)
    # Without an image classifier the fused evidence is the motion part alone, in a column named for the action.
    last = next(r for r in reversed(records) if len(r.detections))
    assert "fighting" in last.action_classes and "running" in last.action_classes
    for action in ("fighting", "running"):  # each with its own weight (configs/cctv.yaml: 0.5 and 1)
        fused = last.detections.data[ACTION_SCORES][:, last.action_classes.index(action)]
        motion = np.nan_to_num(last.detections.data[MOTION_SCORES][:, model.actions.index(action)])
        assert np.allclose(fused, config_weight(action) * motion, atol=1e-6)
    assert config_weight("fighting") != config_weight("running")


def test_stress_walkers_replayed_at_a_running_speed_score_as_running(detector_640, model: TemporalModel) -> None:
    """Synthetic stress test: walkers at their own speed must not read as running; the same walkers played until
    they move 2.5 body heights a second (a run's speed, with a walk's steadiness and a faster cadence) must."""
    config = load_config(REPO / "configs" / "cctv.yaml")
    tracks, _ = track_clip(require(KTH_WALKER), config, detector_640)
    threshold = next(r.min_confidence for r in config.rules if r.name == "running")
    assert model.running is not None
    walkers = walking_tracks(tracks)
    real = kinematic_walker_scores(tracks, model.running, 1.0, walkers)
    assert len(real) >= 2, "no walkers tracked"
    assert all(s < threshold for s in real.values()), real
    for track in walkers:
        speed_up = 2.5 / float(np.median(tracks.speed[tracks.track_id == track]))
        fast = kinematic_walker_scores(tracks, model.running, speed_up, {track})
        assert fast[track] >= threshold, (track, speed_up, fast)
