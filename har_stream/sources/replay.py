"""A video file replayed as a live camera: paced at its frame rate, newest frames kept, optionally looping.

For live demos, measurements of frame age and soak tests that need a camera without a network stream
(``source.realtime: true``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

from har_stream.config.schema import SourceConfig
from har_stream.sources.base import FrameSource, RawFrame, SourceInfo, StreamFinished
from har_stream.sources.video_file import decode_video, probe_video


def replay_frames(
    path: Path, fps: float, report_problem: Callable[[str], None], loop: bool = True
) -> Iterator[RawFrame]:
    """Yield the frames of ``path`` at ``fps`` in real time, over and over when ``loop``.

    Without ``loop`` it raises :class:`StreamFinished` at the end, so the live source ends instead of
    reconnecting.
    """
    interval = 1.0 / fps
    next_at = time.monotonic()
    while True:
        for raw in decode_video(path, report_problem):
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                next_at = time.monotonic()  # a slow decode does not build up a burst to catch up with
            next_at += interval
            yield RawFrame(raw.image, None, raw.decode_ms)
        if not loop:
            raise StreamFinished


def open_replay(path: str | Path, config: SourceConfig | None = None, loop: bool = True) -> FrameSource:
    """A live :class:`FrameSource` that plays ``path`` in real time (looping forever when ``loop``)."""
    path = Path(path)
    config = config or SourceConfig()
    probed = probe_video(path)
    fps = probed.fps or 25.0
    info = SourceInfo(name=f"replay:{path.name}", live=True, fps=fps, width=probed.width, height=probed.height)
    source = FrameSource(info=info, reader=lambda: iter(()), queue_size=config.queue_size, reconnect=config.reconnect)
    source.reader = lambda: replay_frames(path, fps, source.report_problem, loop)
    return source
