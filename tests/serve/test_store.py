"""The SQLite event store: versioned migrations, alert rows, filters, and data that survives a restart."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from har_stream.rules.events import AlertEvent
from har_stream.store import MIGRATIONS, EventQuery, EventStore, Migration, StoreError, schema_version


def alert(kind: str, alert_id: str, camera: str = "cam", action: str = "running", wall: float = 1000.0, **extra):
    event = AlertEvent(
        type=kind,
        alert_id=alert_id,
        camera=camera,
        rule="r",
        severity="high",
        track_id=7,
        action=action,
        confidence=0.8,
        zone="z",
        timestamp=wall - 1000.0,
        wall_time=wall,
        frame_index=int(wall),
        box=[1.0, 2.0, 3.0, 4.0],
    )
    for key, value in extra.items():
        setattr(event, key, value)
    return event


def test_new_database_gets_every_migration(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "events.db")
    assert store.migrated == [1, 2, 3] and store.schema_version() == len(MIGRATIONS) == 3
    store.close()
    again = EventStore(tmp_path / "events.db")
    assert again.migrated == [] and again.schema_version() == 3


def test_old_database_is_migrated_and_keeps_its_alerts(tmp_path: Path) -> None:
    old = EventStore(tmp_path / "events.db", migrations=MIGRATIONS[:1])
    assert old.schema_version() == 1
    old.record(alert("alert_start", "a1"), snapshot="snapshots/cam/a1.jpg")
    old.close()
    store = EventStore(tmp_path / "events.db")
    assert store.migrated == [2, 3]
    assert store.get("a1")["snapshot"] == "snapshots/cam/a1.jpg"
    assert store.get("a1").review is None  # the review columns were added to the existing table
    store.set_camera_status("cam", "connected")
    assert store.camera_statuses()["cam"]["status"] == "connected"


def test_newer_database_is_refused(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "events.db")
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(StoreError, match="schema version 99, newer than this har-stream knows"):
        EventStore(tmp_path / "events.db")


def test_failed_migration_rolls_back_to_the_previous_version(tmp_path: Path) -> None:
    step = len(MIGRATIONS) + 1
    broken = (*MIGRATIONS, Migration(step, "broken", "CREATE TABLE t (x INTEGER);\nINSERT INTO nowhere VALUES (1);"))
    with pytest.raises(StoreError, match=f"migration {step} \\(broken\\) failed"):
        EventStore(tmp_path / "events.db", migrations=broken)
    conn = sqlite3.connect(tmp_path / "events.db")
    assert schema_version(conn) == len(MIGRATIONS)
    assert conn.execute("SELECT name FROM sqlite_master WHERE name='t'").fetchone() is None


def test_start_and_end_make_one_row(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "events.db")
    store.record(alert("alert_start", "a1"), snapshot="snapshots/cam/a1.jpg")
    row = store.get("a1")
    assert row["active"] and row["ended_at"] is None and row["box"] == [1.0, 2.0, 3.0, 4.0]
    store.record(alert("alert_end", "a1", wall=1004.5, duration_s=4.5, peak_confidence=0.9, reason="track_ended"))
    store.set_clip("a1", "clips/cam/a1.mp4")
    row = store.get("a1")
    assert not row["active"] and row["ended_at"] == 1004.5 and row["duration_s"] == 4.5
    assert (row["end_reason"], row["peak_confidence"], row["clip"]) == ("track_ended", 0.9, "clips/cam/a1.mp4")
    assert row["started_at"] == 1000.0 and row["snapshot"] == "snapshots/cam/a1.jpg"
    # An end whose start was never seen (e.g. store errors) still makes a complete row.
    store.record(alert("alert_end", "orphan", wall=2010.0, duration_s=10.0, reason="shutdown"))
    assert store.get("orphan")["started_at"] == 2000.0


def test_filters_paging_and_restart(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "events.db")
    for i in range(30):
        camera = "east" if i % 3 == 0 else "west"
        store.record(
            alert(
                "alert_start", f"id{i:02d}", camera=camera, action="running" if i < 10 else "fighting", wall=1000.0 + i
            )
        )
    assert store.query(EventQuery())[0] == 30
    total, rows = store.query(EventQuery(camera="east"))
    assert total == 10 and all(r["camera"] == "east" for r in rows)
    total, rows = store.query(EventQuery(action="running", since=1005, until=1008))
    assert total == 4 and [r["alert_id"] for r in rows] == ["id08", "id07", "id06", "id05"]  # newest first
    total, rows = store.query(EventQuery(camera="west", action="fighting", limit=5, offset=5))
    assert total == 14 and len(rows) == 5
    assert store.query(EventQuery(camera="nowhere"))[0] == 0
    assert store.distinct("camera") == ["east", "west"]
    store.close()
    # A restart (new process, same file) sees the same alerts; open ones from a crash are marked interrupted.
    reopened = EventStore(tmp_path / "events.db")
    assert reopened.query(EventQuery(limit=100))[0] == 30
    assert reopened.end_interrupted() == 30
    assert reopened.get("id00")["end_reason"] == "interrupted" and not reopened.get("id00")["active"]
