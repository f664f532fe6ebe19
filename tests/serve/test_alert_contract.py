"""One alert record, end to end: an alert the rule engine raises reads the same in the event log, the store,
the API, live updates and the notifier message (har_stream/rules/events.py defines them all)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from har_stream.notify.message import alert_message
from har_stream.rules import RuleEngine
from har_stream.rules.events import Alert, AlertEvent
from har_stream.serve.app import Event, create_app
from har_stream.serve.runtime import SiteRuntime
from har_stream.sinks import EventLogSink
from tests.rules.test_rules import ZONE, Person, frame, rule
from tests.serve.conftest import make_site

#: Fields the start record and the stored alert share by name and value.
SHARED = ("alert_id", "camera", "rule", "severity", "track_id", "action", "confidence", "zone", "frame_index")


def raise_alert() -> tuple[AlertEvent, AlertEvent]:
    """A start and an end from the rule engine: a person runs in the door zone for 1 s, then their track ends."""
    engine = RuleEngine([rule(name="run", zones=["door"], severity="high")], [ZONE], camera="gate")
    events: list[AlertEvent] = []
    person = Person(track_id=4, confidence=0.87, box=(100.04, 100.06, 150.0, 299.96))
    for i in range(11):
        record = frame(i * 0.1, person, wall=1_780_000_000.0)
        engine(record)
        events += record.alerts
    record = frame(1.1, ended=[4], wall=1_780_000_000.0)
    engine(record)
    events += record.alerts
    assert [e.type for e in events] == ["alert_start", "alert_end"]
    return events[0], events[1]


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[SiteRuntime]:
    runtime = SiteRuntime(make_site(tmp_path))
    yield runtime
    runtime.stop()


def test_one_alert_reads_the_same_everywhere(runtime: SiteRuntime, tmp_path: Path) -> None:
    start, end = raise_alert()
    start.snapshot = str(runtime.media_root / "snapshots/gate/a.jpg")

    # The event log: each record as to_json() gives it, one line each.
    sink = EventLogSink(tmp_path / "events.jsonl")
    for event in (start, end):
        sink.append(event.to_json())
    sink.close()
    logged = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert logged == [start.to_json(), end.to_json()]
    assert logged[0]["zone"] == "door" and logged[1]["reason"] == "track_ended"

    # The store: one row, start and end merged.
    runtime.store.record(start, "snapshots/gate/a.jpg")
    runtime.store.record(end)
    stored = runtime.store.get(start.alert_id)
    assert isinstance(stored, Alert)
    for name in SHARED:
        assert stored[name] == logged[0][name], name
    assert stored.box == [round(v, 1) for v in start.box] == [100.0, 100.1, 150.0, 300.0]
    assert (stored.started_at, stored.media_time) == (start.wall_time, start.timestamp)
    assert (stored.ended_at, stored.duration_s) == (end.wall_time, end.duration_s)
    assert (stored.peak_confidence, stored.end_reason, stored.active) == (end.peak_confidence, end.reason, False)
    assert stored.time == logged[0]["time"]  # the start's time
    assert stored.snapshot == "snapshots/gate/a.jpg" and stored.snapshot_url == "/media/snapshots/gate/a.jpg"

    # The API: the stored alert, its fields exactly those of the documented schema (no local paths).
    with TestClient(create_app(runtime), base_url="http://localhost") as client:
        served = client.get(f"/api/events/{start.alert_id}").json()
        listed = client.get("/api/events").json()["items"]
        schema = client.get("/openapi.json").json()["components"]["schemas"]["Event"]
    assert listed == [served]
    documented = list(Event.model_json_schema(mode="serialization")["properties"])
    assert list(served) == list(schema["properties"]) == documented
    assert served == stored.model_dump(mode="json")
    for name in SHARED:
        assert served[name] == logged[0][name], name

    # Live updates: the served fields plus the stored media paths.
    live = stored.live_json()
    assert live == {**served, "snapshot": "snapshots/gate/a.jpg", "clip": None}

    # The notifier message: the start record, with media links instead of the local snapshot path.
    message = alert_message(start, "snapshots/gate/a.jpg", "http://cams.example.org/")
    assert message == {
        **{k: v for k, v in logged[0].items() if k != "snapshot"},
        "snapshot_path": "snapshots/gate/a.jpg",
        "snapshot_url": "http://cams.example.org/media/snapshots/gate/a.jpg",
        "event_url": f"http://cams.example.org/api/events/{start.alert_id}",
    }


def test_an_end_without_its_start_is_stored_from_the_end() -> None:
    _, end = raise_alert()
    opened = Alert.opened_by(end)
    assert opened["started_at"] == pytest.approx(end.wall_time - end.duration_s)
    assert opened["media_time"] == end.started_at and opened["snapshot"] is None
    assert Alert.ended_by(end) == {
        "ended_at": end.wall_time,
        "duration_s": end.duration_s,
        "peak_confidence": end.peak_confidence,
        "end_reason": "track_ended",
    }
    assert Alert.stored_fields()[-2:] == ("snapshot", "clip") and "time" not in Alert.stored_fields()
