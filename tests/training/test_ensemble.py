"""Ensemble model folders: real member models averaged, weights chosen on val, loadable wherever a model is."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.training.test_training import make_subset, needs_har, run_cli_json

REPO = Path(__file__).resolve().parents[2]
LITE0 = REPO / "models" / "efficientnet_lite0_har"


def resized_copy(folder: Path, size: int, out: Path) -> Path:
    """The same weights served at another input size (a Keras-only model folder)."""
    out.mkdir(parents=True)
    meta = json.loads((folder / "model.json").read_text())
    (out / "model.json").write_text(json.dumps({**meta, "name": out.name, "input_size": size}))
    for name in ("weights.npz", "split.csv"):
        shutil.copyfile(folder / name, out / name)
    return out


def write_ensemble(folder: Path, members: list[tuple[str, float]], classes: list[str], size: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    spec = {"members": [{"model": m, "weight": w} for m, w in members]}
    (folder / "model.json").write_text(
        json.dumps({"name": folder.name, "ensemble": spec, "classes": classes, "input_size": size})
    )
    return folder


def test_an_ensemble_is_the_weighted_mean_of_its_members_each_at_its_own_size(tmp_path: Path) -> None:
    from har_stream.action_model.ensemble import fit_crops
    from har_stream.action_model.loading import load_action_model

    small = resized_copy(LITE0, 160, tmp_path / "lite0_160")
    classes = json.loads((LITE0 / "model.json").read_text())["classes"]
    folder = write_ensemble(tmp_path / "ens", [(str(LITE0), 3.0), ("../lite0_160", 1.0)], classes, 224)
    ensemble = load_action_model(folder, runtime="keras")
    assert ensemble.input_size == 224 and ensemble.classes == tuple(classes)

    crops = np.random.default_rng(0).integers(0, 255, (3, 224, 224, 3), dtype=np.uint8)
    big = load_action_model(LITE0, runtime="keras").predict(crops)
    little = load_action_model(small, runtime="keras").predict(fit_crops(crops, 160))
    assert not np.allclose(big, little, atol=1e-3)  # the two members really differ
    assert np.allclose(ensemble.predict(crops), 0.75 * big + 0.25 * little, atol=1e-5)


def test_a_flipped_ensemble_averages_each_member_over_the_crop_and_its_mirror(tmp_path: Path) -> None:
    from har_stream.action_model.loading import load_action_model

    classes = json.loads((LITE0 / "model.json").read_text())["classes"]
    folder = write_ensemble(tmp_path / "ens", [(str(LITE0), 1.0), (str(LITE0), 1.0)], classes, 224)
    meta = json.loads((folder / "model.json").read_text())
    meta["ensemble"]["test_time_flip"] = True
    (folder / "model.json").write_text(json.dumps(meta))
    ensemble = load_action_model(folder, runtime="keras")
    member = load_action_model(LITE0, runtime="keras")

    rng = np.random.default_rng(1)
    crops = rng.integers(0, 255, (2, 224, 224, 3), dtype=np.uint8)
    crops[:, :, :112] = 0  # a left half unlike its right half, so the mirror is another picture
    plain, mirror = member.predict(crops), member.predict(crops[:, :, ::-1].copy())
    assert not np.allclose(plain, mirror, atol=1e-3)
    assert np.allclose(ensemble.predict(crops), (plain + mirror) / 2, atol=1e-5)

    meta["ensemble"]["test_time_flip"] = "yes"
    (folder / "model.json").write_text(json.dumps(meta))
    from har_stream.action_model.base import ActionModelError

    with pytest.raises(ActionModelError, match="test_time_flip' must be true or false"):
        load_action_model(folder, runtime="keras")


def test_bad_ensembles_are_refused_with_the_reason(tmp_path: Path) -> None:
    from har_stream.action_model.base import ActionModelError
    from har_stream.action_model.loading import load_action_model

    classes = json.loads((LITE0 / "model.json").read_text())["classes"]
    mixed = write_ensemble(tmp_path / "mixed", [(str(LITE0), 1), ("efficientnet_lite2_open", 1)], classes, 260)
    with pytest.raises(ActionModelError, match="share their classes"):
        load_action_model(mixed, runtime="onnx-int8")
    missing = write_ensemble(tmp_path / "missing", [(str(LITE0), 1), ("no_such_model", 1)], classes, 224)
    with pytest.raises(ActionModelError, match="'no_such_model' not found"):
        load_action_model(missing, runtime="onnx-int8")
    nested = write_ensemble(tmp_path / "nested", [(str(LITE0), 1), ("../missing", 1)], classes, 224)
    with pytest.raises(ActionModelError, match="itself an ensemble"):
        load_action_model(nested, runtime="onnx-int8")
    negative = write_ensemble(tmp_path / "negative", [(str(LITE0), -1), (str(LITE0), 1)], classes, 224)
    with pytest.raises(ActionModelError, match="weights must be >= 0"):
        load_action_model(negative, runtime="onnx-int8")
    wrong_size = write_ensemble(tmp_path / "size", [(str(LITE0), 1), (str(LITE0), 1)], classes, 300)
    with pytest.raises(ActionModelError, match="input_size differ"):
        load_action_model(wrong_size, runtime="onnx-int8")


@needs_har
def test_training_commands_refuse_an_ensemble_as_their_base(tmp_path: Path) -> None:
    from tests.training.test_training import run_cli

    ensemble = str(REPO / "models" / "ensemble_lite2_vgg16")
    for command in (["models", "choose-input-size", "--model", ensemble], ["models", "fine-tune", "--base", ensemble]):
        code, output = run_cli(*command, "--data", str(tmp_path), "--out", str(tmp_path / "o"))
        assert code == 1 and "is an ensemble" in output and "Traceback" not in output, output


def test_the_weight_grid_covers_the_simplex() -> None:
    from har_stream.training.ensemble_build import weight_grid

    two, three = weight_grid(2), weight_grid(3)
    assert len(two) == 21 and (1.0, 0.0) in two and (0.0, 1.0) in two and (0.5, 0.5) in two
    assert len(three) == 66 and all(abs(sum(w) - 1) < 1e-9 and min(w) >= 0 for w in three)


@needs_har
@pytest.mark.slow
def test_make_ensemble_chooses_weights_on_val_and_writes_a_folder_the_pipeline_loads(tmp_path: Path) -> None:
    data = make_subset(tmp_path / "data", 4)
    small = resized_copy(LITE0, 160, tmp_path / "lite0_160")
    out = tmp_path / "ensemble"
    result = run_cli_json(
        "models", "ensemble", "--member", str(LITE0), "--member", str(small), "--data", str(data), "--out", str(out),
        "--runtime", "keras", "--flip", "auto",
    )  # fmt: skip
    assert sum(result["weights"].values()) == pytest.approx(1.0)
    meta = json.loads((out / "model.json").read_text())
    # --flip auto scores both ways and keeps what val prefers; the folder serves what was chosen
    assert set(result["best_on_val_by_flip"]) == {"false", "true"}
    assert meta["ensemble"]["test_time_flip"] is result["test_time_flip"]
    chosen = result["best_on_val_by_flip"][str(result["test_time_flip"]).lower()]["val_accuracy"]
    assert chosen == max(f["val_accuracy"] for f in result["best_on_val_by_flip"].values())
    assert meta["input_size"] == 224 and [m["weight"] for m in meta["ensemble"]["members"]] == list(
        result["weights"].values()
    )
    for name in ("card.md", "confusion.png", "metrics.json", "split.csv"):
        assert (out / name).stat().st_size > 0, name

    from har_stream.classification.model_choice import load_classifier
    from har_stream.training.dataset import load_split, read_labels
    from har_stream.training.ensemble_build import MemberAsServed
    from har_stream.training.evaluation import evaluate
    from har_stream.training.whole_finetune import scored

    evaluation = evaluate(out, data, split="val", out=tmp_path / "eval", runtime="keras")
    assert evaluation.figures["accuracy"] == pytest.approx(result["val"]["accuracy"], abs=1e-6)
    # The grid holds each member alone, so the chosen mix is never less accurate on val than either member.
    split = load_split(out / "split.csv")
    val = [r for r in read_labels(data) if split.get(r.filename) == "val"]
    ensemble = load_classifier(str(out), runtime="keras")
    for index in range(2):
        y, probs = scored(MemberAsServed(ensemble, index), val)
        assert result["val"]["accuracy"] >= float((probs.argmax(1) == y).mean()) - 1e-4  # rounded to 4 places
