"""The event store's schema as numbered migrations, applied in order and recorded in ``PRAGMA user_version``.

A database is always brought to the newest version when opened; a database written by a newer har-stream
(a version above the newest known one) is refused rather than guessed at. Each migration runs in one
transaction, so a failure leaves the database at the previous version.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass


class StoreError(RuntimeError):
    """The event database cannot be opened, migrated or written."""


@dataclass(frozen=True)
class Migration:
    """One schema step: ``version`` is what the database is at after ``sql`` ran."""

    version: int
    description: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "alerts: one row per alert, start and end merged",
        """
        CREATE TABLE alerts (
            alert_id        TEXT PRIMARY KEY,
            camera          TEXT NOT NULL,
            rule            TEXT NOT NULL,
            severity        TEXT NOT NULL,
            track_id        INTEGER NOT NULL,
            action          TEXT NOT NULL,
            confidence      REAL NOT NULL,
            zone            TEXT,
            started_at      REAL NOT NULL,      -- epoch seconds (wall time of the start frame)
            media_time      REAL NOT NULL,      -- the source's clock at the start
            frame_index     INTEGER NOT NULL,
            box             TEXT NOT NULL,      -- JSON [x1, y1, x2, y2]
            ended_at        REAL,
            duration_s      REAL,
            peak_confidence REAL,
            end_reason      TEXT,
            snapshot        TEXT,               -- path relative to the media folder
            clip            TEXT                -- path relative to the media folder
        );
        CREATE INDEX alerts_started ON alerts (started_at);
        CREATE INDEX alerts_camera_started ON alerts (camera, started_at);
        CREATE INDEX alerts_action_started ON alerts (action, started_at);
        """,
    ),
    Migration(
        2,
        "camera_status: the last known health of each camera, kept across restarts",
        """
        CREATE TABLE camera_status (
            camera      TEXT PRIMARY KEY,
            status      TEXT NOT NULL,
            updated_at  REAL NOT NULL,
            detail      TEXT
        );
        """,
    ),
    Migration(
        3,
        "alerts: an operator's review (verdict, who, when, note)",
        """
        ALTER TABLE alerts ADD COLUMN review TEXT;          -- confirmed or false_alarm; NULL: unreviewed
        ALTER TABLE alerts ADD COLUMN reviewed_by TEXT;     -- the reviewing token's name
        ALTER TABLE alerts ADD COLUMN reviewed_at REAL;     -- epoch seconds
        ALTER TABLE alerts ADD COLUMN review_note TEXT;
        CREATE INDEX alerts_review_started ON alerts (review, started_at);
        """,
    ),
)


def schema_version(conn: sqlite3.Connection) -> int:
    """The version the database is at (0 for a new, empty one)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> list[int]:
    """Apply the migrations the database lacks, each in its own transaction; returns the versions applied."""
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise StoreError(f"migrations must be numbered 1, 2, 3, ... without gaps; got {versions}")
    current = schema_version(conn)
    newest = len(migrations)
    if current > newest:
        raise StoreError(
            f"the event database is at schema version {current}, newer than this har-stream knows ({newest}); "
            "use a newer har-stream or another store.path"
        )
    applied = []
    for migration in migrations[current:]:
        try:
            conn.execute("BEGIN")
            for statement in _statements(migration.sql):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {int(migration.version)}")
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            raise StoreError(f"migration {migration.version} ({migration.description}) failed: {exc}") from None
        applied.append(migration.version)
    return applied


def _statements(sql: str) -> list[str]:
    """Split a migration script into statements (``executescript`` would commit behind our back)."""
    out: list[str] = []
    current = ""
    for line in sql.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                out.append(current.strip())
            current = ""
    if current.strip():
        out.append(current.strip())
    return out
