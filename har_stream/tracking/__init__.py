"""Multi-object tracking of people."""

from __future__ import annotations

from har_stream.tracking.state import TrackRegistry, TrackState
from har_stream.tracking.tracker import PersonTracker

__all__ = ["PersonTracker", "TrackRegistry", "TrackState"]
