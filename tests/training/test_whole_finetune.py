"""Whole-network fine-tuning: a real base model, real images, an ordinary model folder out, val never worse."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from har_stream.training.whole_finetune import distilled_targets, strong_view
from tests.training.test_training import make_subset, needs_har, run_cli, run_cli_json

REPO = Path(__file__).resolve().parents[2]
BASE = REPO / "models" / "efficientnet_lite0_har"


def test_strong_views_are_square_varied_and_reproducible() -> None:
    image = np.random.default_rng(0).integers(0, 255, (180, 300, 3), dtype=np.uint8)
    views = [strong_view(image, 224, np.random.default_rng(seed)) for seed in (1, 1, 2)]
    for view in views:
        assert view.shape == (224, 224, 3) and view.dtype == np.uint8
    assert np.array_equal(views[0], views[1])
    assert not np.array_equal(views[0], views[2])


def test_distilled_targets_mix_the_teacher_with_the_label() -> None:
    labels = np.array([0, 2])
    assert np.array_equal(distilled_targets(labels, 3, None, 0.7), np.eye(3)[labels])
    teacher = np.array([[0.2, 0.8, 0.0], [0.1, 0.1, 0.8]], dtype=np.float32)
    targets = distilled_targets(labels, 3, teacher, 0.7)
    assert np.allclose(targets, [[0.44, 0.56, 0.0], [0.07, 0.07, 0.86]])
    assert np.allclose(targets.sum(axis=1), 1.0)
    assert np.allclose(distilled_targets(labels, 3, teacher, 1.0), teacher)


@needs_har
def test_a_teacher_trained_on_another_split_is_refused(tmp_path: Path) -> None:
    data = make_subset(tmp_path / "data", 1)
    teacher = tmp_path / "teacher"
    shutil.copytree(BASE, teacher)
    lines = (BASE / "split.csv").read_text().splitlines()
    swapped = {"test": "train", "train": "test"}
    moved = [",".join([*row.split(",")[:-1], swapped.get(row.split(",")[-1], row.split(",")[-1])]) for row in lines[1:]]
    (teacher / "split.csv").write_text("\n".join([lines[0], *moved]) + "\n")
    code, output = run_cli(
        "models", "fine-tune", "--base", str(BASE), "--data", str(data), "--out", str(tmp_path / "o"),
        "--teacher", str(teacher),
    )  # fmt: skip
    assert code == 1 and "--teacher" in output and "differs from the base model's" in output
    assert "Traceback" not in output and not (tmp_path / "o").exists()


@needs_har
@pytest.mark.slow
def test_finetune_whole_writes_a_loadable_model_and_keeps_the_best_val_epoch(tmp_path: Path) -> None:
    data = make_subset(tmp_path / "data", 3)
    out = tmp_path / "whole"
    result = run_cli_json(
        "models", "fine-tune", "--base", str(BASE), "--data", str(data), "--out", str(out), "--epochs", "1",
        "--teacher", str(BASE), "--teacher-weight", "0.5", "--log-level", "warning",
    )  # fmt: skip
    history = result["val_accuracy"]
    assert len(history) == 2 and result["val"]["accuracy"] == pytest.approx(max(history), abs=1e-3)
    base_meta = json.loads((BASE / "model.json").read_text())
    meta = json.loads((out / "model.json").read_text())
    for key in ("backbone", "classes", "input_size", "head"):
        assert meta[key] == base_meta[key], key
    assert (out / "split.csv").read_text() == (BASE / "split.csv").read_text()
    card = (out / "card.md").read_text()
    assert "Whole network fine-tuned" in card and "distilled from `efficientnet_lite0_har`: targets 0.5" in card
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
    code, output = run_cli(
        "models", "fine-tune", "--base", str(base), "--data", str(tmp_path), "--out", str(tmp_path / "o")
    )
    assert code == 1 and "no split.csv" in output and "Traceback" not in output


@needs_har
def test_an_unknown_train_from_layer_is_named_with_the_layers_there_are(tmp_path: Path) -> None:
    data = make_subset(tmp_path / "data", 1)
    code, output = run_cli(
        "models", "fine-tune", "--base", str(BASE), "--data", str(data), "--out", str(tmp_path / "o"),
        "--train-from", "block9_conv1",
    )  # fmt: skip
    assert code == 1 and "--train-from 'block9_conv1'" in output and "head_dense" in output
    assert "Traceback" not in output and not (tmp_path / "o").exists()
