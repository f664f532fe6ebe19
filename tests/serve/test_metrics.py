"""``GET /metrics``: a real site runtime processing a real clip, scraped over a real server and parsed with
prometheus_client's own parser; the route is guarded like the rest of the API."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from har_stream import __version__
from har_stream.config.site import validate_site
from har_stream.serve.runtime import SiteRuntime
from har_stream.store import EventQuery
from tests.conftest import SHARED, require, write_clip
from tests.serve.conftest import make_site
from tests.serve.test_api import TOKEN, raw_get, serving

CLASSROOM = SHARED / "videos" / "cctv" / "saumyajha_classroom_cctv.mp4"
CAMERA_FAMILIES = {
    "har_stream_camera_connected": "gauge",
    "har_stream_camera_fps_in": "gauge",
    "har_stream_camera_fps_processed": "gauge",
    "har_stream_camera_frames_in": "counter",
    "har_stream_camera_frames_processed": "counter",
    "har_stream_camera_frames_dropped": "counter",
    "har_stream_camera_frame_age_seconds": "gauge",
    "har_stream_camera_reconnects": "counter",
    "har_stream_camera_reconnect_attempts": "counter",
    "har_stream_camera_active_alerts": "gauge",
    "har_stream_camera_stage_seconds": "summary",
}


def scrape(port: int, **headers: str) -> dict[str, dict]:
    """Fetch /metrics and parse it: {family name: {"type": ..., "samples": [(name, labels, value), ...]}}."""
    status, body, response_headers = raw_get(port, "/metrics", headers)
    assert status == 200, body[:300]
    assert response_headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        family.name: {"type": family.type, "samples": [(s.name, s.labels, s.value) for s in family.samples]}
        for family in text_string_to_metric_families(body.decode("utf-8"))
    }


def value(families: dict, family: str, sample: str | None = None, **labels: str) -> float | None:
    """The value of the sample of ``family`` named ``sample`` (default: the family's own) with ``labels``."""
    for name, have, number in families[family]["samples"]:
        if name == (sample or family) and all(have.get(k) == v for k, v in labels.items()):
            return number
    return None


@pytest.fixture
def site_runtime(tmp_path: Path):
    """Camera gate processes 60 real classroom frames (two rules: every person, high; after 1 s, low); camera
    hall has no video, so it stays down."""
    clip = write_clip(require(CLASSROOM), tmp_path / "classroom60.mp4", frames=60)
    site = validate_site(
        {
            "defaults": {"classifier": {"model": "none"}, "temporal": {"model": "none"}, "detector": {"imgsz": 640}},
            "cameras": [
                {
                    "name": "gate",
                    "source": {"uri": str(clip)},
                    "rules": [
                        {"name": "anyone", "actions": ["*"], "min_confidence": 0, "min_duration_s": 0,
                         "severity": "high"},
                        {"name": "lingering", "actions": ["*"], "min_confidence": 0, "min_duration_s": 1.0,
                         "severity": "low"},
                    ],
                },
                {"name": "hall", "source": {"uri": str(tmp_path / "missing.mp4")}},
            ],
            "media": {"folder": str(tmp_path / "media"), "clips": False},
        },
        env={},
    )  # fmt: skip
    runtime = SiteRuntime(site)
    yield runtime
    runtime.stopping.set()
    runtime.stop()


def test_metrics_of_a_running_site(site_runtime: SiteRuntime) -> None:
    runtime = site_runtime.start()
    gate = runtime.cameras["gate"]
    with serving(runtime) as port:
        deadline = time.monotonic() + 180
        while True:  # while the clip plays
            families = scrape(port)
            if (value(families, "har_stream_camera_frames_processed", "har_stream_camera_frames_processed_total",
                      camera="gate") or 0) > 0:  # fmt: skip
                break
            assert time.monotonic() < deadline, "no frame processed"
            time.sleep(0.1)
        for name, kind in CAMERA_FAMILIES.items():
            assert families[name]["type"] == kind, name
        assert value(families, "har_stream_camera_connected", camera="gate") == 1.0
        assert value(families, "har_stream_camera_fps_in", camera="gate") > 0
        assert value(families, "har_stream_camera_connected", camera="hall") == 0.0
        assert 0 <= value(families, "har_stream_camera_frame_age_seconds", camera="gate") < 60
        assert value(families, "har_stream_camera_frame_age_seconds", camera="hall") is None  # never had a frame
        [(_, info, one)] = families["har_stream_info"]["samples"]
        assert info["version"] == __version__ and one == 1
        assert "process_resident_memory_bytes" in families

        while True:  # the whole clip played, and the hub has stored every alert's end
            rows = runtime.store.query(EventQuery(limit=100_000))[1]
            if gate.health().status == "finished" and rows and all(r["ended_at"] is not None for r in rows):
                break
            assert time.monotonic() < deadline, gate.health()
            time.sleep(0.2)
        stored = Counter((row["camera"], row["rule"], row["severity"]) for row in rows)
        families = scrape(port)
        runtime.stopping.set()

    frames = value(families, "har_stream_camera_frames_processed", "har_stream_camera_frames_processed_total",
                   camera="gate")  # fmt: skip
    assert frames == 60 and gate.health().frames_processed == 60
    assert value(families, "har_stream_camera_frames_in", "har_stream_camera_frames_in_total", camera="gate") == 60
    assert value(families, "har_stream_camera_frames_dropped", "har_stream_camera_frames_dropped_total",
                 camera="gate") == 0  # a file loses no frame  # fmt: skip
    assert value(families, "har_stream_camera_reconnects", "har_stream_camera_reconnects_total", camera="gate") == 0
    assert value(families, "har_stream_camera_active_alerts", camera="gate") == 0

    # Time per stage: every processed frame went through the detector and the classifier stage.
    stage = "har_stream_camera_stage_seconds"
    for name in ("detect", "classify", "track", "rules"):
        assert value(families, stage, f"{stage}_count", camera="gate", stage=name) == 60, name
        total = value(families, stage, f"{stage}_sum", camera="gate", stage=name)
        assert total is not None and 0 < total < 600, (name, total)
    detect_ms = 1000 * value(families, stage, f"{stage}_sum", camera="gate", stage="detect") / 60
    assert detect_ms > 1  # a real detector on 640 px frames takes milliseconds, not microseconds

    # Alerts by camera, rule and severity: what the store holds.
    alerts = {
        (labels["camera"], labels["rule"], labels["severity"]): number
        for name, labels, number in families["har_stream_alerts"]["samples"]
        if name == "har_stream_alerts_total"
    }
    assert alerts == dict(stored)
    assert alerts[("gate", "anyone", "high")] > 0 and alerts[("gate", "lingering", "low")] > 0
    assert not any(camera == "hall" for camera, _, _ in alerts)


def test_metrics_need_the_token_and_an_allowed_host(tmp_path: Path) -> None:
    runtime = SiteRuntime(make_site(tmp_path, host="0.0.0.0", token=TOKEN))
    try:
        with serving(runtime) as port:
            assert raw_get(port, "/metrics")[0] == 401
            assert raw_get(port, "/metrics", {"Authorization": "Bearer wrong-token-xyz-123"})[0] == 401
            families = scrape(port, Authorization=f"Bearer {TOKEN}")
            assert {"har_stream_camera_connected", "har_stream_alerts"} <= families.keys()
            status, body, _ = raw_get(port, "/metrics", {"Host": "evil.example", "Authorization": f"Bearer {TOKEN}"})
            assert status == 421 and b"har_stream" not in body
            runtime.stopping.set()
    finally:
        runtime.stop()
