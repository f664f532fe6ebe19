"""The command line, run as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, SHARED, decode_frames, require

HAR_STREAM = [sys.executable, "-m", "har_stream.cli"]


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HAR_STREAM, *args], capture_output=True, text=True, timeout=timeout, cwd=REPO)


def test_help_documents_every_run_option() -> None:
    result = cli("run", "--help")
    assert result.returncode == 0
    for option in ("--source", "--config", "--show", "--export", "--events", "--snapshots", "--max-frames", "--set"):
        assert option in result.stdout
    assert "Ctrl-C" in result.stdout


def test_run_stream_script_is_the_same_cli() -> None:
    result = subprocess.run([sys.executable, "run_stream.py", "--help"], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0 and "run" in result.stdout and "check-config" in result.stdout


GROUPS = {
    "models": [
        "train", "fine-tune", "ensemble", "average", "open-set", "choose-input-size", "quantize", "quantize-detector",
        "evaluate", "pose-ablation",
    ],
    "clips": ["split", "harvest", "evaluate-video", "export-reviewed", "train-temporal"],
    "bench": ["pipeline", "classifiers", "detector-size"],
}  # fmt: skip


def _listed(help_text: str) -> list[str]:
    """The command names a --help lists (the first word of each indented line under a section header)."""
    names, listing = [], False
    for line in help_text.splitlines():
        if line and not line.startswith(" "):
            listing = line.startswith(("Commands", "Command groups"))
        elif listing and line.startswith("  ") and not line.startswith("   "):
            names.append(line.split()[0])
    return names


def test_root_help_shows_the_operating_commands_and_the_groups() -> None:
    result = cli("--help")
    assert result.returncode == 0
    assert _listed(result.stdout) == ["run", "check-config", "serve", "models", "clips", "bench"]
    assert "Command groups" in result.stdout


@pytest.mark.parametrize("group", GROUPS)
def test_each_group_help_explains_it_and_lists_its_commands(group: str) -> None:
    result = cli(group, "--help")
    assert result.returncode == 0, result.stderr
    assert _listed(result.stdout) == GROUPS[group]
    assert f"{group} [OPTIONS] COMMAND" in result.stdout
    for command in GROUPS[group]:
        assert cli(group, command, "--help").returncode == 0, f"{group} {command} --help"


def test_an_old_flat_name_still_runs_and_names_the_new_spelling(tmp_path: Path) -> None:
    for name in ("a.mp4", "b.mp4", "c.mp4"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "labels.csv").write_text("file,label,group\na.mp4,fighting,A\nb.mp4,none,B\nc.mp4,none,C\n")
    out = tmp_path / "split.csv"
    result = cli("split-clips", "--clips", str(tmp_path), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert out.is_file() and f"wrote {out}" in result.stdout
    assert result.stderr.strip().splitlines() == [
        "note: 'har-stream split-clips' is now 'har-stream clips split'; please use the new name"
    ]
    assert "split-clips" not in cli("--help").stdout, "old names are hidden"


def test_the_old_flat_bench_runs_bench_pipeline(tmp_path: Path) -> None:
    result = cli("bench", "--source", str(tmp_path / "missing.mp4"))
    assert result.returncode == 1
    assert "'har-stream bench' is now 'har-stream bench pipeline'" in result.stderr
    assert "video file not found" in result.stderr


@pytest.mark.parametrize(
    ("command", "missing", "example"),
    [
        (["clips", "harvest", "--clips", "x"], "'--split'", "e.g. models/cctv_split.csv"),
        (["clips", "harvest", "--clips", "x", "--split", "s.csv"], "'--out'", "e.g. out/harvest"),
        (["clips", "harvest", "--clips", "x", "--split", "s.csv", "--out", "o"], "'--config'", "configs/cctv.yaml"),
        (["clips", "evaluate-video", "--clips", "x"], "'--config'", "e.g. configs/cctv.yaml"),
        (["clips", "train-temporal", "--clips", "x", "--split", "s.csv"], "'--harvest'", "e.g. out/harvest"),
        (["models", "open-set", "--data", "d", "--harvest", "h"], "'--base'", "e.g. models/efficientnet_lite2_whole"),
    ],
)
def test_options_that_defaulted_to_the_lab_layout_are_required(command: list[str], missing: str, example: str) -> None:
    """No default points into this repository's own folders: a missing one is named, and --help says what to pass."""
    result = cli(*command)
    assert result.returncode == 2 and f"Missing option {missing}" in result.stderr, result.stderr
    assert example in " ".join(cli(*command[:2], "--help").stdout.split())


