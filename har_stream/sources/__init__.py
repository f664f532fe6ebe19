"""Frame sources: video files, image folders, webcams and network streams behind one interface."""

from __future__ import annotations

from pathlib import Path

from har_stream.config.schema import SourceConfig
from har_stream.redaction import redact
from har_stream.sources.base import (
    CameraStatus,
    CapturedFrame,
    FrameSource,
    HealthEvent,
    SourceError,
    SourceInfo,
    SourceLostError,
)
from har_stream.sources.image_folder import open_image_folder
from har_stream.sources.replay import open_replay
from har_stream.sources.stream import open_stream
from har_stream.sources.video_file import open_video_file
from har_stream.sources.webcam import open_webcam

STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://")


def open_source(uri: str | int, config: SourceConfig | None = None) -> FrameSource:
    """Open ``uri``: a webcam index, a stream URL, an image folder or a video file."""
    config = config or SourceConfig()
    start = config.start_time.timestamp() if config.start_time else None
    text = str(uri).strip()
    if text.isdigit():
        return open_webcam(int(text), config)
    if text.lower().startswith(STREAM_SCHEMES):
        return open_stream(text, config)
    path = Path(text).expanduser()
    if path.is_dir():
        return open_image_folder(path, config.image_fps, max(config.queue_size, 8), start)
    if config.realtime:
        return open_replay(path, config, loop=config.loop)
    return open_video_file(path, max(config.queue_size, 8), start, loop=config.loop)


__all__ = [
    "CameraStatus",
    "CapturedFrame",
    "FrameSource",
    "HealthEvent",
    "SourceError",
    "SourceInfo",
    "SourceLostError",
    "open_source",
    "redact",
]
