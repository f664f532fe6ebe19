"""Bad input: truncated and corrupt video files, a frame size that changes mid-stream, broken model files.

The damaged files are made from the real concourse footage: cut short, or with random bytes written over
their middle. The pipeline must process every decodable frame, say clearly what was wrong, and leave an
export that plays.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from har_stream.api import build_config
from har_stream.frame import FrameRecord
from har_stream.pipeline import Pipeline
from har_stream.sources import SourceError, open_source
from tests.conftest import REPO, count_decodable_frames, decode_frames, write_clip
from tests.test_cli import cli

CENTRE = (320, 180, 640, 360)  # the concourse's central 640x360, people at full resolution


def remux_faststart(source: Path, target: Path) -> Path:
    """Copy an mp4 with its index (moov) before the media data, as cameras and web tools write them."""
    with av.open(str(source)) as inp, av.open(str(target), "w", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream_from_template(inp.streams.video[0])
        for packet in inp.demux(inp.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    return target


def overwrite_middle(source: Path, target: Path, size: int, seed: int = 0) -> Path:
    """Copy ``source`` with ``size`` random bytes written over its middle."""
    data = bytearray(source.read_bytes())
    middle = len(data) // 2
    data[middle : middle + size] = np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()
    target.write_bytes(bytes(data))
    return target


def truncate(source: Path, target: Path, fraction: float) -> Path:
    """Copy the first ``fraction`` of ``source``'s bytes, as a copy or upload cut short leaves it."""
    data = source.read_bytes()
    target.write_bytes(data[: int(len(data) * fraction)])
    return target


