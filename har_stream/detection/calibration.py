"""Calibration images for quantizing the detector: frames spread over videos, images drawn from folders."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from har_stream.sources.image_folder import list_images
from har_stream.sources.video_file import decode_video, probe_video


def video_frames(path: Path, count: int) -> list[np.ndarray]:
    """``count`` frames spread evenly over the video at ``path``."""
    total = probe_video(path).frame_count or count
    step = max(1, total // count)
    frames = [raw.image for i, raw in enumerate(decode_video(path, lambda _: None)) if i % step == 0]
    return frames[:count]


def folder_images(path: Path, count: int, seed: int = 0) -> list[np.ndarray]:
    """``count`` readable images drawn from the folder at ``path`` with a fixed seed."""
    paths = list_images(path)
    random.Random(seed).shuffle(paths)
    images = []
    for candidate in paths:
        image = cv2.imread(str(candidate), cv2.IMREAD_COLOR)
        if image is not None:
            images.append(image)
        if len(images) >= count:
            break
    return images


def load_calibration_images(sources: Sequence[Path], per_source: int) -> list[np.ndarray]:
    """Images from every source (a video file or an image folder), ``per_source`` from each."""
    images: list[np.ndarray] = []
    for source in sources:
        if source.is_dir():
            found = folder_images(source, per_source)
        elif source.is_file():
            found = video_frames(source, per_source)
        else:
            raise FileNotFoundError(f"calibration source not found: {source}")
        if not found:
            raise ValueError(f"no readable images or frames in {source}")
        images += found
    return images
