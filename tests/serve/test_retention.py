"""Media retention on real files: real JPEG snapshots and H.264 clips in a media folder, real store rows, the real
API on a real server. Old files go, then the oldest down to the size limit; an open alert's files never go."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from har_stream.config import ConfigError
from har_stream.config.site import RetentionConfig, SiteConfig, validate_site
from har_stream.rules.events import AlertEvent
from har_stream.serve.retention import GB, MediaPruner
from har_stream.serve.runtime import SiteRuntime
from tests.conftest import write_clip
from tests.serve.test_api import raw_get, serving

DAY = 86_400.0


def site(folder: Path, retention: dict | None = None, **camera: object) -> SiteConfig:
    media: dict = {"folder": str(folder / "media")}
    if retention is not None:
        media["retention"] = retention
    return validate_site(
        {"cameras": [{"name": "gate", "source": {"uri": str(folder / "gate.mp4")}, **camera}], "media": media},
        env={},
    )


def jpeg(path: Path, seed: int, age_s: float) -> str:
    """A real JPEG of random pixels (incompressible: tens of kB) whose file time is ``age_s`` ago."""
    image = np.random.default_rng(seed).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)
    age(path, age_s)
    return path.as_posix()


def age(path: Path, age_s: float) -> None:
    stamp = time.time() - age_s
    os.utime(path, (stamp, stamp))


class Media:
    """Alerts with their snapshot and clip files in a runtime's media folder and store."""

    def __init__(self, runtime: SiteRuntime, video: Path) -> None:
        self.runtime = runtime
        self.root = runtime.media_root
        self.video = video

    def size(self, relative: str) -> int:
        return (self.root / relative).stat().st_size

    def exists(self, relative: str) -> bool:
        return (self.root / relative).exists()

    def alert(self, alert_id: str, age_s: float, open_: bool = False, clip: bool = True) -> list[str]:
        """Store an alert (ended unless ``open_``) whose files are ``age_s`` old; returns their relative paths."""
        snapshot = f"snapshots/gate/gate_{alert_id}_run_track1.jpg"
        jpeg(self.root / snapshot, seed=hash(alert_id) % 1000, age_s=age_s)
        start = AlertEvent(
            "alert_start", alert_id, "gate", "run", "high", 1, "running", 0.8, None, 0.0,
            time.time() - age_s, 0, [1, 2, 30, 40],
        )  # fmt: skip
        store = self.runtime.store
        store.record(start, snapshot)
        paths = [snapshot]
        if clip:
            relative = f"clips/gate/{alert_id}.mp4"
            (self.root / relative).parent.mkdir(parents=True, exist_ok=True)
            write_clip(self.video, self.root / relative, frames=4, size=(160, 90))
            age(self.root / relative, age_s)
            store.set_clip(alert_id, relative)
            paths.append(relative)
        if not open_:
            end = AlertEvent(
                "alert_end", alert_id, "gate", "run", "high", 1, "running", 0.8, None, 2.0,
                time.time() - age_s + 2, 0, [1, 2, 30, 40],
            )  # fmt: skip
            end.duration_s, end.peak_confidence, end.reason = 2.0, 0.8, "condition_cleared"
            store.record(end)
        return paths


@pytest.fixture
def media(tmp_path: Path, concourse_video: Path):
    runtime = SiteRuntime(site(tmp_path))
    yield Media(runtime, concourse_video)
    runtime.stop()


def test_old_files_go_but_not_those_of_an_open_alert(media: Media) -> None:
    old = media.alert("old", 40 * DAY)
    still_open = media.alert("open", 45 * DAY, open_=True)
    recent = media.alert("recent", 2 * DAY)
    orphan = "snapshots/gate/left_over.jpg"  # no alert refers to it
    jpeg(media.root / orphan, seed=7, age_s=50 * DAY)
    pruner = MediaPruner(media.root, media.runtime.store, RetentionConfig(max_age_days=30))

    report = pruner.prune()
    assert sorted(report.deleted) == sorted([*old, orphan])
    assert report.protected == 2  # the open alert's snapshot and clip, old as they are
    assert not any(media.exists(p) for p in [*old, orphan])
    assert all(media.exists(p) for p in [*still_open, *recent])
    assert report.remaining_bytes == sum(media.size(p) for p in [*still_open, *recent])
    store = media.runtime.store
    assert store.get("old")["snapshot"] is None and store.get("old")["clip"] is None  # no longer offered
    assert store.get("open")["snapshot"] == still_open[0] and store.get("open")["clip"] == still_open[1]

    with serving(media.runtime) as port:
        status, body, _ = raw_get(port, "/api/events/old")
        assert status == 200 and b'"snapshot_url":null' in body and b'"clip_url":null' in body
        assert raw_get(port, "/api/events/old/snapshot")[0] == 404
        for path in old:
            assert raw_get(port, f"/media/{path}")[0] == 404
        status, body, headers = raw_get(port, "/api/events/open/snapshot")
        assert status == 200 and headers["content-type"] == "image/jpeg" and body[:2] == b"\xff\xd8"
        assert raw_get(port, f"/media/{still_open[1]}")[0] == 200
        # A file deleted behind the store's back is a 404 too, never a server error.
        (media.root / recent[0]).unlink()
        assert raw_get(port, "/api/events/recent/snapshot")[0] == 404
        assert raw_get(port, "/api/events/recent")[0] == 200
        media.runtime.stopping.set()

    # Once the alert has ended, its old files go at the next clean-up.
    end = AlertEvent("alert_end", "open", "gate", "run", "high", 1, "running", 0.8, None, 3.0, time.time(), 0, [1])
    end.duration_s, end.reason = 3.0, "track_ended"
    store.record(end)
    assert sorted(pruner.prune().deleted) == sorted(still_open)


