"""The annotated export: real H.264 encoding, decodable, same frame count, robust to odd and changing sizes."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from har_stream.frame import FrameRecord
from har_stream.sinks import VideoExportError, VideoExportSink
from tests.conftest import decode_frames


def record(i: int, image: np.ndarray, fps: float = 25.0) -> FrameRecord:
    return FrameRecord(index=i, timestamp=i / fps, wall_time=i / fps, captured_at=0.0, image=image)


def test_export_is_h264_mp4_with_every_frame_and_its_timing(tmp_path: Path) -> None:
    path = tmp_path / "out.mp4"
    sink = VideoExportSink(path, fps=25)
    for i in range(30):
        image = np.zeros((240, 320, 3), dtype=np.uint8)
        image[:, : (i + 1) * 10] = (0, 0, 255)  # a red bar that grows each frame
        sink.write(record(i, image))
    sink.close()
    assert sink.frames_written == 30
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
        times = [f.time for f in container.decode(stream)]
    assert len(times) == 30
    assert times[1] - times[0] == pytest.approx(0.04, abs=1e-3) and times[-1] == pytest.approx(29 / 25, abs=1e-3)
    frames = decode_frames(path)
    red = [int((f[120, :, 2] > 150).sum()) for f in frames]
    assert red == sorted(red) and abs(red[0] - 10) <= 2 and abs(red[-1] - 300) <= 2


def test_odd_sizes_and_size_changes_are_handled(tmp_path: Path) -> None:
    path = tmp_path / "odd.mp4"
    sink = VideoExportSink(path, fps=10)
    for i in range(5):
        sink.write(record(i, np.full((101, 151, 3), 128, dtype=np.uint8), 10))
    for i in range(5, 10):
        sink.write(record(i, np.full((300, 400, 3), 128, dtype=np.uint8), 10))  # the camera changed resolution
    sink.close()
    frames = decode_frames(path)
    assert len(frames) == 10 and {f.shape for f in frames} == {(102, 152, 3)}


def test_unwritable_export_path_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(VideoExportError, match="cannot create folder"):
        VideoExportSink(blocker / "sub" / "out.mp4")
