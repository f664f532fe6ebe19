"""Live RTSP faults against a real RTSP server (gst-rtsp-server) serving real footage.

The server is killed and restarted (a camera that drops), frozen with SIGSTOP (a camera that stalls with
its connection open), or never restarted (a camera that is gone). The pipeline must reconnect with capped
exponential backoff, end the tracks and alerts of a vanished scene, never crash, keep its frame age at the
level it had before the fault, and report camera health in the events log.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from har_stream.api import build_config
from har_stream.config import ReconnectConfig, SourceConfig
from har_stream.frame import FrameRecord
from har_stream.pipeline import Pipeline
from har_stream.sources import CameraStatus, FrameSource, open_source
from tests.conftest import REPO, decode_frames, write_clip
from tests.rtsp_camera import RtspCamera, free_port

FPS = 25
FRAME_INTERVAL_S = 1 / FPS


@pytest.fixture(scope="module")
def camera_clip(concourse_video: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two seconds of the concourse, its central 640x360 at full resolution (people as big as in the 720p)."""
    return write_clip(
        concourse_video, tmp_path_factory.mktemp("rtsp") / "camera.mp4", frames=50, crop=(320, 180, 640, 360)
    )


@pytest.fixture
def camera(camera_clip: Path) -> Iterator[RtspCamera]:
    """A running RTSP camera on a free port; killed at the end of the test."""
    cam = RtspCamera(camera_clip).start()
    yield cam
    cam.kill()


def stream_config(**reconnect: float | None) -> SourceConfig:
    """Source settings for the tests: short timeouts and backoff so faults resolve in seconds."""
    settings = {"initial_delay_s": 0.2, "max_delay_s": 0.8, "give_up_after_s": None, **reconnect}
    return SourceConfig(open_timeout_s=5.0, read_timeout_s=1.5, reconnect=ReconnectConfig(**settings))


