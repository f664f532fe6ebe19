"""The parts of cluster mode that need no cluster: its config section, the actor's outbox, the head's ledger."""

from __future__ import annotations

from pathlib import Path

import pytest

from har_stream.cluster.ledger import WORKER_LOST, AlertLedger
from har_stream.cluster.relay import EventRelay
from har_stream.config import ConfigError
from har_stream.config.site import validate_site
from har_stream.rules.events import AlertEvent
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