@pytest.mark.slow
def test_run_writes_export_events_and_summary(concourse_clip: Path, tmp_path: Path) -> None:
    result = cli(
        "run",
        "--source", str(concourse_clip),
        "--config", "configs/concourse.yaml",
        "--export", str(tmp_path / "out.mp4"),
        "--events", str(tmp_path / "events.jsonl"),
        "--max-frames", "12",
        "--summary", str(tmp_path / "summary.json"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["frames"] == 12 and summary["fps"] > 0 and summary["people_per_frame"] > 5
    assert set(summary["stages_ms"]) >= {"detect", "track", "classify", "smooth", "rules", "render", "output"}
    assert json.loads((tmp_path / "summary.json").read_text())["frames"] == 12
    assert len(decode_frames(tmp_path / "out.mp4")) == 12
    for line in (tmp_path / "events.jsonl").read_text().splitlines():
        json.loads(line)


def test_bad_config_exits_2_naming_the_field(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("rules:\n  - name: r\n    actions: [running]\n    min_duration_s: -1\n")
    result = cli("run", "--source", "x.mp4", "--config", str(config))
    assert result.returncode == 2
    assert "rules[0].min_duration_s: Input should be greater than or equal to 0" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_config_command(tmp_path: Path) -> None:
    assert cli("check-config", "configs/classroom.yaml").returncode == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("zones:\n  - {name: z, polygon: [[0, 0], [1, 1], [1, 0], [0, 1]]}\n")
    result = cli("check-config", str(bad))
    assert result.returncode == 2 and "zones[0].polygon: polygon is not simple" in result.stderr


def test_missing_source_is_a_clear_error(tmp_path: Path) -> None:
    result = cli("run", "--source", str(tmp_path / "missing.mp4"), "--set", "classifier.model=none")
    assert result.returncode == 1
    assert "video file not found" in result.stderr and "Traceback" not in result.stderr


def test_missing_detector_weights_list_the_places_tried(tmp_path: Path) -> None:
    result = cli("run", "--source", "x.mp4", "--set", f"detector.model={tmp_path}/nope.pt")
    assert result.returncode == 1
    assert "could not find weights 'nope.pt'" in result.stderr and f"explicit path: {tmp_path}/nope.pt" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_override_syntax_is_explained() -> None:
    result = cli("run", "--source", "x.mp4", "--set", "detector.imgsz")
    assert result.returncode == 2 and "KEY=VALUE" in result.stderr


@pytest.mark.slow
def test_bench_classifiers_measures_models_side_by_side(concourse_video: Path, tmp_path: Path) -> None:
    out = tmp_path / "cost.json"
    result = cli("bench", "classifiers", "--source", str(concourse_video), "--model", "default",
                 "--model", "efficientnet_lite0_har", "--rounds", "3", "--json", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    figures = json.loads(out.read_text())["models"]
    assert list(figures) == ["default", "efficientnet_lite0_har"]
    assert figures["default"]["ratio_to_default_b1"] == 1.0 and figures["default"]["runtime"] == "onnx-int8"
    assert all(f[f"ms_per_crop_b{b}"] > 0 for f in figures.values() for b in (1, 8))
    missing = cli("bench", "classifiers", "--source", str(concourse_video), "--model", "no_such_model")
    assert missing.returncode == 1 and "no_such_model" in missing.stderr and "Traceback" not in missing.stderr


@pytest.mark.slow
def test_bench_detector_size_asks_for_a_larger_input_where_people_are_small(
    concourse_video: Path, tmp_path: Path
) -> None:
    """The concourse's people are 15-40 px tall: at 640 the detector misses most of them, and the tool says 1280.
    A person crossing a corridor camera is found at 640 as well as at 1280, so 640 (the cheapest) is enough."""
    out = tmp_path / "size.json"
    result = cli("bench", "detector-size", "--source", str(concourse_video), "--frames", "6", "--json", str(out))
    assert result.returncode == 0, result.stderr
    figures = json.loads(out.read_text())
    assert figures["recommended"] == 1280 and figures["frames"] == 6 and figures["reference_size"] == 1280
    assert figures["reference_people_per_frame"] >= 10 and figures["sizes"]["640"]["recall"] < 0.5
    assert "detector: {imgsz: 1280}" in result.stdout
    corridor = require(SHARED / "videos" / "cctv" / "intel_one_by_one_person.mp4")
    result = cli("bench", "detector-size", "--source", str(corridor), "--frames", "8", "--size", "640",
                 "--size", "1280")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "recommended: 640" in result.stdout


def test_bench_detector_size_refuses_bad_input_clearly(tmp_path: Path) -> None:
    missing = cli("bench", "detector-size", "--source", str(tmp_path / "none.mp4"))
    assert missing.returncode == 1 and "video file not found" in missing.stderr
    odd = cli("bench", "detector-size", "--source", str(REPO / "pyproject.toml"), "--size", "700")
    assert odd.returncode == 2 and "--size 700" in odd.stderr and "multiple of 32" in odd.stderr
    big = cli("bench", "detector-size", "--source", str(REPO / "pyproject.toml"), "--size", "8192")
    assert (
        big.returncode == 2 and "--size 8192" in big.stderr and "4096" in big.stderr and "Traceback" not in big.stderr
    )


@pytest.mark.slow
@pytest.mark.parametrize("model", ["vgg16_improved", "ensemble_lite2_vgg16"])
def test_the_pipeline_runs_the_optional_classifiers_end_to_end(tmp_path: Path, model: str) -> None:
    """``classifier.model: vgg16_improved`` (genuine ImageNet VGG16, int8) and ``ensemble_lite2_vgg16`` (two int8
    members averaged) label the people of a real clip."""
    clip = require(SHARED / "videos" / "cctv" / "surv_fi005.mp4")  # a real CCTV fight, people close to the camera
    config = tmp_path / "anyone.yaml"
    # A "*" rule's alert names the label the box shows: with no display threshold, the classifier's own label.
    config.write_text(
        "render: {min_label_confidence: 0.0}\n"
        "rules: [{name: any_action, actions: ['*'], min_confidence: 0.0, min_duration_s: 0.0}]\n"
    )
    events = tmp_path / "events.jsonl"
    result = cli("run", "--source", str(clip), "--config", str(config), "--events", str(events), "--max-frames", "20",
                 "--set", f"classifier.model={model}", "--no-progress")  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["classifier"] == {"model": model, "runtime": "onnx-int8"}
    from har_stream.actions import ACTIONS

    starts = [json.loads(line) for line in events.read_text().splitlines() if '"alert_start"' in line]
    assert starts and all(event["action"] in ACTIONS for event in starts)
