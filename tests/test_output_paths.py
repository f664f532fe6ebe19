"""No output may be the input or another output, whatever the spelling: real files, the real CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from har_stream.output_paths import OutputPathError, check_output_paths, local_file, same_file
from tests.conftest import REPO, require

SAMPLE = REPO.parent / "shared" / "videos" / "cctv" / "surv_nofi044.mp4"


@pytest.fixture()
def video(tmp_path: Path) -> Path:
    target = tmp_path / "media" / "v.mp4"
    target.parent.mkdir()
    shutil.copy(require(SAMPLE), target)
    return target


def spellings(video: Path, tmp_path: Path, cwd: Path | None = None) -> dict[str, Path]:
    """Other names of the same file: relative (to ``cwd``) with .., a symlink, a hard link."""
    (tmp_path / "elsewhere").mkdir(exist_ok=True)
    link = tmp_path / "elsewhere" / "link.mp4"
    if not link.exists():
        link.symlink_to(video)
    hard = tmp_path / "elsewhere" / "hard.mp4"
    if not hard.exists():
        os.link(video, hard)
    relative = Path(os.path.relpath(video.parent, cwd or Path.cwd())) / ".." / "media" / video.name
    return {"relative": relative, "symlink": link, "hardlink": hard, "same": video}


def test_every_spelling_of_the_source_is_caught(video: Path, tmp_path: Path) -> None:
    for kind, path in spellings(video, tmp_path).items():
        assert same_file(path, video), kind
        with pytest.raises(OutputPathError, match=r"output\.video .* same file as the source"):
            check_output_paths({"source": video}, {"output.video": path})
    assert not same_file(tmp_path / "other.mp4", video)
    assert local_file("rtsp://cam/stream") is None and local_file(0) is None and local_file("0") is None


def test_two_outputs_on_one_file_are_refused(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    with pytest.raises(OutputPathError, match=r"output\.video .* and output\.events .* are the same file"):
        check_output_paths({"source": None}, {"output.video": out, "output.events": tmp_path / "." / "out.mp4"})
    check_output_paths({"source": None}, {"output.video": out, "output.events": tmp_path / "events.jsonl"})


@pytest.mark.parametrize("flag", ["--export", "--events"])
def test_cli_refuses_to_overwrite_its_source_and_leaves_it_intact(video: Path, tmp_path: Path, flag: str) -> None:
    before = video.read_bytes()
    for path in spellings(video, tmp_path, cwd=tmp_path).values():
        run = subprocess.run(
            [sys.executable, "-m", "har_stream.cli", "run", "--source", str(video), flag, str(path),
             "--max-frames", "5", "--set", "classifier.model=none", "--set", "temporal.model=none"],
            capture_output=True, text=True, timeout=300, cwd=tmp_path,
        )  # fmt: skip
        assert run.returncode == 2, run.stderr
        assert "same file as the source" in run.stderr and str(video) in run.stderr
        assert video.read_bytes() == before


def test_cli_refuses_events_and_export_on_one_file(video: Path, tmp_path: Path) -> None:
    out = tmp_path / "both.mp4"
    run = subprocess.run(
        [sys.executable, "-m", "har_stream.cli", "run", "--source", str(video), "--export", str(out),
         "--events", str(out), "--max-frames", "5", "--set", "classifier.model=none"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 2, run.stderr
    assert "output.video" in run.stderr and "output.events" in run.stderr
    assert not out.exists()


def test_python_api_refuses_before_opening_anything(video: Path, tmp_path: Path, detector_640) -> None:
    from har_stream.api import build_config
    from har_stream.pipeline import Pipeline

    link = tmp_path / "link.mp4"
    link.symlink_to(video)
    before = video.read_bytes()
    config = build_config(None, source=str(video), events=link, overrides={"classifier.model": "none"})
    with pytest.raises(OutputPathError, match=r"output\.events"):
        Pipeline(config, detector=detector_640, action_model=None, temporal_model=None).run()
    assert video.read_bytes() == before
    assert not (tmp_path / "link_snapshots").exists()
