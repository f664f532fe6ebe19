"""Fixtures for the serve tests: a site runtime over a real store and media files, cameras not started."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from har_stream.config.site import SiteConfig, validate_site
from har_stream.notify import alert_message
from har_stream.rules.events import AlertEvent
from har_stream.serve.runtime import SiteRuntime
from tests.serve.netutil import HookReceiver

T0 = 1_780_000_000.0  # 2026-05-28T20:26:40Z


def make_site(folder: Path, **server: object) -> SiteConfig:
    """Two cameras (never started here), media in ``folder``."""
    return validate_site(
        {
            "cameras": [
                {
                    "name": "gate",
                    "source": {"uri": str(folder / "gate.mp4")},
                    "rules": [{"name": "run", "actions": ["running"]}],
                    "zones": [{"name": "hall_floor", "polygon": [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]}],
                    "lines": [{"name": "door", "points": [[0.2, 0.5], [0.8, 0.5]]}],  # counts in the camera endpoints
                },
                {"name": "hall", "source": {"uri": str(folder / "hall.mp4")}},
            ],
            "media": {"folder": str(folder / "media")},
            "server": server,
        },
        env={},
    )


def seed(runtime: SiteRuntime, count: int = 12) -> list[str]:
    """Store ``count`` alerts (every third ended, each with a real JPEG snapshot); returns their ids."""
    image = np.full((72, 128, 3), 90, np.uint8)
    cv2.rectangle(image, (30, 10), (60, 60), (0, 0, 255), 2)
    ids = []
    for i in range(count):
        camera = "gate" if i % 2 == 0 else "hall"
        alert_id = f"alert{i:03d}"
        relative = f"snapshots/{camera}/{alert_id}.jpg"
        path = runtime.media_root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), image)
        action = "running" if i < 6 else "fighting"
        start = AlertEvent(
            "alert_start",
            alert_id,
            camera,
            "run",
            "high",
            i,
            action,
            0.7,
            None,
            float(i),
            T0 + 60 * i,
            i,
            [1, 2, 30, 40],
        )
        runtime.store.record(start, relative)
        if i % 3 == 0:
            end = AlertEvent(
                "alert_end",
                alert_id,
                camera,
                "run",
                "high",
                i,
                action,
                0.7,
                None,
                i + 2.0,
                T0 + 60 * i + 2,
                i,
                [1, 2, 3, 4],
            )
            end.duration_s, end.peak_confidence, end.reason = 2.0, 0.8, "condition_cleared"
            runtime.store.record(end)
        ids.append(alert_id)
    return ids


@pytest.fixture
def api_runtime(tmp_path: Path) -> Iterator[SiteRuntime]:
    """A runtime over a seeded store; cameras are not started (no models, no video)."""
    runtime = SiteRuntime(make_site(tmp_path))
    seed(runtime)
    yield runtime
    runtime.stop()


def gate_alert_message(alert_id: str = "abc123", kind: str = "alert_start", snapshot: str | None = None) -> dict:
    """The notifier message of a running alert at camera ``gate`` (what the hub hands webhooks and Apprise)."""
    event = AlertEvent(
        kind, alert_id, "gate", "running", "high", 3, "running", 0.9, "door", 1.5, 1000.0, 37, [1, 2, 3, 4]
    )
    return alert_message(event, snapshot, "http://127.0.0.1:8080")


@pytest.fixture
def receiver() -> Iterator[HookReceiver]:
    """A real HTTP endpoint on 127.0.0.1 that records what it receives (webhooks, Apprise's json://)."""
    server = HookReceiver()
    yield server
    server.close()
