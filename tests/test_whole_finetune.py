"""Whole-network fine-tuning: a real base model, real images, an ordinary model folder out, val never worse."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from har_stream.training.whole_finetune import strong_view
from tests.test_training import make_subset, needs_har, run_cli, run_cli_json

REPO = Path(__file__).resolve().parents[1]
BASE = REPO / "models" / "efficientnet_lite0_har"


def test_strong_views_are_square_varied_and_reproducible() -> None:
    image = np.random.default_rng(0).integers(0, 255, (180, 300, 3), dtype=np.uint8)
    views = [strong_view(image, 224, np.random.default_rng(seed)) for seed in (1, 1, 2)]
    for view in views:
        assert view.shape == (224, 224, 3) and view.dtype == np.uint8
    assert np.array_equal(views[0], views[1])
    assert not np.array_equal(views[0], views[2])


@needs_har
@pytest.mark.slow
def test_finetune_whole_writes_a_loadable_model_and_keeps_the_best_val_epoch(tmp_path: Path) -> None:
    data = make_subset(tmp_path / "data", 3)
    out = tmp_path / "whole"
    result = run_cli_json(
        "finetune-whole", "--base", str(BASE), "--data", str(data), "--out", str(out), "--epochs", "1",
        "--log-level", "warning",
    )  # fmt: skip
    history = result["val_accuracy"]
    assert len(history) == 2 and result["val"]["accuracy"] == pytest.approx(max(history), abs=1e-3)
    base_meta = json.loads((BASE / "model.json").read_text())
    meta = json.loads((out / "model.json").read_text())
    for key in ("backbone", "classes", "input_size", "head"):
        assert meta[key] == base_meta[key], key
    assert (out / "split.csv").read_text() == (BASE / "split.csv").read_text()
    assert "Whole network fine-tuned" in (out / "card.md").read_text()
    for name in ("curves.png", "confusion.png", "model-int8.onnx", "metrics.json"):
        assert (out / name).stat().st_size > 0, name

    from har_stream.action_model.loading import load_action_model

    crops = np.random.default_rng(0).integers(0, 255, (2, 224, 224, 3), dtype=np.uint8)
    for runtime in ("keras", "onnx-int8"):
        probs = load_action_model(out, runtime=runtime).predict(crops)
        assert probs.shape == (2, len(meta["classes"])) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-3)


@needs_har
def test_finetune_whole_needs_the_base_models_split(tmp_path: Path) -> None:
    base = tmp_path / "base"
    shutil.copytree(BASE, base)
    (base / "split.csv").unlink()
    code, output = run_cli("finetune-whole", "--base", str(base), "--data", str(tmp_path), "--out", str(tmp_path / "o"))
    assert code == 1 and "no split.csv" in output and "Traceback" not in output


@needs_har
def test_an_unknown_train_from_layer_is_named_with_the_layers_there_are(tmp_path: Path) -> None:
    data = make_subset(tmp_path / "data", 1)
    code, output = run_cli(
        "finetune-whole", "--base", str(BASE), "--data", str(data), "--out", str(tmp_path / "o"),
        "--train-from", "block9_conv1",
    )  # fmt: skip
    assert code == 1 and "--train-from 'block9_conv1'" in output and "head_dense" in output
    assert "Traceback" not in output and not (tmp_path / "o").exists()
