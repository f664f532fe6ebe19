"""The event store: alerts in SQLite, one row per alert, queried by camera, action, rule, severity and time."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from har_stream.rules.events import ALERT_END, ALERT_START, END_FIELDS, REVIEW_FIELDS, VERDICTS, Alert, AlertEvent
from har_stream.store.migrations import MIGRATIONS, Migration, StoreError, migrate, schema_version

#: The alerts table's columns: the stored fields of :class:`Alert`, in order.
_COLUMNS = Alert.stored_fields()
#: Columns an alert's start fills (the end fills :data:`END_FIELDS`).
_OPENED = tuple(c for c in _COLUMNS if c not in (*END_FIELDS, *REVIEW_FIELDS, "clip"))
#: Review states :class:`EventQuery` filters by: a verdict, any verdict, or none yet.
REVIEW_STATES = ("unreviewed", "reviewed", *VERDICTS)


@dataclass(frozen=True)
class EventQuery:
    """Filters for :meth:`EventStore.query`; None means any. Times are epoch seconds (alert start)."""

    camera: str | None = None
    action: str | None = None
    rule: str | None = None
    severity: str | None = None
    since: float | None = None
    until: float | None = None
    limit: int = 100
    offset: int = 0
    #: unreviewed, reviewed, confirmed or false_alarm (see :data:`REVIEW_STATES`).
    review: str | None = None
    #: Unreviewed alerts before reviewed ones (each newest first).
    unreviewed_first: bool = False


class EventStore:
    """A SQLite database of alerts, safe to use from several threads (one connection behind a lock).

    Rows hold media paths relative to the media folder. Opening a file migrates it to the newest schema.
    """

    def __init__(self, path: str | Path, migrations: Sequence[Migration] = MIGRATIONS) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10)
            self._conn.row_factory = sqlite3.Row
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the event database {self.path}: {exc}") from None
        self._lock = threading.Lock()
        with self._lock:
            try:
                self.migrated = migrate(self._conn, migrations)
            except StoreError:
                self._conn.close()
                raise

    # -- writing -------------------------------------------------------------------------------------
    def record(self, event: AlertEvent, snapshot: str | None = None) -> bool:
        """Insert an alert on its start, or complete its row on its end (an end without start is inserted).

        Idempotent per alert_id: a repeated start or end changes nothing, so events may be delivered twice.
        Returns whether a new row was inserted.
        """
        if event.type not in (ALERT_START, ALERT_END):
            return False
        opened = Alert.opened_by(event, snapshot if event.type == ALERT_START else None)
        opened["box"] = json.dumps(opened["box"])
        inserted = self._write(
            f"INSERT OR IGNORE INTO alerts ({', '.join(_OPENED)}) VALUES ({','.join('?' * len(_OPENED))})",
            tuple(opened[c] for c in _OPENED),
        )  # an end without its start (lost) is inserted too, with the start reckoned back from the end
        if event.type == ALERT_END:
            ended = Alert.ended_by(event)
            self._write(
                f"UPDATE alerts SET {', '.join(f'{c}=?' for c in END_FIELDS)} WHERE alert_id=?"
                " AND ended_at IS NULL",  # the first end wins: a repeated end (at-least-once delivery) is a no-op
                (*(ended[c] for c in END_FIELDS), event.alert_id),
            )
        return inserted > 0

    def set_clip(self, alert_id: str, clip: str) -> None:
        """Attach a clip (path relative to the media folder) to an alert."""
        self._write("UPDATE alerts SET clip=? WHERE alert_id=?", (clip, alert_id))

    def review(self, alert_id: str, verdict: str, by: str, note: str | None = None, at: float | None = None) -> bool:
        """Record an operator's verdict (confirmed or false_alarm) on an alert, replacing any earlier one.

        Returns whether the alert exists.
        """
        if verdict not in VERDICTS:
            raise ValueError(f"a verdict is one of {', '.join(VERDICTS)}; got {verdict!r}")
        changed = self._write(
            "UPDATE alerts SET review=?, reviewed_by=?, reviewed_at=?, review_note=? WHERE alert_id=?",
            (verdict, by, time.time() if at is None else at, note, alert_id),
        )
        return changed > 0

    def reviewed(self) -> list[Alert]:
        """Every reviewed alert, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM alerts WHERE review IS NOT NULL ORDER BY started_at, alert_id"
            ).fetchall()
        return [_row(r) for r in rows]

    def end_interrupted(self) -> int:
        """Mark alerts left open by a previous run that did not shut down cleanly; returns how many."""
        with self._lock:
            cursor = self._conn.execute("UPDATE alerts SET end_reason='interrupted' WHERE end_reason IS NULL")
        return int(cursor.rowcount)

    def forget_media(self, paths: Iterable[str]) -> int:
        """Drop every reference to these snapshot or clip paths (files that were deleted); returns rows changed.

        One pass over the alerts per column, however many paths (they go through a temporary table).
        """
        params = [(p,) for p in set(paths)]
        if not params:
            return 0
        changed = 0
        with self._lock:
            try:
                self._conn.execute("BEGIN")
                self._conn.execute("CREATE TEMP TABLE IF NOT EXISTS gone_media (path TEXT PRIMARY KEY)")
                self._conn.execute("DELETE FROM gone_media")
                self._conn.executemany("INSERT INTO gone_media (path) VALUES (?)", params)
                for column in ("snapshot", "clip"):
                    cursor = self._conn.execute(
                        f"UPDATE alerts SET {column}=NULL WHERE {column} IN (SELECT path FROM gone_media)"
                    )
                    changed += max(0, int(cursor.rowcount))
                self._conn.execute("DELETE FROM gone_media")
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise StoreError(f"writing to the event database {self.path} failed: {exc}") from None
        return changed

    def set_camera_status(self, camera: str, status: str, detail: str | None = None) -> None:
        """Remember a camera's last known status."""
        self._write(
            "INSERT INTO camera_status (camera, status, updated_at, detail) VALUES (?,?,?,?) ON CONFLICT(camera) "
            "DO UPDATE SET status=excluded.status, updated_at=excluded.updated_at, detail=excluded.detail",
            (camera, status, time.time(), detail),
        )

    def _write(self, sql: str, params: tuple[Any, ...]) -> int:
        """Run one statement; returns the number of rows it changed."""
        with self._lock:
            try:
                return int(self._conn.execute(sql, params).rowcount)
            except sqlite3.Error as exc:
                raise StoreError(f"writing to the event database {self.path} failed: {exc}") from None

    # -- reading -------------------------------------------------------------------------------------
    def query(self, query: EventQuery = EventQuery()) -> tuple[int, list[Alert]]:
        """Alerts matching ``query``, newest first: (total matching, one page of alerts)."""
        where, params = [], []
        for column in ("camera", "action", "rule", "severity"):
            value = getattr(query, column)
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if query.since is not None:
            where.append("started_at >= ?")
            params.append(query.since)
        if query.until is not None:
            where.append("started_at <= ?")
            params.append(query.until)
        if query.review is not None:
            if query.review not in REVIEW_STATES:
                raise ValueError(f"a review state is one of {', '.join(REVIEW_STATES)}; got {query.review!r}")
            if query.review in VERDICTS:
                where.append("review = ?")
                params.append(query.review)
            else:
                where.append("review IS NULL" if query.review == "unreviewed" else "review IS NOT NULL")
        order = "(review IS NOT NULL), started_at DESC" if query.unreviewed_first else "started_at DESC"
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        with self._lock:
            total = int(self._conn.execute(f"SELECT COUNT(*) FROM alerts{clause}", params).fetchone()[0])
            rows = self._conn.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM alerts{clause} ORDER BY {order}, alert_id LIMIT ? OFFSET ?",
                [*params, max(0, query.limit), max(0, query.offset)],
            ).fetchall()
        return total, [_row(r) for r in rows]

    def get(self, alert_id: str) -> Alert | None:
        """One alert by id, or None."""
        with self._lock:
            row = self._conn.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM alerts WHERE alert_id = ?", (alert_id,)
            ).fetchone()
        return _row(row) if row is not None else None

    def alert_counts(self) -> dict[tuple[str, str, str], int]:
        """Stored alerts by (camera, rule, severity)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT camera, rule, severity, COUNT(*) FROM alerts GROUP BY camera, rule, severity"
            ).fetchall()
        return {(r[0], r[1], r[2]): int(r[3]) for r in rows}

    def open_media(self) -> set[str]:
        """Snapshot and clip paths of the alerts that are still open."""
        with self._lock:
            rows = self._conn.execute("SELECT snapshot, clip FROM alerts WHERE end_reason IS NULL").fetchall()
        return {path for row in rows for path in row if path}

    def distinct(self, column: str) -> list[str]:
        """The distinct values of ``camera``, ``action``, ``rule`` or ``severity`` seen so far (for filters)."""
        if column not in ("camera", "action", "rule", "severity"):
            raise ValueError(f"not a filter column: {column}")
        with self._lock:
            rows = self._conn.execute(f"SELECT DISTINCT {column} FROM alerts ORDER BY {column}").fetchall()
        return [r[0] for r in rows]

    def schema_version(self) -> int:
        """The schema version the database is at."""
        with self._lock:
            return schema_version(self._conn)

    def camera_statuses(self) -> dict[str, dict[str, Any]]:
        """Last known status of every camera ever seen."""
        with self._lock:
            rows = self._conn.execute("SELECT camera, status, updated_at, detail FROM camera_status").fetchall()
        return {r["camera"]: dict(r) for r in rows}

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._conn.close()


def _row(row: sqlite3.Row) -> Alert:
    data = dict(row)
    data["box"] = json.loads(data["box"])
    return Alert.from_stored(data)
