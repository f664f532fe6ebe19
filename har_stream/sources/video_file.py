"""Video files decoded with PyAV: exact media timestamps, and corrupt packets skipped and reported."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import av

from har_stream.sources.base import FrameSource, RawFrame, SourceError, SourceInfo


def probe_video(path: Path) -> SourceInfo:
    """Open ``path`` once to read its frame rate, length and size; raise :class:`SourceError` if unusable."""
    if not path.exists():
        raise SourceError(f"video file not found: {path}")
    if not path.is_file():
        raise SourceError(f"not a file: {path}")
    if path.stat().st_size == 0:
        raise SourceError(f"{path} is an empty file (0 bytes): not a video")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise SourceError(
            f"cannot open video {path}: {exc}. The file is corrupt, truncated before its index, or not a video."
        ) from None
    with container:
        if not container.streams.video:
            raise SourceError(f"{path} has no video stream")
        stream = container.streams.video[0]
        rate = stream.guessed_rate or stream.average_rate or stream.codec_context.framerate
        fps = float(rate) if rate else None
        frame_count = None
        if stream.duration is not None and stream.time_base is not None and fps:
            frame_count = round(float(stream.duration * stream.time_base) * fps)
        elif stream.frames:
            frame_count = int(stream.frames)
        return SourceInfo(
            name=path.name,
            live=False,
            fps=fps,
            frame_count=frame_count or None,
            width=stream.codec_context.width or None,
            height=stream.codec_context.height or None,
        )


def decode_video(
    path: Path, report_problem: Callable[[str], None], expected_frames: int | None = None
) -> Iterator[RawFrame]:
    """Yield every decodable frame of ``path`` as BGR with its media time relative to the first frame.

    Damage is reported through ``report_problem`` and never stops the reading early: packets that fail
    to decode are skipped, and a file that yields fewer than its ``expected_frames`` (from its header or
    index) is reported as truncated or damaged. (Lost frames cannot be located by timestamp gaps: AVI
    timestamps are frame counters, so the frames after a lost one simply move up.)
    """
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as exc:
        raise SourceError(f"cannot open video {path}: {exc}") from None
    with container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        first_time: float | None = None
        last_time = -1.0
        decoded = 0
        rate = stream.guessed_rate or stream.average_rate
        step = 1.0 / float(rate) if rate else 0.04
        packets = container.demux(stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av.FFmpegError as exc:
                report_problem(
                    f"stopped reading {path.name} at {max(last_time, 0):.2f}s: unreadable data ({exc.strerror})"
                )
                break
            started = time.perf_counter()
            try:
                frames = packet.decode()
            except av.FFmpegError as exc:
                where = f"{float(packet.pts * packet.time_base):.2f}s" if packet.pts is not None else "an unknown time"
                report_problem(f"skipped undecodable data in {path.name} at {where} ({exc.strerror})")
                continue
            for frame in frames:
                image = frame.to_ndarray(format="bgr24")
                decode_ms = (time.perf_counter() - started) * 1000
                started = time.perf_counter()
                media_time = frame.time
                if media_time is None:
                    media_time = last_time + step
                if first_time is None:
                    first_time = media_time
                media_time -= first_time
                if media_time <= last_time:  # some containers (AVI) carry out-of-order or repeated pts
                    media_time = last_time + step
                last_time = media_time
                decoded += 1
                yield RawFrame(image, media_time, decode_ms)
        if expected_frames and decoded < expected_frames - 1:
            report_problem(
                f"{path.name} ended after {decoded} of {expected_frames} frames ({max(last_time, 0) + step:.2f}s of "
                f"{expected_frames * step:.2f}s): the file is truncated or damaged, "
                f"{expected_frames - decoded} frames could not be read"
            )


def loop_video(path: Path, report_problem: Callable[[str], None]) -> Iterator[RawFrame]:
    """Decode ``path`` over and over; media time keeps increasing across repeats (one frame step between them)."""
    offset = 0.0
    while True:
        last: float | None = None
        step = 0.04
        for raw in decode_video(path, report_problem):
            media_time = (raw.media_time or 0.0) + offset
            if last is not None:
                step = max(1e-3, media_time - last)
            last = media_time
            yield dataclasses.replace(raw, media_time=media_time)
        if last is None:
            return  # nothing decodable: do not spin
        offset = last + step


def open_video_file(
    path: str | Path,
    queue_size: int = 8,
    start_wall_time: float | None = None,
    loop: bool = False,
) -> FrameSource:
    """A :class:`FrameSource` that reads a video file without losing a frame (forever when ``loop``)."""
    path = Path(path)
    info = probe_video(path)
    if loop:
        info.frame_count = None
    source = FrameSource(info=info, reader=lambda: iter(()), queue_size=queue_size, start_wall_time=start_wall_time)
    if loop:
        source.reader = lambda: loop_video(path, source.report_problem)
    else:
        source.reader = lambda: decode_video(path, source.report_problem, info.frame_count)
    return source
