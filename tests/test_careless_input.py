"""Careless input gets a clear, short answer: missing cameras, empty files, cameras that change size, outputs
that were never written, and Ctrl-C while outputs are being finished (issue: nothing destroyed, nothing leaked).
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO, decode_frames
from tests.test_bad_input import write_ts
from tests.test_cli import HAR_STREAM, cli

FAST = ("--set", "classifier.model=none", "--no-progress")


def summary_of(result: subprocess.CompletedProcess[str]) -> dict:
    """The run summary: the last line on stdout."""
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_missing_webcam_is_one_clear_line_not_a_minute_of_retries() -> None:
    if Path("/dev/video63").exists():
        pytest.skip("this machine has a camera 63")
    result = cli("run", "--source", "63", *FAST, timeout=60)
    assert result.returncode == 1
    assert "camera 63 not found (cameras on this machine:" in result.stderr
    assert "WARN" not in result.stderr and "OpenCV" not in result.stderr and "reconnecting" not in result.stderr
    assert len(result.stderr.splitlines()) <= 4  # loading, detector, the error


def test_an_empty_input_file_says_empty(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    result = cli("run", "--source", str(empty), *FAST)
    assert result.returncode == 1 and "is an empty file (0 bytes)" in result.stderr
    assert "Errno" not in result.stderr


def test_outputs_nothing_was_written_to_are_not_listed(tmp_path: Path) -> None:
    """A camera that never answers delivers no frame: there is no video and no snapshot to point the user at."""
    from tests.serve.netutil import free_port

    camera = f"rtsp://127.0.0.1:{free_port()}/nobody"
    export, events = tmp_path / "out.mp4", tmp_path / "events.jsonl"
    result = cli(
        "run", "--source", camera, "--export", str(export), "--events", str(events), *FAST,
        "--set", "source.reconnect.give_up_after_s=2",
    )  # fmt: skip
    assert result.returncode == 1 and "lost" in result.stderr
    summary = summary_of(result)
    assert set(summary["outputs"]) == {"events"}, summary["outputs"]  # the event log holds the health record
    assert not export.exists() and not (tmp_path / "events_snapshots").exists()
    assert "video:" not in result.stderr and "snapshots:" not in result.stderr


@pytest.mark.slow
def test_a_size_change_that_breaks_pixel_zones_still_prints_the_summary(concourse_video: Path, tmp_path: Path) -> None:
    """A camera switching from 800x450 to 640x360 leaves a pixel zone outside the frame: the run stops with a
    clear error, but the summary JSON is printed, the export plays and every alert is closed."""
    first, second = tmp_path / "a.ts", tmp_path / "b.ts"
    write_ts(concourse_video, first, 12, 0, (0, 0, 1280, 720), (800, 450))
    write_ts(concourse_video, second, 12, 12, (0, 0, 1280, 720), (640, 360))
    joined = tmp_path / "switch.ts"
    joined.write_bytes(first.read_bytes() + second.read_bytes())
    config = tmp_path / "pixels.yaml"
    config.write_text(
        "zones: [{name: hall, polygon: [[0, 0], [790, 0], [790, 440], [0, 440]]}]\n"
        "rules: [{name: anyone, actions: [other, walking, standing], zones: [hall], min_confidence: 0.0}]\n"
    )
    export, events = tmp_path / "out.mp4", tmp_path / "events.jsonl"
    result = cli(
        "run", "--source", str(joined), "--config", str(config), "--export", str(export), "--events", str(events),
        "--no-progress", "--set", "detector.imgsz=640",
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    summary = summary_of(result)
    assert "outside the 640x360 frame" in summary["error"] and summary["frames"] == 12
    assert "Traceback" not in result.stderr
    assert len(decode_frames(export)) == 12
    entries = [json.loads(line) for line in events.read_text().splitlines()]
    starts = {e["alert_id"] for e in entries if e["type"] == "alert_start"}
    assert starts == {e["alert_id"] for e in entries if e["type"] == "alert_end"}


@pytest.mark.slow
def test_ctrl_c_while_outputs_are_finished_answers_at_once(concourse_video: Path, tmp_path: Path) -> None:
    """A Ctrl-C while the export is being finished is answered at once, and the export still plays."""
    export = tmp_path / "out.mp4"
    process = subprocess.Popen(
        [*HAR_STREAM, "run", "--source", str(concourse_video), "--export", str(export), *FAST,
         "--max-frames", "60", "--set", "output.video_preset=veryslow"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stderr is not None
    lines: list[str] = []
    for line in process.stderr:  # the run ends by itself after 60 frames; x264 veryslow then flushes its lookahead
        lines.append(line)
        if "finishing outputs" in line:
            process.send_signal(signal.SIGINT)
            break
    lines += process.stderr.readlines()
    process.wait(timeout=300)
    stderr = "".join(lines)
    assert process.returncode == 0, stderr
    answer = [i for i, line in enumerate(lines) if "SIGINT received: still finishing outputs" in line]
    done = [i for i, line in enumerate(lines) if "processed 60 frames" in line]
    assert answer and done and answer[0] < done[0], stderr  # answered before the outputs were done
    assert len(decode_frames(export)) == 60
