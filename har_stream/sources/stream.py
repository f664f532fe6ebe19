"""Network streams (RTSP, HTTP, ...) decoded with PyAV, with open and read timeouts."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import av

from har_stream.config.schema import SourceConfig
from har_stream.redaction import redact
from har_stream.sources.base import FrameSource, RawFrame, SourceInfo


class StreamStalledError(TimeoutError):
    """A connected stream sent no data for ``read_timeout_s`` (the stall watchdog fired)."""


def read_stream(
    url: str, config: SourceConfig, report_problem: Callable[[str], None] | None = None
) -> Iterator[RawFrame]:
    """Open ``url`` and yield its frames until it ends or fails (the caller reconnects).

    A stream that stays silent for ``read_timeout_s`` raises :class:`StreamStalledError` (the stall
    watchdog: PyAV interrupts the blocked read); one that does not answer within ``open_timeout_s`` raises
    :class:`TimeoutError`. Undecodable frames are reported through ``report_problem`` and skipped. Error
    messages never contain the URL's password.
    """
    options = {"fflags": "nobuffer", "flags": "low_delay"}
    if url.startswith(("rtsp://", "rtsps://")):
        options["rtsp_transport"] = config.rtsp_transport
    started = time.monotonic()
    try:
        container = av.open(url, options=options, timeout=(config.open_timeout_s, config.read_timeout_s))
    except av.FFmpegError as exc:
        if time.monotonic() - started >= config.open_timeout_s:
            raise TimeoutError(f"no answer within open_timeout_s={config.open_timeout_s}s ({exc.strerror})") from None
        raise ConnectionError(f"cannot open the stream: {exc.strerror}") from None
    with container:
        if not container.streams.video:
            raise ValueError(f"{redact(url)} has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        packets = container.demux(stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                return
            except av.ExitError:
                raise StreamStalledError(
                    f"stream stalled: no data for read_timeout_s={config.read_timeout_s}s"
                ) from None
            except av.FFmpegError as exc:
                raise ConnectionError(f"stream read failed: {exc.strerror}") from None
            try:
                frames = packet.decode()
            except av.FFmpegError as exc:  # a damaged frame is skipped; the connection is kept
                if report_problem is not None:
                    report_problem(f"skipped undecodable data at pts={packet.pts} ({exc.strerror})")
                continue
            for frame in frames:
                yield RawFrame(frame.to_ndarray(format="bgr24"), None)


def open_stream(url: str, config: SourceConfig) -> FrameSource:
    """A live :class:`FrameSource` for a network URL; it reconnects on failure."""
    info = SourceInfo(name=redact(url), live=True)
    source = FrameSource(info=info, reader=lambda: iter(()), queue_size=config.queue_size, reconnect=config.reconnect)
    source.reader = lambda: read_stream(url, config, source.report_problem)
    return source
