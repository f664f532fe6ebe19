"""Model cards: one writer (har_stream/model_card.py) lays out every kind of card; each trainer's card is written
from a shipped model folder's model.json and checked section by section."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from har_stream.model_card import ModelCard, Section, Table
from har_stream.training.ensemble_build import write_ensemble_card
from har_stream.training.open_set_card import write_open_set_card
from har_stream.training.reports import write_card
from har_stream.training.temporal_card import write_temporal_card

MODELS = Path(__file__).resolve().parents[1] / "models"


def headings(card: str) -> list[str]:
    return [line for line in card.splitlines() if line.startswith("#")]


def test_layout_of_title_sections_tables_and_notes(tmp_path: Path) -> None:
    card = ModelCard("Action model `m`", ["Trained today."])
    card.add("Figures", "", Table(["split", "accuracy"], [["test", "0.900"]]), "", "Log loss is ...")
    card.sections.append(Section("Model", ["- trees"]))
    card.add_notes([])  # no notes: no section
    card.add_notes(["a caveat"])
    card.add(None, "A closing paragraph.")
    path = card.write(tmp_path)
    assert path == tmp_path / "card.md"
    assert path.read_text() == (
        "# Action model `m`\n\nTrained today.\n\n"
        "## Figures\n\n| split | accuracy |\n|---|---|\n| test | 0.900 |\n\nLog loss is ...\n\n"
        "## Model\n- trees\n\n## Notes\n- a caveat\n\nA closing paragraph.\n"
    )


def copy_model(name: str, tmp_path: Path) -> tuple[Path, dict]:
    """The model folder's json files, and its other files as empty stand-ins (the card lists the files present)."""
    source = MODELS / name
    if not (source / "model.json").is_file():
        pytest.skip(f"{source} is not here")
    folder = tmp_path / name
    folder.mkdir()
    for file in source.iterdir():
        if file.suffix == ".json":
            shutil.copy(file, folder / file.name)
        elif file.name != "card.md":
            (folder / file.name).write_bytes(b"")
    return folder, json.loads((folder / "model.json").read_text())


def test_classifier_card(tmp_path: Path) -> None:
    folder, meta = copy_model("vgg16_seed", tmp_path)
    figures = json.loads((folder / "metrics.json").read_text())
    card = write_card(folder, meta, figures).read_text()
    assert headings(card) == [
        "# Action model `vgg16_seed`",
        "## Backbone",
        "## Data and split",
        "## Recipe",
        "## Figures (held-out test split unless noted)",
        "## Inference",
        "## Against the seed notebook's figure",
    ]
    assert (
        "| split | images | top-1 accuracy | log loss | balanced accuracy | macro F1 |\n|---|---|---|---|---|---|\n"
        in card
    )
    assert f"| test | {figures['test']['n_images']} | {figures['test']['accuracy']:.3f} |" in card
    assert "Files: `model.json`, `weights.npz`, `split.csv`, `metrics.json`, `curves.png`, `confusion.png`." in card


def test_ensemble_card(tmp_path: Path) -> None:
    folder, meta = copy_model("ensemble_lite2_vgg16", tmp_path)
    card = write_ensemble_card(folder, meta).read_text()
    assert headings(card) == [
        f"# Action model `{meta['name']}` (ensemble)",
        "## Members",
        "## Figures (whole images, as `har-stream models evaluate` feeds them)",
        *(["## Notes"] if meta.get("notes") else []),
    ]
    assert "| member | weight | val accuracy alone | test accuracy alone |\n|---|---|---|---|\n| `" in card


def test_open_set_card(tmp_path: Path) -> None:
    folder, meta = copy_model("efficientnet_lite2_open", tmp_path)
    card = write_open_set_card(folder, meta).read_text()
    assert headings(card) == [
        f"# Action model `{meta['name']}`",
        "## Classes",
        "## Backbone",
        "## Data",
        "## Recipe",
        "## Figures (Keras, before int8)",
        *(["## Notes"] if meta.get("notes") else []),
    ]
    assert "| data | accuracy | log loss | ECE |\n|---|---|---|---|\n| HAR test split" in card


def test_temporal_card(tmp_path: Path) -> None:
    folder, meta = copy_model("temporal_pose", tmp_path)
    card = write_temporal_card(folder).read_text()
    assert headings(card)[:7] == [
        f"# Temporal model `{meta['name']}`",
        "## Data and split",
        "## Features",
        "## Model",
        "## Figures on the val groups (model fitted on train groups only)",
        "## Running: the kinematic model (`running.json`)",
        "## Cross-validation over the train and val groups (docs/research/actions.md)",
    ]
    assert card.endswith("\n") and "## Cost\n- " in card
    (folder / "running.json").unlink()  # without the kinematic model: no running section
    assert "## Running" not in write_temporal_card(folder).read_text()
