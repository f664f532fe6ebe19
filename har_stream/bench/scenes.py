"""Benchmark scenes made from real footage: the crowd as it is, and a light scene cut out of it."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np

#: A region of the concourse footage with two to five people, upscaled to 1280x720.
LIGHT_REGION = (320, 400, 560, 315)  # x, y, width, height
LIGHT_SIZE = (1280, 720)


def make_light_scene(
    source: Path,
    target: Path,
    region: tuple[int, int, int, int] = LIGHT_REGION,
    size: tuple[int, int] = LIGHT_SIZE,
) -> Path:
    """Crop ``region`` out of every frame of ``source``, upscale it to ``size`` and encode H.264 to ``target``."""
    x, y, w, h = region
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".partial.mp4")
    with av.open(str(source)) as inp, av.open(str(tmp), "w") as out:
        in_stream = inp.streams.video[0]
        rate = in_stream.guessed_rate or in_stream.average_rate or 25
        stream = out.add_stream("libx264", rate=rate, options={"crf": "18", "preset": "fast"})
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for frame in inp.decode(in_stream):
            image = frame.to_ndarray(format="bgr24")[y : y + h, x : x + w]
            image = cv2.resize(image, size, interpolation=cv2.INTER_CUBIC)
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    tmp.replace(target)
    return target
