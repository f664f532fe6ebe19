"""Shutdown and data safety, with real signals sent to a real ``har-stream run`` process.

SIGINT and SIGTERM must finish the current frame, end open alerts with an end record, finalise a playable
export and exit within a few seconds; SIGKILL may lose at most the events line being written.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from har_stream.api import build_config
from har_stream.pipeline import Pipeline
from tests.conftest import REPO, count_decodable_frames, decode_frames, write_clip
from tests.rtsp_camera import RtspCamera

pytestmark = pytest.mark.slow

#: Generous: the process finishes one frame, flushes the encoder and exits; CI has 2 busy cores.
EXIT_WITHIN_S = 20.0


@pytest.fixture(scope="module")
def long_clip(concourse_video: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 frames (12 s) of the concourse's central 640x360: long enough to be interrupted mid-run."""
    target = tmp_path_factory.mktemp("shutdown") / "centre300.mp4"
    return write_clip(concourse_video, target, frames=300, crop=(320, 180, 640, 360))


class Run:
    """A ``har-stream run`` subprocess writing an export and an events log into ``folder``."""

    def __init__(self, source: str, folder: Path, *extra: str) -> None:
        self.export = folder / "out.mp4"
        self.events = folder / "events.jsonl"
        self.stdout = folder / "stdout.txt"
        self.stderr = folder / "stderr.txt"
        command = [
            sys.executable, "-m", "har_stream.cli", "run",
            "--source", source,
            "--config", "configs/concourse.yaml",
            "--set", "detector.imgsz=640",
            "--set", "classifier.model=none",
            "--export", str(self.export),
            "--events", str(self.events),
            "--no-progress",
            *extra,
        ]  # fmt: skip
        with self.stdout.open("w") as out, self.stderr.open("w") as err:
            self.process = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=err)

    def entries(self) -> list[dict]:
        """Complete events lines so far, parsed."""
        if not self.events.exists():
            return []
        return [json.loads(line) for line in self.events.read_text().splitlines(keepends=True) if line.endswith("\n")]

    def wait_for(self, condition: Callable[[list[dict]], bool], what: str, timeout: float = 240) -> None:
        """Wait until ``condition(entries)`` holds; fail if the process ends or ``timeout`` passes first."""
        deadline = time.monotonic() + timeout
        while not condition(self.entries()):
            if self.process.poll() is not None:
                pytest.fail(f"har-stream exited ({self.process.returncode}) before {what}:\n{self.stderr.read_text()}")
            if time.monotonic() > deadline:
                self.process.kill()
                pytest.fail(f"timed out waiting for {what}:\n{self.stderr.read_text()[-3000:]}")
            time.sleep(0.1)

    def stop_with(self, signum: int) -> float:
        """Send ``signum`` and return how long the process took to exit."""
        sent = time.monotonic()
        self.process.send_signal(signum)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            pytest.fail(f"har-stream did not exit within 60s of {signal.Signals(signum).name}")
        return time.monotonic() - sent

    def summary(self) -> dict:
        """The run summary: the last stdout line."""
        return json.loads(self.stdout.read_text().strip().splitlines()[-1])


def alert_started(entries: list[dict]) -> bool:
    return any(e["type"] == "alert_start" for e in entries)


def assert_outputs_complete(run: Run) -> dict:
    """Export plays with every processed frame; events are valid JSON, alerts pair up, health is final."""
    summary = run.summary()
    assert summary["interrupted"] is True and summary["frames"] > 0
    assert len(decode_frames(run.export)) == summary["frames"]
    lines = run.events.read_text().splitlines(keepends=True)
    assert all(line.endswith("\n") for line in lines)
    entries = [json.loads(line) for line in lines]
    starts = {e["alert_id"] for e in entries if e["type"] == "alert_start"}
    ends = {e["alert_id"]: e for e in entries if e["type"] == "alert_end"}
    assert starts and starts == set(ends), "an alert was left open"
    assert entries[-1]["type"] == "camera_health" and entries[-1]["report"] == "final"
    return {"frames": summary["frames"], "shutdown_ends": sum(e["reason"] == "shutdown" for e in ends.values())}