def test_size_limit_deletes_oldest_first_and_spares_open_alerts_and_fresh_files(
    media: Media, caplog: pytest.LogCaptureFixture
) -> None:
    protected = media.alert("open", 30 * DAY, open_=True)  # the oldest files of all
    closed = [media.alert(f"closed{i}", (20 - i) * DAY) for i in range(5)]  # closed0 is the oldest of these
    fresh = jpeg(media.root / "snapshots/gate/being_written.jpg", seed=99, age_s=5)  # not in the store yet
    fresh_relative = Path(fresh).relative_to(media.root).as_posix()
    every = [*protected, *[p for paths in closed for p in paths], fresh_relative]
    total = sum(media.size(p) for p in every)
    two_oldest = closed[0] + closed[1]
    limit = total - sum(media.size(p) for p in two_oldest)  # exactly what deleting the two oldest leaves
    pruner = MediaPruner(media.root, media.runtime.store, RetentionConfig(max_gb=(limit + 0.5) / GB))

    report = pruner.prune()
    assert sorted(report.deleted) == sorted(two_oldest)
    assert report.remaining_bytes == limit and not report.over_size
    assert all(media.exists(p) for p in every if p not in two_oldest)

    # A limit below what the open alert and the fresh file take: everything else goes, they stay.
    pruner = MediaPruner(media.root, media.runtime.store, RetentionConfig(max_gb=1000 / GB))
    with caplog.at_level(logging.WARNING, "har_stream.serve.retention"):
        report = pruner.prune()
    assert sorted(report.deleted) == sorted(p for paths in closed[2:] for p in paths)
    assert report.over_size and report.protected == 3
    assert all(media.exists(p) for p in [*protected, fresh_relative])
    assert report.remaining_bytes == sum(media.size(p) for p in [*protected, fresh_relative])
    assert any("above max_gb" in r.getMessage() for r in caplog.records)
    assert media.runtime.store.get("closed4")["snapshot"] is None


def test_the_site_prunes_at_start_and_then_periodically_until_stopped(tmp_path: Path) -> None:
    config = site(
        tmp_path,
        {"max_age_days": 1, "interval_s": 1},
        classifier={"model": "none"},
        temporal={"model": "none"},
        detector={"imgsz": 320},
    )
    runtime = SiteRuntime(config)
    first = tmp_path / "media" / "snapshots" / "gate" / "first.jpg"
    jpeg(first, seed=1, age_s=3 * DAY)
    kept = tmp_path / "media" / "clips" / "gate" / "today.jpg"
    jpeg(kept, seed=2, age_s=3600)
    assert runtime.pruner is not None and not runtime.pruner.alive
    try:
        runtime.start()
        _wait_until(lambda: not first.exists())  # the clean-up at start
        later = tmp_path / "media" / "clips" / "gate" / "later.jpg"
        jpeg(later, seed=3, age_s=2 * DAY)
        _wait_until(lambda: not later.exists())  # the next periodic one
        assert kept.exists() and runtime.pruner.runs >= 2
    finally:
        runtime.stop()
    assert not runtime.pruner.alive


def _wait_until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_retention_config_errors_name_the_field(tmp_path: Path) -> None:
    cases = {
        "media.retention: set max_age_days, max_gb or both": {},
        "media.retention.max_age_days: Input should be greater than 0 (got 0)": {"max_age_days": 0},
        "media.retention.max_gb: Input should be a valid number": {"max_gb": "lots"},
        "media.retention.max_days: unknown field (did you mean 'max_age_days'?)": {"max_days": 30},
        "media.retention.interval_s: Input should be greater than or equal to 1": {"max_gb": 1, "interval_s": 0},
    }
    for expected, retention in cases.items():
        with pytest.raises(ConfigError) as info:
            site(tmp_path, retention)
        assert any(str(issue).startswith(expected) for issue in info.value.issues), (expected, info.value.issues)
    assert site(tmp_path).media.retention is None  # default: keep everything
    assert site(tmp_path, {"max_gb": 20}).media.retention == RetentionConfig(max_gb=20)
