"""Choosing a classifier's input size on val: the same weights at another size, an ordinary model folder out."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.training.test_training import make_subset, needs_har, run_cli, run_cli_json

REPO = Path(__file__).resolve().parents[2]
BASE = REPO / "models" / "efficientnet_lite0_har"


def test_a_backbone_builds_at_the_size_it_is_asked_for() -> None:
    from har_stream.tf_guard import prepare_tensorflow_import

    prepare_tensorflow_import()
    from har_stream.action_model.network import HeadConfig, backbone_spec, build_network
    from har_stream.action_model.vgg16 import BackboneWeights

    spec = backbone_spec("efficientnet_lite0", 160)
    assert spec.input_size == 160 and backbone_spec("efficientnet_lite0").input_size == 224
    network = build_network(spec, BackboneWeights("none", "", "random"), 15, HeadConfig())
    assert tuple(network.input.shape[1:]) == (160, 160, 3)
    with pytest.raises(ValueError, match="at least 32 px"):
        backbone_spec("vgg16", 16)


@needs_har
@pytest.mark.slow
def test_choose_input_size_keeps_the_best_val_size_and_writes_a_model_that_runs_there(tmp_path: Path) -> None:
    data = make_subset(tmp_path / "data", 4)
    out = tmp_path / "sized"
    result = run_cli_json(
        "models", "choose-input-size", "--model", str(BASE), "--data", str(data), "--out", str(out),
        "--sizes", "192,256", "--log-level", "warning",
    )  # fmt: skip
    by_size = {int(k): v["val_accuracy"] for k, v in result["by_size"].items()}
    assert set(by_size) == {192, 224, 256}  # the model's own size is always a candidate
    best = max(by_size.values())
    assert by_size[result["chosen"]] == best and result["chosen"] == min(s for s, v in by_size.items() if v == best)
    assert result["val"]["accuracy"] == pytest.approx(best, abs=1e-3)

    meta = json.loads((out / "model.json").read_text())
    base_meta = json.loads((BASE / "model.json").read_text())
    assert meta["input_size"] == result["chosen"]
    for key in ("backbone", "classes", "head", "trained_layers"):
        assert meta[key] == base_meta[key], key
    assert (out / "weights.npz").read_bytes() == (BASE / "weights.npz").read_bytes()
    assert "Input size chosen on the val split" in (out / "card.md").read_text()
    for name in ("confusion.png", "model-int8.onnx", "metrics.json", "split.csv"):
        assert (out / name).stat().st_size > 0, name

    from har_stream.action_model.loading import load_action_model

    size = meta["input_size"]
    crops = np.random.default_rng(0).integers(0, 255, (2, size, size, 3), dtype=np.uint8)
    for runtime in ("keras", "onnx-int8"):
        model = load_action_model(out, runtime=runtime)
        assert model.input_size == size
        probs = model.predict(crops)
        assert probs.shape == (2, len(meta["classes"])) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-3)


@needs_har
def test_a_flatten_head_cannot_change_size_and_says_why(tmp_path: Path) -> None:
    code, output = run_cli(
        "models", "choose-input-size", "--model", str(REPO / "models" / "vgg16_seed"), "--data", str(tmp_path),
        "--out", str(tmp_path / "o"),
    )  # fmt: skip
    assert code == 1 and "Flatten head" in output and "Traceback" not in output
    assert not (tmp_path / "o").exists()


@needs_har
def test_an_open_set_model_is_sent_to_its_base_and_bad_sizes_are_named(tmp_path: Path) -> None:
    code, output = run_cli(
        "models", "choose-input-size", "--model", str(REPO / "models" / "efficientnet_lite2_open"),
        "--data", str(tmp_path), "--out", str(tmp_path / "o"),
    )  # fmt: skip
    assert code == 1 and "open-set model" in output and "models open-set" in output
    code, output = run_cli(
        "models", "choose-input-size", "--model", str(BASE), "--data", str(tmp_path), "--out", str(tmp_path / "o"),
        "--sizes", "224,big",
    )  # fmt: skip
    assert code == 2 and "--sizes" in output and "Traceback" not in output
