"""A folder of images played as a video at a fixed frame rate."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import cv2

from har_stream.sources.base import FrameSource, RawFrame, SourceError, SourceInfo

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})


def list_images(folder: Path) -> list[Path]:
    """Image files directly in ``folder``, in name order."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def read_images(paths: list[Path], fps: float, report_problem: Callable[[str], None]) -> Iterator[RawFrame]:
    """Yield each readable image; unreadable ones are reported and skipped."""
    for i, path in enumerate(paths):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            report_problem(f"skipped unreadable image {path.name}")
            continue
        yield RawFrame(image, i / fps)


def open_image_folder(
    folder: str | Path, fps: float = 1.0, queue_size: int = 8, start_wall_time: float | None = None
) -> FrameSource:
    """A :class:`FrameSource` over the images of ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SourceError(f"image folder not found: {folder}")
    paths = list_images(folder)
    if not paths:
        raise SourceError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {folder}")
    info = SourceInfo(name=folder.name, live=False, fps=fps, frame_count=len(paths))
    source = FrameSource(info=info, reader=lambda: iter(()), queue_size=queue_size, start_wall_time=start_wall_time)
    source.reader = lambda: read_images(paths, fps, source.report_problem)
    return source
