"""Alert clips from real frames: the seconds before and after an alert, as browser-playable H.264 MP4."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import av

from har_stream.serve.clips import ClipRecorder
from har_stream.serve.live import LatestFrame, encode_jpeg
from tests.conftest import decode_frames, write_clip


def test_clip_holds_frames_before_and_after_the_alert(concourse_clip: Path, tmp_path: Path) -> None:
    frames = decode_frames(concourse_clip)
    ready: list[tuple[list[str], Path]] = []
    done = threading.Event()

    def on_ready(ids: list[str], path: Path) -> None:
        ready.append((ids, path))
        if len(ready) == 2:
            done.set()

    recorder = ClipRecorder(tmp_path / "clips", pre_s=0.4, post_s=0.4, fps=25, on_ready=on_ready)
    starts = {20: ["a1"], 25: ["a2"], 35: ["a3"]}
    for i, image in enumerate(frames):
        recorder.add(i / 25, encode_jpeg(image, 640, 80), starts.get(i, []))
    recorder.close()
    assert done.wait(30)
    (first_ids, first), (second_ids, second) = ready
    # a2 started while a1's clip was open, so they share it; a3 got its own, cut short by close().
    assert first_ids == ["a1", "a2"] and first.name == "a1.mp4"
    assert second_ids == ["a3"] and second.name == "a3.mp4"
    assert len(decode_frames(first)) == 21  # frames 10..20 (0.4 s before) and 21..30 (0.4 s after)
    assert len(decode_frames(second)) == 15  # frames 25..35 before, 36..39 after (the source ended)
    with av.open(str(first)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and (stream.width, stream.height) == (640, 360)
        times = [frame.time for frame in container.decode(stream)]
    assert abs((times[-1] - times[0]) - 0.8) < 0.01  # media timing kept: 20 frame steps of 40 ms


def test_latest_frame_keeps_the_newest_jpeg(concourse_clip: Path) -> None:
    live = LatestFrame()
    assert live.get() == (0, None) and live.updated_at is None
    image = decode_frames(concourse_clip)[0]
    jpeg = encode_jpeg(image, 960, 80)
    live.put(jpeg)
    live.put(jpeg)
    seq, data = live.get()
    assert seq == 2 and data is not None and data[:2] == b"\xff\xd8"
    import cv2
    import numpy as np

    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == (540, 960, 3)  # scaled down to live_max_width, aspect kept


def test_a_clip_is_encoded_while_it_is_collected(concourse_video: Path, tmp_path: Path) -> None:
    """The writer follows an open clip, so at shutdown only its last frames are left to encode."""
    source = write_clip(concourse_video, tmp_path / "c60.mp4", frames=60, size=(640, 360))
    jpegs = [encode_jpeg(image, 640, 80) for image in decode_frames(source)]
    ready: list[tuple[list[str], Path]] = []
    recorder = ClipRecorder(tmp_path / "clips", 0.4, 10.0, fps=25, on_ready=lambda ids, p: ready.append((ids, p)))
    for i, jpeg in enumerate(jpegs):  # the alert starts at frame 10; its clip (10 s after) stays open
        recorder.add(i / 25, jpeg, ["a1"] if i == 10 else [])
    clip = tmp_path / "clips" / "a1.mp4"
    deadline = time.monotonic() + 60
    while recorder.frames_encoded < 60:  # every frame so far is with the encoder ...
        assert time.monotonic() < deadline, f"{recorder.frames_encoded} of 60 frames encoded while the clip was open"
        time.sleep(0.05)
    assert ready == []  # ... while the clip is still open
    recorder.close()
    assert ready == [(["a1"], clip)]
    assert len(decode_frames(clip)) == 60  # frames 0..10 from before the alert, 11..59 after it
