"""``har-stream clips evaluate-video`` and ``clips split`` on real clips through the real pipeline and models."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
import pytest

from tests.conftest import REPO, SHARED, require, write_clip

CCTV = SHARED / "videos" / "cctv"
FIGHT = "surv_fi015.mp4"
WALK = "intel_walking_240.mp4"  # intel_one_by_one_person.mp4 from frame 240, when someone is walking through
MAX_FRAMES = 40
EVALUATE = ("clips", "evaluate-video", "--config", "configs/cctv.yaml")


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "har_stream.cli", *args], capture_output=True, text=True, timeout=timeout, cwd=REPO
    )


def write_labels(folder: Path, rows: list[tuple[str, str, str]]) -> Path:
    with (folder / "labels.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "label", "group"])
        writer.writerows(rows)
    return folder


@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fight clip, a walking clip, a clip that is not a video, and a clip the split leaves in train."""
    folder = tmp_path_factory.mktemp("cctv")
    for name in (FIGHT, "surv_fi016.mp4"):
        (folder / name).symlink_to(require(CCTV / name))
    write_clip(require(CCTV / "intel_one_by_one_person.mp4"), folder / WALK, frames=MAX_FRAMES, start=240)
    (folder / "broken.mp4").write_bytes(b"this is not a video\n")
    rows = [(FIGHT, "fighting", "fights"), (WALK, "walking", "intel"), ("broken.mp4", "none", "broken")]
    write_labels(folder, [*rows, ("surv_fi016.mp4", "fighting", "fights_train")])
    with (folder / "split.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "label", "group", "part"])
        writer.writerows([*[(*row, "val") for row in rows], ("surv_fi016.mp4", "fighting", "fights_train", "train")])
    return folder


@pytest.fixture(scope="module")
def evaluation(clip_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One real clips evaluate-video run over the val part: its output folder, JSON and stdout."""
    out = tmp_path_factory.mktemp("eval")
    result = cli(
        *EVALUATE, "--clips", str(clip_folder), "--split", str(clip_folder / "split.csv"), "--part", "val",
        "--max-frames", str(MAX_FRAMES), "--out", str(out / "report"), "--json", str(out / "copy.json"),
        "--no-progress",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = json.loads((out / "copy.json").read_text())
    return {"out": out / "report", "doc": document, "stdout": result.stdout, "stderr": result.stderr}


@pytest.mark.slow
def test_results_json_has_every_clip_of_the_part(evaluation: dict[str, Any]) -> None:
    doc = evaluation["doc"]
    assert json.loads((evaluation["out"] / "results.json").read_text()) == doc
    assert doc["config"] == "configs/cctv.yaml" and doc["model"] and doc["model"] != "none"
    assert doc["actions"] == ["fighting", "running", "fallen"]  # the rules of configs/cctv.yaml, in order
    clips = {c["file"]: c for c in doc["clips"]}
    assert set(clips) == {FIGHT, WALK, "broken.mp4"}  # the split's val part only: not surv_fi016.mp4
    for name in (FIGHT, WALK):
        clip = clips[name]
        assert {"file", "label", "group", "frames", "scores", "alerts"} <= set(clip) and "error" not in clip
        assert clip["frames"] == MAX_FRAMES
        assert set(clip["scores"]) == {"fighting", "running", "fallen"}
        assert all(0.0 <= s <= 1.0 for s in clip["scores"].values())
        assert all(a in {"fighting", "running", "fallen"} for a in clip["alerts"])
    assert clips[FIGHT]["label"] == "fighting" and clips[FIGHT]["group"] == "fights"


@pytest.mark.slow
def test_unreadable_clip_is_listed_with_its_error_and_left_out(evaluation: dict[str, Any]) -> None:
    broken = next(c for c in evaluation["doc"]["clips"] if c["file"] == "broken.mp4")
    assert "cannot open video" in broken["error"] and broken["frames"] == 0
    assert evaluation["doc"]["skipped"] == ["broken.mp4"]
    assert "broken.mp4" in evaluation["stderr"] and "Traceback" not in evaluation["stderr"]
    fighting = evaluation["doc"]["summary"]["fighting"]
    assert (fighting["n_pos"], fighting["n_neg"], fighting["n_none"]) == (1, 1, 0)


@pytest.mark.slow
def test_summary_figures_and_table(evaluation: dict[str, Any]) -> None:
    summary = evaluation["doc"]["summary"]
    keys = {"auroc", "alert_recall", "false_alarm_rate", "false_alarm_rate_none", "n_pos", "n_neg",
            "median_s_to_alert"}  # fmt: skip
    for action in ("fighting", "running", "fallen"):
        assert keys <= set(summary[action])
    assert summary["fighting"]["auroc"] in (0.0, 0.5, 1.0)
    assert summary["running"]["auroc"] is None and summary["running"]["n_pos"] == 0
    lines = evaluation["stdout"].splitlines()
    assert any(line.startswith("action") and "AUROC" in line for line in lines)
    assert any(line.startswith("fighting") for line in lines)


@pytest.mark.slow
def test_roc_curves_and_contact_sheet_decode(evaluation: dict[str, Any]) -> None:
    for name in ("roc_fighting.png", "roc_running.png", "contact_sheet.jpg"):
        image = cv2.imread(str(evaluation["out"] / name))
        assert image is not None, name
    assert cv2.imread(str(evaluation["out"] / "contact_sheet.jpg")).shape[1] >= 960


@pytest.mark.slow
def test_known_fight_clip_outscores_known_walking_clip(evaluation: dict[str, Any]) -> None:
    clips = {c["file"]: c for c in evaluation["doc"]["clips"]}
    assert clips[FIGHT]["scores"]["fighting"] > clips[WALK]["scores"]["fighting"]


def test_missing_labels_csv_is_a_clear_error(tmp_path: Path) -> None:
    result = cli(*EVALUATE, "--clips", str(tmp_path))
    assert result.returncode == 1
    assert "no labels.csv" in result.stderr and "Traceback" not in result.stderr


def test_split_and_part_go_together(tmp_path: Path) -> None:
    result = cli(*EVALUATE, "--clips", str(tmp_path), "--split", str(tmp_path / "split.csv"))
    assert result.returncode == 2 and "--split and --part go together" in result.stderr
    result = cli(*EVALUATE, "--clips", str(tmp_path), "--part", "val")
    assert result.returncode == 2 and "--split and --part go together" in result.stderr


def test_split_listing_none_of_the_clips_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "a.mp4").write_bytes(b"")
    write_labels(tmp_path, [("a.mp4", "none", "a")])
    (tmp_path / "split.csv").write_text("file,part\nother.mp4,val\n")
    result = cli(*EVALUATE, "--clips", str(tmp_path), "--split", str(tmp_path / "split.csv"), "--part", "val")
    assert result.returncode == 1
    assert "lists none of the 1 clips" in result.stderr and "Traceback" not in result.stderr


def test_split_clips_writes_a_group_split(tmp_path: Path) -> None:
    for name in ("a1.mp4", "a2.mp4", "b.mp4", "c.mp4", "d.mp4"):
        (tmp_path / name).write_bytes(b"")
    write_labels(tmp_path, [("a1.mp4", "fighting", "A"), ("a2.mp4", "fighting", "A"), ("b.mp4", "none", "B"),
                            ("c.mp4", "none", "C"), ("d.mp4", "fighting", "D")])  # fmt: skip
    out = tmp_path / "split.csv"
    result = cli("clips", "split", "--clips", str(tmp_path), "--out", str(out), "--pin", "A=test", "--seed", "3")
    assert result.returncode == 0, result.stderr
    with out.open(newline="") as handle:
        rows = {row["file"]: row for row in csv.DictReader(handle)}
    assert rows["a1.mp4"]["part"] == rows["a2.mp4"]["part"] == "test"
    assert "test: " in result.stdout and "fighting 2" in result.stdout
    bad = cli("clips", "split", "--clips", str(tmp_path), "--out", str(out), "--pin", "A")
    assert bad.returncode == 2 and "GROUP=PART" in bad.stderr
