"""The parts of cluster mode that need no cluster: its config section, the actor's outbox, the head's ledger."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from har_stream.config import ConfigError
from har_stream.config.site import validate_site
from har_stream.rules.events import AlertEvent
from har_stream.serve.app import Camera, ServerHealth, create_app
from har_stream.serve.camera import CameraWorker
from har_stream.serve.cluster.ledger import WORKER_LOST, AlertLedger
from har_stream.serve.cluster.relay import EventRelay
from har_stream.serve.cluster.supervisor import RemoteCamera
from har_stream.serve.health import LOCAL_NODE, CameraHandle, CameraHealth
from har_stream.serve.hub import AlertHub
from har_stream.serve.runtime import SiteRuntime
from har_stream.store import EventStore


def event(kind: str, alert_id: str, wall: float = 1000.0) -> AlertEvent:
    return AlertEvent(kind, alert_id, "gate", "anyone", "low", 7, "walking", 0.6, None, 5.0, wall, 125, [1, 2, 3, 4])


def site(cluster: object) -> object:
    return validate_site({"cameras": [{"name": "a"}], "cluster": cluster}, env={})


def test_cluster_section_is_typed_and_errors_name_the_field() -> None:
    assert site(None).cluster is None  # the default: no cluster, nothing of Ray
    config = site({"engine": "ray", "address": "ray://head:10001", "camera_resources": {"num_cpus": 2}}).cluster
    assert config.address == "ray://head:10001" and config.camera_resources.num_cpus == 2.0
    assert config.max_restarts == -1  # Ray restarts a camera without limit unless told otherwise
    bad = {"engine": "spark", "address": "head", "camera_resources": {"num_cpu": 2}, "max_restarts": -2}
    with pytest.raises(ConfigError) as info:
        site(bad)
    text = str(info.value)
    assert "cluster.engine" in text and "'ray'" in text
    assert "cluster.address: " in text and "expected auto, local, host:port or ray://host:port" in text
    assert "cluster.camera_resources.num_cpu" in text and "cluster.max_restarts" in text
    with pytest.raises(ConfigError, match=r"cluster\.engine"):
        site({})


def test_outbox_keeps_events_until_acknowledged() -> None:
    relay = EventRelay(limit=3)
    relay.publish_alert(event("alert_start", "x"), "snapshots/gate/x.jpg")
    relay.clip_ready(["x"], "clips/gate/x.mp4")
    first = relay.pending(0)
    assert [(seq, kind) for seq, kind, _ in first] == [(1, "alert"), (2, "clip")]
    assert relay.pending(0) == first  # a reply lost on the way: the same items come again
    relay.publish_alert(event("alert_end", "x"))
    assert [seq for seq, _, _ in relay.pending(2)] == [3]
    for i in range(4):
        relay.publish_alert(event("alert_start", f"y{i}"))
    assert [seq for seq, _, _ in relay.pending(0)] == [5, 6, 7] and relay.dropped == 2


def test_ledger_passes_each_event_once_and_ends_what_a_lost_worker_left_open() -> None:
    ledger = AlertLedger()
    start = event("alert_start", "a1", wall=1000.0)
    assert ledger.accept(start, "inc1", 1000.0) == [start]
    assert ledger.accept(start, "inc1", 1001.0) == [] and ledger.duplicates == 1
    done = event("alert_start", "a2")
    assert ledger.accept(done, "inc1", 1000.0) == [done]
    end = event("alert_end", "a2")
    assert ledger.accept(end, "inc1", 1002.0) == [end] and ledger.accept(end, "inc1", 1002.0) == []
    assert ledger.open_alerts == 1
    (lost,) = ledger.lost("inc1", at=1004.5)
    assert (lost.type, lost.alert_id, lost.reason, lost.duration_s) == ("alert_end", "a1", WORKER_LOST, 4.5)
    assert lost.started_at == start.timestamp and lost.timestamp == start.timestamp + 4.5
    assert ledger.lost("inc1", at=1005.0) == [] and ledger.open_alerts == 0
    late = event("alert_start", "a3")  # from the lost worker, arriving after the head gave it up
    assert [e.type for e in ledger.accept(late, "inc1", 1006.0)] == ["alert_start", "alert_end"]
    assert ledger.accept(event("alert_end", "a1"), "inc1", 1007.0) == []  # its real end, too late: dropped


def test_store_keeps_the_first_end_and_ignores_repeats(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "events.db")
    start = event("alert_start", "a1")
    store.record(start, "snapshots/gate/a1.jpg")
    store.record(start)
    first = AlertLedger()
    first.accept(start, "inc1", 1000.0)
    (lost,) = first.lost("inc1", at=1003.0)
    store.record(lost)
    real = event("alert_end", "a1", wall=1010.0)
    real.duration_s, real.reason = 10.0, "track_ended"
    store.record(real)
    store.record(lost)
    total, rows = store.query()
    assert total == 1
    assert (rows[0]["end_reason"], rows[0]["ended_at"], rows[0]["snapshot"]) == (
        WORKER_LOST,
        1003.0,
        "snapshots/gate/a1.jpg",
    )
    store.close()


@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
def test_remote_camera_health_is_complete_before_its_first_report(tmp_path: Path) -> None:
    """Issue 30: ``GET /api/cameras`` answered 500 while a remote camera had not reported (fields missing)."""
    cameras = [{"name": "north", "source": {"uri": "rtsp://viewer:s3cret@cam.local/live"}}, {"name": "south"}]
    site = validate_site(
        {"cameras": cameras, "media": {"folder": str(tmp_path / "media")}, "cluster": {"engine": "ray"}}, env={}
    )
    local = validate_site({"cameras": cameras, "media": {"folder": str(tmp_path / "media")}}, env={})
    runtime = SiteRuntime(local)  # no Ray here: the remote cameras are made, not started
    remote = {c.camera: RemoteCamera(c, site.media, runtime.hub, site.cluster) for c in site.cameras}
    assert all(isinstance(c, CameraHandle) for c in [*remote.values(), *runtime.cameras.values()])
    health = remote["north"].health()
    assert isinstance(health, CameraHealth)
    assert CameraHealth.model_validate(health.model_dump()) == health  # complete: every field, nothing extra
    assert (health.status, health.connected, health.source) == ("starting", False, "rtsp://viewer:***@cam.local/live")
    assert (health.frames_processed, health.outages, health.reconnects, health.frame_age_s) == (0, 0, 0, None)
    assert (health.node, health.moves, health.open_alerts, health.error) == (None, 0, 0, None)
    assert remote["south"].health().source is None
    # The local cameras' health before they start has the same shape (cluster fields null), and says where it runs.
    assert runtime.cameras["north"].health().model_dump().keys() == health.model_dump().keys()
    local_health = runtime.cameras["north"].health()
    assert isinstance(runtime.cameras["north"], CameraWorker) and local_health.pid is None
    assert (local_health.node, local_health.host) == (LOCAL_NODE, socket.gethostname())

    runtime.cameras = remote  # what cluster mode's runtime holds, before any camera reported
    try:
        with TestClient(create_app(runtime), base_url="http://localhost") as client:
            listed = client.get("/api/cameras")
            assert listed.status_code == 200, listed.text
            assert [Camera.model_validate(c).name for c in listed.json()] == ["north", "south"]
            one = client.get("/api/cameras/north")
            assert one.status_code == 200 and one.json()["frame_age_s"] is None and one.json()["outages"] == 0
            server = client.get("/api/health")
            assert server.status_code == 200 and len(ServerHealth.model_validate(server.json()).cameras) == 2
            metrics = client.get("/metrics")
            assert metrics.status_code == 200 and 'har_stream_camera_frames_processed_total{camera="north"} 0.0' in (
                metrics.text
            )
    finally:
        runtime.stopping.set()
        runtime.stop()


def test_remote_camera_reports_are_validated_and_annotated(tmp_path: Path) -> None:
    site = validate_site(
        {"cameras": [{"name": "north"}], "media": {"folder": str(tmp_path / "media")}, "cluster": {"engine": "ray"}},
        env={},
    )
    store = EventStore(tmp_path / "events.db")
    hub = AlertHub(store, tmp_path, "http://localhost", dict)
    try:
        camera = RemoteCamera(site.cameras[0], site.media, hub, site.cluster)
        worker_health = CameraHealth.starting("north", None).model_copy(
            update={"status": "connected", "connected": True, "frames_processed": 7, "frame_age_s": 0.2}
        )
        reply = {"incarnation": "i1", "node": "n" * 56, "host": "worker-1", "pid": 4242, "events": [], "frame": None}
        camera._handle({**reply, "health": worker_health.as_json(), "stages": {"detect": (7, 0.7)}})
        health = camera.health()
        assert (health.status, health.frames_processed, health.frame_age_s) == ("connected", 7, 0.2)
        assert (health.node, health.host, health.pid, health.moves) == ("n" * 56, "worker-1", 4242, 0)
        assert camera.stage_totals() == {"detect": (7, 0.7)}
        # A worker on other code (a field missing): the head keeps going and says why the health is unknown.
        partial = {k: v for k, v in worker_health.as_json().items() if k != "outages"}
        camera._handle({**reply, "incarnation": "i2", "health": partial})
        health = camera.health()
        assert health.status == "error" and "cannot read" in (health.error or "") and health.node == "n" * 56
    finally:
        hub.close()
        store.close()
