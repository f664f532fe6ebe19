"""Harvest what the pipeline sees in labelled clips: every tracked person's box, keypoints and speed per frame,
and person crops cut exactly as the classifier stage cuts them.

The output feeds two trainers: the image classifier's background classes and served crops
(:mod:`har_stream.training.served`) and the temporal model (:mod:`har_stream.temporal`). One ``.npz`` per clip
holds the tracks; crops are JPEG files named ``<clip stem>/<track>_<frame>.jpg`` listed in ``crops.csv``.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from har_stream.classification.crops import crop_people
from har_stream.clips.labels import LabelledClip
from har_stream.config.schema import HarStreamConfig
from har_stream.detection.detector import PersonDetector
from har_stream.frame import KEYPOINTS, SPEED, FrameRecord
from har_stream.sources import SourceError, open_source
from har_stream.temporal.features import MIN_PERSON_PX, PATCH_SIZE, motion_patch
from har_stream.temporal.flow import FLOW_STATS, FrameFlow, to_grey
from har_stream.tracking.tracker import PersonTracker

log = logging.getLogger(__name__)

TRACK_FIELDS = ("frame", "timestamp", "track_id", "box", "keypoints", "confidence", "speed", "patch", "flow")


@dataclass
class ClipTracks:
    """Per detection row of one clip: frame index, media time, track id, box, 17 keypoints, confidence, speed."""

    frame: np.ndarray
    timestamp: np.ndarray
    track_id: np.ndarray
    box: np.ndarray
    keypoints: np.ndarray
    confidence: np.ndarray
    speed: np.ndarray
    patch: np.ndarray  # (N, h, w) uint8 grey box-aligned patches (temporal model's appearance motion)
    flow: np.ndarray  # (N, len(FLOW_STATS)) optical-flow statistics (har_stream/temporal/flow.py), NaN: none
    width: int
    height: int
    fps: float

    def save(self, path: Path) -> None:
        """Write as one compressed ``.npz``."""
        np.savez_compressed(
            path,
            **{k: getattr(self, k) for k in TRACK_FIELDS},
            size=np.array([self.width, self.height]),
            fps=np.array(self.fps),
        )

    @classmethod
    def load(cls, path: Path) -> ClipTracks:
        """Read a file written by :meth:`save`."""
        with np.load(path) as data:
            missing = [k for k in TRACK_FIELDS if k not in data.files]
            if missing:
                raise ValueError(
                    f"{path} was harvested by an older version (no {', '.join(missing)}): run "
                    "`har-stream clips harvest` again with the same --out; it adds what is missing"
                )
            width, height = (int(v) for v in data["size"])
            return cls(**{k: data[k] for k in TRACK_FIELDS}, width=width, height=height, fps=float(data["fps"]))


def track_clip(
    path: Path,
    config: HarStreamConfig,
    detector: PersonDetector,
    crop_every: int = 0,
    crop_size: int = 260,
    max_frames: int | None = None,
) -> tuple[ClipTracks, list[tuple[int, int, np.ndarray]]]:
    """Detect and track everyone in ``path``; with ``crop_every`` > 0, also cut each track's crop every N frames."""
    source = open_source(str(path), config.source)
    fps = source.info.fps or 25.0
    tracker = PersonTracker(config.tracker, frame_rate=fps)
    rows: dict[str, list[np.ndarray]] = {k: [] for k in TRACK_FIELDS}
    crops: list[tuple[int, int, np.ndarray]] = []
    size = (0, 0)
    flow = FrameFlow(MIN_PERSON_PX)
    source.start()
    try:
        for frame in source:
            record = FrameRecord(frame.index, frame.timestamp, frame.wall_time, frame.captured_at, frame.image)
            detector(record)
            tracker(record)
            size = (record.width, record.height)
            det = record.detections
            n = len(det)
            grey = to_grey(frame.image)  # once a frame, for the flow and the appearance patches, as the stage does
            flows = flow(grey, frame.timestamp, det.xyxy, frame.index, det.tracker_id)
            if n:
                keypoints = det.data.get(KEYPOINTS, np.zeros((n, 17, 3), dtype=np.float32))
                rows["frame"].append(np.full(n, frame.index))
                rows["timestamp"].append(np.full(n, frame.timestamp))
                rows["track_id"].append(det.tracker_id.astype(np.int64))
                rows["box"].append(det.xyxy.astype(np.float32))
                rows["keypoints"].append(keypoints.astype(np.float32))
                rows["confidence"].append(det.confidence.astype(np.float32))
                rows["speed"].append(det.data[SPEED].astype(np.float32))
                rows["patch"].append(np.stack([motion_patch(grey, b) for b in det.xyxy]))
                rows["flow"].append(flows)
                if crop_every and frame.index % crop_every == 0:
                    cut = crop_people(frame.image, det.xyxy, config.classifier.crop_padding, crop_size)
                    crops += [(int(t), frame.index, c) for t, c in zip(det.tracker_id, cut, strict=True)]
            if max_frames is not None and frame.index + 1 >= max_frames:
                break
    finally:
        source.close()
    empty = {
        "frame": (0,),
        "timestamp": (0,),
        "track_id": (0,),
        "box": (0, 4),
        "keypoints": (0, 17, 3),
        "confidence": (0,),
        "speed": (0,),
        "patch": (0, PATCH_SIZE[1], PATCH_SIZE[0]),
        "flow": (0, len(FLOW_STATS)),
    }
    arrays = {
        k: np.concatenate(v) if v else np.zeros(empty[k], dtype=np.uint8 if k == "patch" else np.float32)
        for k, v in rows.items()
    }
    return ClipTracks(**arrays, width=size[0], height=size[1], fps=fps), crops


