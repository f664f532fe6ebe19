"""Outputs of the pipeline: video export, events JSONL, alert snapshots, live window."""

from __future__ import annotations

from har_stream.sinks.events import EventLogSink
from har_stream.sinks.snapshots import SnapshotSink
from har_stream.sinks.video import VideoExportError, VideoExportSink
from har_stream.sinks.window import WindowSink, WindowUnavailableError

__all__ = [
    "EventLogSink",
    "SnapshotSink",
    "VideoExportError",
    "VideoExportSink",
    "WindowSink",
    "WindowUnavailableError",
]
