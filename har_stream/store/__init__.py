"""Persistent event store (SQLite) with a versioned schema."""

from __future__ import annotations

from har_stream.store.events import EventQuery, EventStore
from har_stream.store.migrations import MIGRATIONS, Migration, StoreError, migrate, schema_version

__all__ = ["MIGRATIONS", "EventQuery", "EventStore", "Migration", "StoreError", "migrate", "schema_version"]
