"""Weight averaging ("model soup"): the mixes tried, the arithmetic, a real model folder out, bad input refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from har_stream.training.dataset import DatasetError
from har_stream.training.weight_average import averaged, candidate_mixes
from tests.training.test_training import make_subset, needs_har, run_cli, run_cli_json

REPO = Path(__file__).resolve().parents[2]
LITE0 = REPO / "models" / "efficientnet_lite0_har"
LITE2 = REPO / "models" / "efficientnet_lite2_whole"


def test_every_model_alone_is_a_candidate_before_the_mixes() -> None:
    assert candidate_mixes(2, []) == [(1.0, 0.0), (0.0, 1.0), (0.5, 0.5), (0.3, 0.7), (0.7, 0.3)]
    assert candidate_mixes(3, [(1, 1, 2)]) == [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0), (0.25, 0.25, 0.5)]
    for bad in [(1.0,), (1.0, -1.0), (0.0, 0.0)]:
        with pytest.raises(DatasetError, match="--mix"):
            candidate_mixes(2, [bad])


def test_averaged_weights_are_the_weighted_mean_array_by_array() -> None:
    a = [np.array([0.0, 2.0], np.float32), np.array([[4.0]], np.float32)]
    b = [np.array([2.0, 4.0], np.float32), np.array([[0.0]], np.float32)]
    mean = averaged([a, b], (0.25, 0.75))
    assert [m.dtype for m in mean] == [np.float32, np.float32]
    assert np.allclose(mean[0], [1.5, 3.5]) and np.allclose(mean[1], [[1.0]])


def test_models_of_different_architectures_are_refused_by_name(tmp_path: Path) -> None:
    code, output = run_cli(
        "models", "average", "--model", str(LITE0), "--model", str(LITE2), "--data", str(tmp_path),
        "--out", str(tmp_path / "o"),
    )  # fmt: skip
    assert code == 1 and "differs from" in output and "backbone" in output and "input_size" in output
    assert "Traceback" not in output and not (tmp_path / "o").exists()


@needs_har
@pytest.mark.slow
def test_a_model_averaged_with_itself_classifies_as_it_does(tmp_path: Path) -> None:
    data = make_subset(tmp_path / "data", 2)
    out = tmp_path / "soup"
    result = run_cli_json(
        "models", "average", "--model", str(LITE0), "--model", str(LITE0), "--data", str(data), "--out", str(out),
        "--mix", "1,3", "--log-level", "warning",
    )  # fmt: skip
    assert [row["mix"] for row in result["by_mix"]] == [[1.0, 0.0], [0.0, 1.0], [0.25, 0.75]]
    assert len({row["val_accuracy"] for row in result["by_mix"]}) == 1  # the same network three times
    meta = json.loads((out / "model.json").read_text())
    assert (
        meta["weight_average"]["models"] == [LITE0.name, LITE0.name]
        and meta["classes"] == json.loads((LITE0 / "model.json").read_text())["classes"]
    )
    assert "Weights averaged with" in (out / "card.md").read_text()
    assert (out / "model-int8.onnx").stat().st_size > 0

    from har_stream.action_model.loading import load_action_model

    crops = np.random.default_rng(0).integers(0, 255, (3, 224, 224, 3), dtype=np.uint8)
    before = load_action_model(LITE0, runtime="keras").predict(crops)
    after = load_action_model(out, runtime="keras").predict(crops)
    assert np.allclose(before, after, atol=2e-3)
