"""Network streams (RTSP, HTTP, ...) decoded with PyAV, with open and read timeouts."""

from __future__ import annotations

from collections.abc import Iterator

import av

from har_stream.config.schema import SourceConfig
from har_stream.sources.base import FrameSource, RawFrame, SourceInfo


def redact(url: str) -> str:
    """The URL with any password replaced, for logs and errors."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.split("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


def read_stream(url: str, config: SourceConfig) -> Iterator[RawFrame]:
    """Open ``url`` and yield its frames until it ends or fails (the caller reconnects).

    A stream that stays silent for ``read_timeout_s`` raises, which is how stalls are detected.
    """
    options = {"fflags": "nobuffer", "flags": "low_delay"}
    if url.startswith(("rtsp://", "rtsps://")):
        options["rtsp_transport"] = config.rtsp_transport
    container = av.open(url, options=options, timeout=(config.open_timeout_s, config.read_timeout_s))
    with container:
        if not container.streams.video:
            raise ValueError(f"{redact(url)} has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            yield RawFrame(frame.to_ndarray(format="bgr24"), None)


def open_stream(url: str, config: SourceConfig) -> FrameSource:
    """A live :class:`FrameSource` for a network URL; it reconnects on failure."""
    info = SourceInfo(name=redact(url), live=True)
    return FrameSource(
        info=info,
        reader=lambda: read_stream(url, config),
        queue_size=config.queue_size,
        reconnect=config.reconnect,
    )
