"""Persistent event store (SQLite) with a versioned schema."""

from __future__ import annotations

from har_stream.store.events import REVIEW_STATES, EventQuery, EventStore
from har_stream.store.migrations import MIGRATIONS, Migration, StoreError, migrate, schema_version

__all__ = [
    "MIGRATIONS",
    "REVIEW_STATES",
    "EventQuery",
    "EventStore",
    "Migration",
    "StoreError",
    "migrate",
    "schema_version",
]