def _stored_fields(track_file: Path) -> set[str]:
    """The arrays a tracks file holds (empty when there is none; older harvests lack some)."""
    if not track_file.is_file():
        return set()
    with np.load(track_file) as stored:
        return set(stored.files)


def add_flow(path: Path, track_file: Path, config: HarStreamConfig) -> None:
    """Add the optical-flow statistics to a tracks file harvested before they existed, without detecting again:
    the clip is decoded by the pipeline's own source and each stored box gets :func:`people_flow` on its frame."""
    with np.load(track_file) as stored:
        arrays = {k: stored[k] for k in stored.files}
    rows_of: dict[int, list[int]] = {}
    for r, f in enumerate(arrays["frame"]):
        rows_of.setdefault(int(f), []).append(r)
    flows = np.full((len(arrays["frame"]), len(FLOW_STATS)), np.nan, np.float32)
    last = max(rows_of, default=-1)
    flow = FrameFlow(MIN_PERSON_PX)
    source = open_source(str(path), config.source)
    source.start()
    try:
        for frame in source:
            rows = rows_of.get(frame.index, [])
            boxes = arrays["box"][rows].reshape(-1, 4)
            flows[rows] = flow(frame.image, frame.timestamp, boxes, frame.index, arrays["track_id"][rows])
            if frame.index >= last:
                break
    finally:
        source.close()
    arrays["flow"] = flows
    np.savez_compressed(track_file, **arrays)


def harvest_clips(
    clips: list[LabelledClip],
    config: HarStreamConfig,
    out: Path,
    crop_parts: dict[str, bool],
    split: dict[str, str],
    crop_every: int = 3,
    crop_size: int = 260,
) -> Path:
    """Track every clip into ``out/tracks/<stem>.npz``; cut crops only of clips whose split part is in
    ``crop_parts`` (never the test part). Clips already harvested are skipped, so a run can resume."""
    detector = PersonDetector(config.detector)
    (out / "tracks").mkdir(parents=True, exist_ok=True)
    listing = out / "crops.csv"
    done = set()
    if listing.is_file():
        with listing.open() as handle:
            done = {row["clip"] for row in csv.DictReader(handle)}
    new_listing = not listing.is_file()
    with listing.open("a", newline="") as handle:
        writer = csv.writer(handle)
        if new_listing:
            writer.writerow(["clip", "label", "group", "part", "track_id", "frame", "crop"])
        for clip in tqdm(clips, desc="harvesting clips", unit="clip"):
            stem = Path(clip.file).stem
            track_file = out / "tracks" / f"{stem}.npz"
            part = split.get(clip.file, "")
            want_crops = crop_parts.get(part, False) and clip.file not in done
            stored = _stored_fields(track_file)
            if "patch" in stored and not want_crops:
                if "flow" not in stored:
                    add_flow(clip.path, track_file, config)
                continue
            try:
                tracks, crops = track_clip(clip.path, config, detector, crop_every if want_crops else 0, crop_size)
            except SourceError as exc:
                log.warning("skipping %s: %s", clip.file, exc)
                continue
            tracks.save(track_file)
            if crops:
                folder = out / "crops" / stem
                folder.mkdir(parents=True, exist_ok=True)
                for track_id, frame_index, crop in crops:
                    name = f"{track_id}_{frame_index}.jpg"
                    cv2.imwrite(str(folder / name), crop, [cv2.IMWRITE_JPEG_QUALITY, 92])
                    writer.writerow([clip.file, clip.label, clip.group, part, track_id, frame_index, f"{stem}/{name}"])
            elif want_crops:
                writer.writerow([clip.file, clip.label, clip.group, part, -1, -1, ""])  # remember: nobody found
            handle.flush()
    return out
