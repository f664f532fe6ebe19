"""Privacy masks on real footage: the masked region is black (or blurred) in the export, the snapshots, the live
view and the alert clips, while the people behind it are still detected, tracked and drawn as boxes."""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pytest

from har_stream.config.loading import ConfigError, validate_config
from har_stream.config.schema import HarStreamConfig, PrivacyConfig
from har_stream.config.site import validate_site
from har_stream.frame import FrameRecord
from har_stream.pipeline import Pipeline
from har_stream.render.overlay import OverlayRenderer
from har_stream.render.privacy import PrivacyMask
from har_stream.rules.zones import ZoneError
from har_stream.serve.runtime import SiteRuntime
from tests.conftest import decode_frames, write_clip

WIDTH, HEIGHT = 640, 360
#: A pentagon over the left-centre of the concourse crop, where several people walk on every frame.
MASK = [[100, 40], [270, 40], [270, 330], [150, 345], [100, 300]]
#: Codec tolerance: a black region decodes to a few grey levels at most, the concourse floor is about 200.
DARK = 24
#: Pixels this close to the polygon's edge or to a drawn box or label may carry codec ringing.
EDGE_PX = 4
#: The detail measure spans about 9 pixels: sharp edges (the mask's, boxes) reach that far into its neighbours.
BLUR_MARGIN = 10


@pytest.fixture(scope="module")
def crop_clip(concourse_video: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 frames of the concourse's centre at full resolution (640x360), as H.264."""
    target = tmp_path_factory.mktemp("privacy") / "concourse_centre40.mp4"
    return write_clip(concourse_video, target, frames=40, crop=(320, 180, WIDTH, HEIGHT))


def camera_config(tmp_path: Path, style: str) -> HarStreamConfig:
    """A camera as ``har-stream run --export --events`` configures it, with one pixel mask and a rule on anyone."""
    return validate_config(
        {
            "camera": "concourse",
            "detector": {"imgsz": 640},
            "rules": [{"name": "anyone", "actions": ["*"], "min_confidence": 0, "min_duration_s": 0}],
            "privacy": {"masks": [{"name": "window", "polygon": MASK, "units": "pixels"}], "style": style},
            "output": {"video": str(tmp_path / "out.mp4"), "events": str(tmp_path / "events.jsonl")},
        }
    )


@dataclass
class Seen:
    """What each rendered record held: where the overlay drew, and the tracked people inside the mask."""

    overlay: dict[int, np.ndarray] = field(default_factory=dict)  # frame index -> pixels the overlay drew on
    inside: dict[int, list[int]] = field(default_factory=dict)  # frame index -> tracker ids inside the mask
    snapshots: dict[Path, int] = field(default_factory=dict)  # snapshot file -> frame index


def run_camera(config: HarStreamConfig, clip: Path, detector: object) -> tuple[Seen, np.ndarray]:
    """Run the real pipeline over ``clip``; return what it showed and the mask's pixels."""
    renderer = OverlayRenderer(config.render, config.zones)
    masked = PrivacyMask(config.privacy).pixels(WIDTH, HEIGHT)
    seen = Seen()

    def on_frame(record: FrameRecord) -> None:
        canvas = np.zeros_like(record.image)  # the overlay alone, drawn as the pipeline drew it
        renderer.annotate(canvas, record.detections)
        renderer.draw_hud(canvas, 88.8, len(record.detections), record.active_alerts)
        seen.overlay[record.index] = canvas.any(axis=2)
        feet = [(int((x0 + x1) / 2), int(y1) - 1) for x0, _, x1, y1 in record.detections.xyxy]
        ids = record.detections.tracker_id if record.detections.tracker_id is not None else []
        seen.inside[record.index] = [
            int(track) for track, (x, y) in zip(ids, feet, strict=True) if masked[min(y, HEIGHT - 1), x]
        ]
        for event in record.alerts:
            if getattr(event, "snapshot", None):
                seen.snapshots[Path(event.snapshot)] = record.index

    result = Pipeline(config, detector=detector).run(source=str(clip), on_frame=on_frame)  # type: ignore[arg-type]
    assert result.error is None and result.summary.frames == 40
    return seen, masked


def checked(masked: np.ndarray, overlay: np.ndarray, margin: int = EDGE_PX) -> np.ndarray:
    """The mask's pixels at least ``margin`` pixels from its edge and from anything the overlay drew."""
    kernel = np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)
    inner = cv2.erode(masked.astype(np.uint8), kernel) > 0
    near_overlay = cv2.dilate(overlay.astype(np.uint8), kernel) > 0
    return inner & ~near_overlay


