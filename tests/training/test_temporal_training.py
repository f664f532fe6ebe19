"""Training the temporal model on a small real harvest: each action's trees as asked, ONNX equal to scikit-learn."""

from __future__ import annotations

import json

import onnx
import pytest

from har_stream.clips import LabelledClip, read_clip_labels
from har_stream.config import load_config
from har_stream.temporal.model import TemporalModel
from har_stream.training.harvest import track_clip
from har_stream.training.temporal_training import TreeSettings, train_temporal
from tests.conftest import REPO, SHARED, require

CCTV = SHARED / "videos" / "cctv"
# train and val groups of models/cctv_split.csv: a fight and a no-fight recording on each side
SPLIT = {
    "surv_fi005.mp4": "train",
    "surv_nofi012.mp4": "train",
    "surv_fi077.mp4": "val",
    "surv_nofi010.mp4": "val",
}

pytestmark = pytest.mark.slow


def tree_count(path) -> int:
    """How many trees the ONNX tree ensemble in ``path`` holds."""
    (node,) = [n for n in onnx.load(path).graph.node if n.op_type.startswith("TreeEnsemble")]
    (ids,) = [a.ints for a in node.attribute if a.name in ("nodes_treeids", "class_treeids")][:1]
    return len(set(ids))


def test_each_action_is_trained_with_its_own_trees_and_served_as_fitted(detector_640, tmp_path) -> None:
    config = load_config(REPO / "configs" / "cctv.yaml")
    clips: list[LabelledClip] = [c for c in read_clip_labels(require(CCTV)) if c.file in SPLIT]
    assert len(clips) == len(SPLIT)
    (tmp_path / "harvest" / "tracks").mkdir(parents=True)
    for clip in clips:
        tracks, _ = track_clip(clip.path, config, detector_640)
        tracks.save(tmp_path / "harvest" / "tracks" / f"{clip.path.stem}.npz")
    out = tmp_path / "temporal"
    small = TreeSettings(max_iter=7, max_leaf_nodes=3)
    figures = train_temporal(clips, tmp_path / "harvest", SPLIT, out, settings={"fighting": small})
    meta = json.loads((out / "model.json").read_text())
    assert meta["model"]["per_action"]["fighting"]["max_iter"] == 7
    assert meta["model"]["per_action"]["running"] == TreeSettings().__dict__  # not named: the default trees
    assert tree_count(out / "fighting.onnx") == 7
    assert tree_count(out / "running.onnx") > 7
    assert figures["onnx_max_abs_diff"] < 1e-4  # the served ONNX model scores as the fitted trees
    assert TemporalModel(out).actions == ("fighting", "running")