@pytest.fixture(scope="module")
def damaged(concourse_video: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Damaged copies of 40 frames of real footage, plus the intact original."""
    folder = tmp_path_factory.mktemp("damaged")
    intact = write_clip(concourse_video, folder / "intact.mp4", frames=40, crop=CENTRE)
    faststart = remux_faststart(intact, folder / "faststart.mp4")
    return {
        "intact": faststart,
        "truncated": truncate(faststart, folder / "truncated.mp4", 0.6),
        "garbage": overwrite_middle(faststart, folder / "garbage.mp4", 20_000),
        "index_lost": truncate(intact, folder / "index_lost.mp4", 0.9),  # moov at the end: cut off
    }


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["truncated", "garbage"])
def test_pipeline_processes_what_is_decodable_and_reports_the_damage(
    kind: str, damaged: dict[str, Path], detector_640, tmp_path: Path
) -> None:
    path = damaged[kind]
    expected = count_decodable_frames(path)
    assert 0 < expected < 40
    config = build_config(
        REPO / "configs" / "concourse.yaml",
        source=str(path),
        export=tmp_path / "out.mp4",
        events=tmp_path / "events.jsonl",
        overrides={"detector.imgsz": 640, "classifier.model": "none"},
    )
    people: list[int] = []
    result = Pipeline(config, detector=detector_640, action_model=None).run(
        on_frame=lambda r: people.append(len(r.detections))
    )
    assert result.error is None
    assert result.summary["frames"] == expected and max(people) > 3
    # Clearly reported: what is missing, and how much.
    assert any(f"{path.name} ended after {expected} of 40 frames" in p for p in result.source_problems)
    assert any("truncated or damaged" in p for p in result.source_problems)
    if kind == "garbage":
        assert any(p.startswith(f"skipped undecodable data in {path.name} at ") for p in result.source_problems)
    entries = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    details = [e.get("detail", "") for e in entries if e["type"] == "camera_health"]
    assert any("truncated or damaged" in d for d in details)
    assert entries[-1]["report"] == "final" and entries[-1]["decode_errors"] >= 1
    # The export of what was processed plays, frame for frame.
    assert len(decode_frames(tmp_path / "out.mp4")) == expected


def test_intact_file_reports_no_problem(damaged: dict[str, Path]) -> None:
    source = open_source(damaged["intact"])
    assert len(list(source)) == 40 and source.problems == [] and source.stats.decode_errors == 0


def test_damaged_avi_is_read_to_the_end_and_reported(concourse_video: Path, tmp_path: Path) -> None:
    for path in (
        overwrite_middle(concourse_video, tmp_path / "garbage.avi", 50_000, seed=1),
        truncate(concourse_video, tmp_path / "truncated.avi", 0.5),
    ):
        source = open_source(path)
        frames = list(source)
        assert 100 < len(frames) < 341
        assert any("truncated or damaged" in p for p in source.problems), source.problems
        assert np.all(np.diff([f.timestamp for f in frames]) > 0)


def test_mp4_cut_before_its_index_is_a_clear_error(damaged: dict[str, Path]) -> None:
    with pytest.raises(SourceError, match=r"cannot open video .*index_lost\.mp4.*truncated before its index"):
        open_source(damaged["index_lost"])


@pytest.mark.slow
def test_cli_reports_damage_and_unreadable_files(damaged: dict[str, Path], tmp_path: Path) -> None:
    ok = cli("run", "--source", str(damaged["truncated"]), "--set", "classifier.model=none", "--max-frames", "3")
    assert ok.returncode == 0, ok.stderr
    lost = cli("run", "--source", str(damaged["index_lost"]), "--set", "classifier.model=none")
    assert lost.returncode == 1
    assert "truncated before its index" in lost.stderr and "Traceback" not in lost.stderr


def write_ts(source: Path, target: Path, frames: int, start: int, crop: tuple[int, int, int, int], size) -> None:
    """Encode part of ``source`` as an H.264 MPEG-TS segment (segments can be joined byte for byte)."""
    with av.open(str(source)) as inp, av.open(str(target), "w", format="mpegts") as out:
        stream = out.add_stream("libx264", rate=25, options={"preset": "ultrafast"})
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for i, frame in enumerate(inp.decode(video=0)):
            if i < start:
                continue
            if i >= start + frames:
                break
            x, y, w, h = crop
            image = cv2.resize(frame.to_ndarray(format="bgr24")[y : y + h, x : x + w], size)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


@pytest.mark.slow
def test_frame_size_change_mid_stream(concourse_video: Path, detector_640, tmp_path: Path) -> None:
    # A camera that switches resolution: 20 frames at 640x360, then 20 at 800x450 (a wider view).
    first, second = tmp_path / "a.ts", tmp_path / "b.ts"
    write_ts(concourse_video, first, 20, 0, CENTRE, (640, 360))
    write_ts(concourse_video, second, 20, 20, (0, 0, 1280, 720), (800, 450))
    joined = tmp_path / "switch.ts"
    joined.write_bytes(first.read_bytes() + second.read_bytes())
    config = build_config(
        REPO / "configs" / "concourse.yaml",
        source=str(joined),
        export=tmp_path / "out.mp4",
        events=tmp_path / "events.jsonl",
        overrides={"detector.imgsz": 640, "classifier.model": "none"},
    )
    seen: list[tuple[tuple[int, int], list[int], list[int]]] = []

    def keep(record: FrameRecord) -> None:
        ids = [int(i) for i in record.detections.tracker_id] if record.detections.tracker_id is not None else []
        seen.append(((record.width, record.height), ids, list(record.ended_tracks)))

    result = Pipeline(config, detector=detector_640, action_model=None).run(on_frame=keep)
    assert result.error is None and result.summary["frames"] == 40
    sizes = [s for s, _, _ in seen]
    assert sizes == [(640, 360)] * 20 + [(800, 450)] * 20
    # Tracking restarts at the switch: every track of the old view ends, none carries over.
    before_ids = {i for _, ids, _ in seen[:20] for i in ids}
    assert seen[19][1] and set(seen[19][1]) <= set(seen[20][2])
    assert not before_ids & {i for _, ids, _ in seen[21:] for i in ids}
    assert any(ids for _, ids, _ in seen[22:]), "nobody tracked after the switch"
    # The export keeps its first size and every frame; every alert is closed.
    frames = decode_frames(tmp_path / "out.mp4")
    assert len(frames) == 40 and {f.shape for f in frames} == {(360, 640, 3)}
    entries = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    starts = {e["alert_id"] for e in entries if e["type"] == "alert_start"}
    assert starts == {e["alert_id"] for e in entries if e["type"] == "alert_end"}


def test_corrupt_or_empty_detector_weights_name_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.pt"
    broken.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    for weights in (broken, empty):
        result = cli("run", "--source", "x.mp4", "--set", f"detector.model={weights}", "--set", "classifier.model=none")
        assert result.returncode == 1
        assert f"cannot load detector weights {weights}" in result.stderr and "Traceback" not in result.stderr


def test_missing_action_model_names_where_it_looked(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    result = cli("run", "--source", "x.mp4", "--set", f"classifier.model={missing}")
    assert result.returncode == 1
    assert f"action model '{missing}' not found" in result.stderr and str(missing) in result.stderr
    assert "Traceback" not in result.stderr


def test_damaged_action_model_files_are_named(tmp_path: Path) -> None:
    model = tmp_path / "damaged_model"
    shutil.copytree(REPO / "models" / "efficientnet_lite0_har", model)
    (model / "model-int8.onnx").write_bytes(b"not an onnx model")
    result = cli("run", "--source", "x.mp4", "--set", f"classifier.model={model}")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{model / 'model-int8.onnx'}: ONNX Runtime cannot load it" in result.stderr
    (model / "model-int8.onnx").unlink()
    (model / "weights.npz").write_bytes(b"\x00" * 100)
    result = cli("run", "--source", "x.mp4", "--set", f"classifier.model={model}")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{model / 'weights.npz'}: not a readable weights file" in result.stderr