def test_sigint_finalises_outputs_and_exits(long_clip: Path, tmp_path: Path) -> None:
    run = Run(str(long_clip), tmp_path)
    run.wait_for(alert_started, "the first alert")
    took = run.stop_with(signal.SIGINT)
    assert run.process.returncode == 0, run.stderr.read_text()
    assert took < EXIT_WITHIN_S, took
    outcome = assert_outputs_complete(run)
    assert outcome["frames"] < 300, "the run finished before the signal"
    assert "SIGINT received" in run.stderr.read_text()
    print(f"SIGINT: exited in {took:.2f}s", outcome)


def test_sigint_while_models_load_exits_130_and_writes_nothing(long_clip: Path, tmp_path: Path) -> None:
    # The Keras classifier takes seconds to build: long enough to interrupt the loading for sure.
    run = Run(str(long_clip), tmp_path, "--set", "classifier.model=default", "--set", "classifier.runtime=keras")
    deadline = time.monotonic() + 120
    while "loading models" not in run.stderr.read_text():
        assert run.process.poll() is None and time.monotonic() < deadline, run.stderr.read_text()
        time.sleep(0.05)
    took = run.stop_with(signal.SIGINT)
    stderr = run.stderr.read_text()
    assert run.process.returncode == 130, stderr
    assert "interrupted while loading models" in stderr and "Traceback" not in stderr
    assert not run.export.exists() and not run.events.exists()
    assert took < EXIT_WITHIN_S, took


def test_sigterm_while_the_camera_is_down(long_clip: Path, tmp_path: Path) -> None:
    camera = RtspCamera(long_clip).start()
    try:
        run = Run(camera.url, tmp_path, "--set", "source.reconnect.initial_delay_s=0.2")
        run.wait_for(alert_started, "the first alert")
        camera.kill()  # the camera drops: the run is reconnecting when the signal comes
        run.wait_for(lambda es: any(e.get("status") == "reconnecting" for e in es), "the drop to be noticed")
        took = run.stop_with(signal.SIGTERM)
    finally:
        camera.kill()
    assert run.process.returncode == 0, run.stderr.read_text()
    assert took < EXIT_WITHIN_S, took
    outcome = assert_outputs_complete(run)
    assert "SIGTERM received" in run.stderr.read_text()
    print(f"SIGTERM while reconnecting: exited in {took:.2f}s", outcome)


def test_sigkill_loses_at_most_the_line_being_written(long_clip: Path, tmp_path: Path) -> None:
    run = Run(str(long_clip), tmp_path)
    # Kill once alerts show the run is past frame 110: two export fragments (2 s each) are complete by then.
    run.wait_for(lambda es: any(e.get("frame_index", 0) >= 110 for e in es), "frame 110")
    run.process.kill()
    run.process.wait(timeout=30)
    text = run.events.read_text()
    lines = text.splitlines(keepends=True)
    complete = [line for line in lines if line.endswith("\n")]
    assert len(complete) >= len(lines) - 1 and len(complete) >= 2
    for line in complete:
        json.loads(line)  # every line written before the kill is whole
    # The fragmented export plays up to its last complete fragment.
    frames = count_decodable_frames(run.export)
    assert frames >= 50
    print(f"SIGKILL: {len(complete)} whole events lines, partial last line: {len(lines) != len(complete)}, "
          f"{frames} frames playable in the export")  # fmt: skip


def test_stop_request_joins_every_thread(long_clip: Path, detector_640, tmp_path: Path) -> None:
    config = build_config(
        REPO / "configs" / "concourse.yaml",
        source=str(long_clip),
        export=tmp_path / "out.mp4",
        events=tmp_path / "events.jsonl",
        overrides={"detector.imgsz": 640, "classifier.model": "none"},
    )
    pipeline = Pipeline(config, detector=detector_640, action_model=None)
    before = set(threading.enumerate())

    def stop_after_ten(record) -> None:
        if record.index >= 10:
            pipeline.request_stop()

    result = pipeline.run(on_frame=stop_after_ten)
    assert result.interrupted and result.summary["frames"] == 11
    left = [t.name for t in set(threading.enumerate()) - before if t.is_alive()]
    assert not [name for name in left if name.startswith(("source-", "video-export", "stage-"))], left
    assert len(decode_frames(tmp_path / "out.mp4")) == 11
