"""Cluster mode on a real Ray cluster: a head and two worker nodes as real Ray processes on this machine.

Two cameras replay real footage as Ray actors; the worker node running the first camera is killed mid-run.
The camera must run again on the other node (the recovery time is measured and printed), show
``reassigning`` meanwhile, keep alerting, and every alert must reach the store and the webhook exactly once
with exactly one end (``worker_lost`` for those the dead node left open).
"""

from __future__ import annotations

import collections
import json
import sqlite3
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import cv2
import pytest

from har_stream.config.site import validate_site
from har_stream.serve.runtime import SiteRuntime
from tests.serve.cluster.conftest import camera
from tests.serve.netutil import HookReceiver
from tests.serve.test_api import serving

pytest.importorskip("ray.cluster_utils")


def wait_until(condition: Callable[[], Any], timeout: float, what: str, step: float = 0.2) -> Any:
    """Poll ``condition`` until it returns something truthy; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")


def api(port: int, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return json.loads(response.read())


def test_camera_moves_to_another_node_when_its_node_dies(
    ray_cluster: tuple[Any, list[Any]], small_crowd_clip: Path, tmp_path: Path
) -> None:
    cluster, workers = ray_cluster
    hook = HookReceiver()
    site = validate_site(
        {
            "cameras": [camera("north", small_crowd_clip), camera("south", small_crowd_clip)],
            "media": {"folder": str(tmp_path / "media"), "clip_pre_s": 0.5, "clip_post_s": 0.5},
            "notify": {"webhooks": [{"url": hook.url}]},
            "cluster": {
                "engine": "ray",
                "address": cluster.address,
                "camera_resources": {"num_cpus": 1},
                "max_restarts": 3,
                "reassigning_after_s": 1.0,
            },
        },
        env={},
    )
    runtime = SiteRuntime(site)
    north = runtime.cameras["north"]
    try:
        with serving(runtime) as port:
            runtime.start()
            wait_until(
                lambda: all(c.health().frames_processed > 0 for c in runtime.cameras.values()),
                180,
                "both cameras to process frames on the worker nodes",
            )
            wait_until(lambda: north.ledger.open_alerts > 0, 120, "an open alert on camera north")
            first_node = north.health().node
            assert first_node in {w.node_id for w in workers}  # placed on a worker, not the head (0 CPUs)
            victim = next(w for w in workers if w.node_id == first_node)
            open_at_kill = north.ledger.open_alerts
            print(f"\nkilling node {first_node[:12]} (north has {open_at_kill} open alerts)")
            killed_at = time.monotonic()
            cluster.remove_node(victim, allow_graceful=False)

            statuses_seen = set()

            def moved() -> bool:
                health = north.health()
                statuses_seen.add(health.status)
                statuses_seen.add(api(port, "/api/cameras/north")["status"])
                return health.node != first_node and health.frames_processed > 0

            wait_until(moved, 120, "camera north to process frames on the other node")
            recovery_s = time.monotonic() - killed_at
            print(f"camera north recovered on node {north.health().node[:12]} in {recovery_s:.1f}s")
            assert "reassigning" in statuses_seen
            assert north.moves and north.health().moves == 1

            recovered_wall = time.time()
            wait_until(
                lambda: (
                    runtime.store.query()[1]
                    and any(
                        r["camera"] == "north" and r["started_at"] > recovered_wall for r in runtime.store.query()[1]
                    )
                ),
                120,
                "a new alert on camera north after the move",
            )
            assert api(port, "/api/cameras/south")["status"] == "connected"
            from prometheus_client.parser import text_string_to_metric_families

            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
                families = {f.name: f for f in text_string_to_metric_families(response.read().decode())}
            detect = [
                s for s in families["har_stream_camera_stage_seconds"].samples if s.labels.get("stage") == "detect"
            ]
            assert {s.labels["camera"] for s in detect} == {"north", "south"}  # remote cameras report stage times
    finally:
        runtime.stop()

    store = sqlite3.connect(site.store_path)
    assert store.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = [dict(zip([d[0] for d in store.execute("SELECT * FROM alerts").description], r, strict=True))
            for r in store.execute("SELECT * FROM alerts")]  # fmt: skip
    store.close()
    assert rows and {r["camera"] for r in rows} == {"north", "south"}
    assert all(r["ended_at"] is not None and r["end_reason"] for r in rows), "an alert without an end"
    reasons = collections.Counter(r["end_reason"] for r in rows)
    lost = [r for r in rows if r["end_reason"] == "worker_lost"]
    assert len(lost) >= open_at_kill and {r["camera"] for r in lost} == {"north"}, reasons

    # Delivered downstream exactly once each: one start and one end per alert.
    hook.wait_for(2 * len(rows), timeout=30)
    time.sleep(1)
    kinds = collections.Counter((m.body["alert_id"], m.body["type"]) for m in hook.received)
    hook.close()
    assert set(kinds.values()) == {1}, "an event delivered twice"
    assert {a for a, _ in kinds} == {r["alert_id"] for r in rows}
    assert all((r["alert_id"], t) in kinds for r in rows for t in ("alert_start", "alert_end"))

    # The exports stay readable: every snapshot and clip the store names opens and decodes.
    media = tmp_path / "media"
    for row in rows:
        if row["snapshot"]:
            assert cv2.imread(str(media / row["snapshot"])) is not None, row["snapshot"]
        if row["clip"]:
            with av.open(str(media / row["clip"])) as clip:
                assert next(clip.decode(video=0)) is not None, row["clip"]
    print(f"{len(rows)} alerts, end reasons {dict(reasons)}")