def assert_black(image: np.ndarray, pixels: np.ndarray, original: np.ndarray, what: str) -> None:
    """Every checked pixel of ``image`` is black within codec tolerance; the original ones were not."""
    assert pixels.sum() > 10_000, what  # most of the mask is checked
    values = image[pixels].max(axis=1)
    assert original[pixels].mean() > 100, what  # without the mask this region is bright floor and people
    assert np.percentile(values, 99.9) <= DARK and values.mean() < 4, (what, values.mean(), values.max())


def high_frequency(image: np.ndarray) -> np.ndarray:
    """Detail a few pixels across (a difference of Gaussians of the grey image): large at the edges of people and
    faces, near 0 in smooth areas; finer than pixel-level codec noise, coarser than a blur cell."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
    return np.abs(cv2.GaussianBlur(grey, (0, 0), 1.0) - cv2.GaussianBlur(grey, (0, 0), 3.0))


def test_black_mask_in_export_and_snapshots_while_people_behind_it_are_tracked(
    crop_clip: Path, detector_640: object, tmp_path: Path
) -> None:
    config = camera_config(tmp_path, "black")
    seen, masked = run_camera(config, crop_clip, detector_640)
    originals = decode_frames(crop_clip)

    # Tracked behind the mask: detection and tracking saw the real pixels there.
    tracks_inside = {track for ids in seen.inside.values() for track in ids}
    frames_with_someone_inside = sum(bool(ids) for ids in seen.inside.values())
    assert len(tracks_inside) >= 2 and frames_with_someone_inside >= 30, seen.inside

    exported = decode_frames(config.output.video)  # type: ignore[arg-type]
    assert len(exported) == 40
    for index, image in enumerate(exported):
        assert_black(image, checked(masked, seen.overlay[index]), originals[index], f"export frame {index}")
        outside = ~masked & ~seen.overlay[index]  # the rest of the frame is the footage, not blacked out
        difference = np.abs(image[outside].astype(int) - originals[index][outside].astype(int)).mean()
        assert difference < 10, (index, difference)
        # Boxes stay: a person behind the mask is drawn over it, so the operator knows someone is there.
        if seen.inside[index]:
            drawn = masked & seen.overlay[index]
            assert image[drawn].max(axis=1).mean() > 100, index

    assert seen.snapshots and all(path.parent == tmp_path / "events_snapshots" for path in seen.snapshots)
    for path, index in seen.snapshots.items():
        snapshot = cv2.imread(str(path))
        assert snapshot is not None and snapshot.shape == (HEIGHT, WIDTH, 3), path
        assert_black(snapshot, checked(masked, seen.overlay[index]), originals[index], path.name)


def test_blur_mask_removes_detail_but_keeps_the_region(crop_clip: Path, detector_640: object, tmp_path: Path) -> None:
    config = camera_config(tmp_path, "blur")
    seen, masked = run_camera(config, crop_clip, detector_640)
    originals = decode_frames(crop_clip)
    exported = decode_frames(config.output.video)  # type: ignore[arg-type]
    assert len(exported) == 40 and {t for ids in seen.inside.values() for t in ids}
    for index, image in enumerate(exported):
        inside = checked(masked, seen.overlay[index], BLUR_MARGIN)
        outside = checked(~masked, seen.overlay[index], BLUR_MARGIN)
        detail, original_detail = high_frequency(image), high_frequency(originals[index])
        # Outside the mask the export keeps most of the footage's detail, so a loss inside is the blur's doing.
        assert detail[outside].mean() > 0.6 * original_detail[outside].mean(), index
        # Inside it keeps a fifth or so (smooth ramps between blur cells, codec noise); unmasked it would keep all.
        assert detail[inside].mean() < 0.4 * original_detail[inside].mean(), index
        assert image[inside].mean() > 100, index  # blurred, not blacked out


def test_masks_are_checked_field_by_field() -> None:
    def error(privacy: dict) -> str:
        with pytest.raises(ConfigError) as caught:
            validate_config({"privacy": privacy})
        return str(caught.value)

    square = [[0.1, 0.1], [0.4, 0.1], [0.4, 0.4], [0.1, 0.4]]
    assert "privacy.masks[0].polygon" in error({"masks": [{"name": "a", "polygon": [[0, 0], [1, 1]]}]})
    message = error({"masks": [{"name": "a", "polygon": [[0, 0], [0.5, 0], [0.5, 1.5]], "units": "normalized"}]})
    assert "privacy.masks[0]" in message and "[0, 1]" in message
    assert "privacy.masks[0].polygon" in error({"masks": [{"name": "a", "polygon": [[0, 0], [1, 1], [1, 0], [0, 1]]}]})
    assert "privacy.style" in error({"masks": [{"name": "a", "polygon": square}], "style": "pixelate"})
    assert "privacy.masks[1].name" in error({"masks": [{"name": "a", "polygon": square}] * 2})
    assert "privacy.masks[0].points" in error({"masks": [{"name": "a", "points": square}]})  # unknown key
    # Pixel corners beyond the frame are found when the frame's size is known, naming the mask.
    stage = PrivacyMask(
        PrivacyConfig.model_validate({"masks": [{"name": "door", "polygon": [[0, 0], [700, 0], [700, 50]]}]})
    )
    frame = FrameRecord(0, 0.0, 0.0, 0.0, np.zeros((HEIGHT, WIDTH, 3), np.uint8))
    with pytest.raises(ZoneError, match=r"privacy.masks\[0\] \('door'\)"):
        stage(frame)


def test_live_view_snapshots_and_clips_of_serve_are_masked(crop_clip: Path, tmp_path: Path) -> None:
    from tests.serve.test_api import serving

    normalized = [[x / (WIDTH - 1), y / (HEIGHT - 1)] for x, y in MASK]
    site = validate_site(
        {
            "defaults": {"classifier": {"model": "none"}, "temporal": {"model": "none"}, "detector": {"imgsz": 640}},
            "cameras": [
                {
                    "name": "gate",
                    "source": {"uri": str(crop_clip)},
                    "rules": [{"name": "anyone", "actions": ["*"], "min_confidence": 0, "min_duration_s": 0}],
                    "privacy": {"masks": [{"name": "window", "polygon": normalized}]},
                }
            ],
            "media": {"folder": str(tmp_path / "media"), "clip_pre_s": 0.2, "clip_post_s": 0.4},
        },
        env={},
    )
    masked = PrivacyMask(site.cameras[0].privacy).pixels(WIDTH, HEIGHT)
    inner = checked(masked, np.zeros_like(masked))
    runtime = SiteRuntime(site).start()
    try:
        with serving(runtime) as port:
            stream = mjpeg_parts(port, "/api/cameras/gate/stream.mjpeg")
            live = [live_jpeg(port, "/api/cameras/gate/frame.jpg"), next(stream)]
            stream.close()
            deadline = time.monotonic() + 300
            while runtime.cameras["gate"].health().status != "finished" or not list(runtime.media_root.rglob("*.mp4")):
                assert time.monotonic() < deadline, runtime.cameras["gate"].health()
                time.sleep(0.2)
            live.append(live_jpeg(port, "/api/cameras/gate/frame.jpg"))
    finally:
        runtime.stopping.set()
        runtime.stop()

    # Boxes are drawn over the mask, so these outputs are checked by what share of the mask is black: nearly all
    # of it with the mask (boxes and labels cover the rest), a few percent of this bright floor without it.
    def dark_share(image: np.ndarray) -> float:
        assert image.shape == (HEIGHT, WIDTH, 3)
        return float((image[inner].max(axis=1) <= DARK).mean())

    for jpeg in live:
        assert dark_share(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)) > 0.8
    snapshots = sorted((runtime.media_root / "snapshots").rglob("*.jpg"))
    clips = sorted(runtime.media_root.rglob("*.mp4"))
    assert snapshots and clips
    for path in snapshots:
        assert dark_share(cv2.imread(str(path))) > 0.8, path
    for path in clips:
        frames = decode_frames(path)
        assert frames and all(dark_share(frame) > 0.8 for frame in frames), path
    assert dark_share(decode_frames(crop_clip)[0]) < 0.1  # the footage itself is not dark there


def live_jpeg(port: int, path: str) -> bytes:
    """One GET of a JPEG endpoint, retried until the camera has a frame."""
    deadline = time.monotonic() + 120
    while True:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        conn.close()
        if response.status == 200:
            assert response.getheader("content-type") == "image/jpeg"
            return body
        assert response.status == 404 and time.monotonic() < deadline, (response.status, body[:200])
        time.sleep(0.1)


def mjpeg_parts(port: int, path: str) -> Iterator[bytes]:
    """The JPEG parts of an MJPEG stream, as they arrive."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path)
    response = conn.getresponse()
    assert response.status == 200
    buffer = b""
    try:
        while True:
            chunk = response.read1(65536)
            assert chunk, "the stream ended"
            buffer += chunk
            start = buffer.find(b"\xff\xd8")
            end = buffer.find(b"\xff\xd9", start + 2)
            if start >= 0 and end > start:
                yield buffer[start : end + 2]
                buffer = buffer[end + 2 :]
    finally:
        conn.close()