def wait_for(condition, timeout: float, what: str) -> None:
    """Poll ``condition`` until it is true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)


def read_frames(source: FrameSource, count: int, timeout: float) -> list:
    """Read ``count`` frames from a started source, failing after ``timeout`` seconds."""
    frames = []
    deadline = time.monotonic() + timeout
    while len(frames) < count:
        assert time.monotonic() < deadline, f"got {len(frames)} of {count} frames in {timeout}s"
        frame = source.read(timeout=0.2)
        if frame is not None:
            frames.append(frame)
    return frames


def backoff_delays(events: list[dict]) -> list[list[float]]:
    """The retry delays of each outage, from the reconnecting records between two connected ones."""
    outages: list[list[float]] = []
    current: list[float] | None = None
    for entry in events:
        if entry.get("type") != "camera_health" or "report" in entry:
            continue
        if entry["status"] == "reconnecting":
            if current is None:
                current = []
                outages.append(current)
            current.append(entry["retry_in_s"])
        elif entry["status"] == "connected":
            current = None
    return outages


def expected_backoff(n: int, initial: float, cap: float) -> list[float]:
    """The first ``n`` delays of capped exponential backoff."""
    return [min(initial * 2**i, cap) for i in range(n)]


@dataclass
class Seen:
    """What the test saw of one processed frame."""

    processed_at: float  # monotonic, after every sink
    captured_at: float
    wall_time: float
    age_s: float
    ids: list[int]
    ended: list[int]


@dataclass
class FaultLog:
    """When the test killed and restarted the camera (monotonic and wall-clock seconds)."""

    killed: list[tuple[float, float]] = field(default_factory=list)
    restarted: list[tuple[float, float]] = field(default_factory=list)
    failure: str | None = None


@pytest.mark.slow
def test_pipeline_survives_ten_camera_kills(camera: RtspCamera, detector_640, tmp_path: Path) -> None:
    kills, frames_per_connection, down_s = 10, 12, 2.0
    config = build_config(
        REPO / "configs" / "concourse.yaml",
        source=camera.url,
        export=tmp_path / "out.mp4",
        events=tmp_path / "events.jsonl",
        overrides={
            "classifier.model": "none",
            "detector.imgsz": 640,
            "source.read_timeout_s": 3.0,
            "source.open_timeout_s": 5.0,
            "source.reconnect": {"initial_delay_s": 0.1, "max_delay_s": 0.4, "give_up_after_s": None},
            # Anyone seen for a moment raises an alert, so alerts are open at every drop even on a slow
            # machine where 640 px finds few of the concourse's small people.
            "rules": [{"name": "person_seen", "actions": ["*"], "min_confidence": 0.0, "min_duration_s": 0.2}],
        },
    )
    pipeline = Pipeline(config, detector=detector_640, action_model=None)
    seen: list[Seen] = []
    faults = FaultLog()

    def on_frame(record: FrameRecord) -> None:
        ids = [] if record.detections.tracker_id is None else [int(i) for i in record.detections.tracker_id]
        now = time.monotonic()
        seen.append(Seen(now, record.captured_at, record.wall_time, now - record.captured_at, ids, record.ended_tracks))

    def frames_since(t: float) -> int:
        return sum(1 for s in seen if s.captured_at > t)

    def chaos() -> None:
        try:
            since = 0.0
            for k in range(kills):
                wait_for(lambda s=since: frames_since(s) >= frames_per_connection, 120, f"frames before kill {k + 1}")
                camera.kill()
                faults.killed.append((time.monotonic(), time.time()))
                time.sleep(down_s)
                camera.start()
                since = time.monotonic()
                faults.restarted.append((since, time.time()))
            wait_for(lambda: frames_since(since) >= frames_per_connection, 120, "frames after the last restart")
        except BaseException as exc:
            faults.failure = f"{type(exc).__name__}: {exc}"
        finally:
            pipeline.request_stop()

    controller = threading.Thread(target=chaos, name="chaos")
    controller.start()
    result = pipeline.run(on_frame=on_frame)
    controller.join()

    assert faults.failure is None, faults.failure
    assert result.error is None and len(faults.killed) == kills
    assert result.summary["source"]["reconnects"] >= kills

    # Health: every drop is reported as reconnecting, every recovery as connected, in the events log.
    entries = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    health = [e for e in entries if e["type"] == "camera_health"]
    statuses = [e["status"] for e in health if "report" not in e]
    assert statuses.count("connected") == kills + 1
    assert {"fps_in", "fps_processed", "frames_dropped", "frames_in", "reconnects"} <= health[-1].keys()
    assert health[-1]["report"] == "final" and health[-1]["reconnects"] >= kills

    # Backoff: each outage retries after 0.1, 0.2, 0.4, 0.4, ... seconds, and really waits that long.
    outages = backoff_delays(entries)
    assert len(outages) == kills
    for delays in outages:
        assert delays == expected_backoff(len(delays), 0.1, 0.4), delays
    assert max(len(d) for d in outages) >= 4, "the outages were too short to reach the backoff cap"
    reconnecting = [e for e in health if e["status"] == "reconnecting" and "report" not in e]
    for before, after in itertools.pairwise(reconnecting):
        if after.get("attempt", 0) == before.get("attempt", 0) + 1:
            assert after["wall_time"] - before["wall_time"] >= 0.9 * before["retry_in_s"]

    # Tracks: everyone tracked before a drop is ended during the outage (the scene after a gap is new), so no
    # id from before a drop comes back after it.
    for (killed_at, _), (restarted_at, _) in zip(faults.killed, faults.restarted, strict=True):
        before = [s for s in seen if s.captured_at < killed_at]
        after = [s for s in seen if s.captured_at > restarted_at]
        ids_before = {i for s in before for i in s.ids}
        ids_after = {i for s in after for i in s.ids}
        assert ids_before.isdisjoint(ids_after), ids_before & ids_after
        # No stale frame from before the drop is processed once the new connection delivers.
        assert all(s.captured_at > killed_at for s in seen if s.processed_at >= after[0].processed_at)

    # Frame age: back to the pre-fault level after each reconnect (no backlog builds up).
    pre_fault = float(np.median([s.age_s for s in seen if s.captured_at < faults.killed[0][0]][3:]))
    settled_ages = []
    for k, (restarted_at, _) in enumerate(faults.restarted):
        until = faults.killed[k + 1][0] if k + 1 < kills else float("inf")
        segment = [s.age_s for s in seen if restarted_at < s.captured_at < until]
        settled_ages.append(float(np.median(segment[3:])))
        assert settled_ages[-1] <= max(2 * pre_fault, pre_fault + 5 * FRAME_INTERVAL_S), (k, pre_fault, segment)
    outage_s = [
        round(next(s.captured_at for s in seen if s.captured_at > r) - k, 2)
        for (k, _), (r, _) in zip(faults.killed, faults.restarted, strict=True)
    ]

    # Alerts: every start has an end; alerts open when the camera drops are closed during the outage (at the
    # last frame seen, reason camera_down), so no alert spans a drop.
    starts = {e["alert_id"]: e for e in entries if e["type"] == "alert_start"}
    ends = {e["alert_id"]: e for e in entries if e["type"] == "alert_end"}
    assert starts, "no alert was raised: the test would not show alerts being closed"
    assert starts.keys() == ends.keys()
    assert any(e["reason"] == "camera_down" for e in ends.values()), "no alert was open at a drop"
    for (_, killed_wall), (_, restarted_wall) in zip(faults.killed, faults.restarted, strict=True):
        for alert_id, start in starts.items():
            end = ends[alert_id]
            if start["wall_time"] < killed_wall < end["wall_time"]:
                # Frames already on the wire when the server died may follow the kill by a moment.
                assert end["wall_time"] < restarted_wall and end["reason"] == "camera_down", (start, end)

    # The export written across all the drops plays.
    assert len(decode_frames(tmp_path / "out.mp4")) == result.summary["frames"]
    report = {
        "frames": result.summary["frames"],
        "reconnects": result.summary["source"]["reconnects"],
        "backoff_delays_s": outages,
        "kill_to_first_new_frame_s": outage_s,
        "frame_age_ms_pre_fault_median": round(pre_fault * 1000),
        "frame_age_ms_after_each_reconnect_median": [round(a * 1000) for a in settled_ages],
        "alerts": len(starts),
        "alerts_closed_by_reason": {
            r: sum(e["reason"] == r for e in ends.values()) for r in {e["reason"] for e in ends.values()}
        },
    }
    print("rtsp kill/restart report:", json.dumps(report))


def test_stalled_stream_is_detected_and_reopened(camera: RtspCamera) -> None:
    config = stream_config()
    source = open_source(camera.url, config).start()
    try:
        read_frames(source, 10, timeout=60)
        source.drain_events()
        camera.freeze()
        frozen_at = time.monotonic()
        wait_for(lambda: source.status is CameraStatus.RECONNECTING, 30, "the stall watchdog")
        detected_after = time.monotonic() - frozen_at
        # The watchdog fires after read_timeout_s without data (ffmpeg may hand out one last frame first).
        assert config.read_timeout_s * 0.9 <= detected_after <= 3 * config.read_timeout_s + 2, detected_after
        time.sleep(2.0)  # reopening a frozen server times out too; the source keeps trying
        camera.thaw()
        thawed_at = time.monotonic()
        frames = read_frames(source, 10, timeout=60)
        assert all(f.captured_at > thawed_at for f in frames[2:])
    finally:
        source.close()
    events = source.drain_events()
    first = next(e for e in events if e.status is CameraStatus.RECONNECTING)
    assert "stream stalled: no data for read_timeout_s=1.5s" in first.detail
    assert any(e.status is CameraStatus.CONNECTED for e in events)


def test_camera_that_never_returns_ends_in_a_clear_error(camera: RtspCamera, detector_640, tmp_path: Path) -> None:
    give_up = 3.0
    config = build_config(
        source=camera.url,
        events=tmp_path / "events.jsonl",
        overrides={
            "classifier.model": "none",
            "detector.imgsz": 640,
            "source.read_timeout_s": 2.0,
            "source.reconnect": {"initial_delay_s": 0.2, "max_delay_s": 1.0, "give_up_after_s": give_up},
        },
    )
    pipeline = Pipeline(config, detector=detector_640, action_model=None)
    killed: list[float] = []

    def kill_after_frames(record: FrameRecord) -> None:
        if record.index >= 5 and not killed:
            camera.kill()
            killed.append(time.monotonic())

    result = pipeline.run(on_frame=kill_after_frames)
    ended_after = time.monotonic() - killed[0]
    assert result.error is not None and f"camera '{camera.url}' lost: no frames for" in result.error
    assert f"give_up_after_s={give_up}" in result.error
    assert give_up * 0.9 <= ended_after <= give_up + 10, ended_after
    health = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    statuses = [e["status"] for e in health if e["type"] == "camera_health"]
    assert statuses[0] == "connected" and "reconnecting" in statuses and statuses[-1] == "lost"


def test_camera_that_returns_late_is_found_when_retrying_forever(camera_clip: Path) -> None:
    camera = RtspCamera(camera_clip, port=free_port())  # not started: the camera is off at first
    source = open_source(camera.url, stream_config(give_up_after_s=None)).start()
    try:
        time.sleep(5.0)  # longer than any give-up time a short config would have
        assert source.status is CameraStatus.RECONNECTING and source.alive
        camera.start()
        frames = read_frames(source, 10, timeout=60)
        assert len(frames) == 10 and source.status is CameraStatus.CONNECTED
    finally:
        source.close()
        camera.kill()
    delays = [e.retry_in_s for e in source.drain_events() if e.status is CameraStatus.RECONNECTING]
    assert len(delays) >= 6 and delays == expected_backoff(len(delays), 0.2, 0.8)
