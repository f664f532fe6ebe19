"""Per-track window features for the temporal model: how a person's body, limbs and neighbours moved over the
last second, from the boxes and 17 pose keypoints the detector and tracker already give, the person's grey
appearance patch and the dense optical flow in and beside their box (:mod:`har_stream.temporal.flow`).

Everything is normalised by the person's box height (so it does not depend on resolution or distance) and by
time in seconds (so it does not depend on the frame rate). Keypoints seen with confidence below
``MIN_KEYPOINT_CONF`` count as missing: features that need them are NaN, which the tree model treats as
"not seen" (it learned what to do when they are missing), and the share of limbs seen is itself a feature.
People shorter than ``MIN_PERSON_PX`` get no limb or flow features at all (their keypoints are guesses).
"""

from __future__ import annotations

import collections
import warnings
from dataclasses import dataclass, field

import numpy as np

from har_stream.geometry import box_gaps
from har_stream.temporal.flow import FLOW_STATS

WINDOW_S = 1.0
MIN_KEYPOINT_CONF = 0.3
MIN_PERSON_PX = 40.0
MIN_WINDOW_FRAMES = 4

PATCH_SIZE = (16, 32)  # width, height of the grey appearance patch kept per person and frame

_WRISTS, _ELBOWS, _KNEES, _ANKLES = (9, 10), (7, 8), (13, 14), (15, 16)
_SHOULDERS, _HIPS = (5, 6), (11, 12)
_LIMBS = {"wrist": _WRISTS, "elbow": _ELBOWS, "knee": _KNEES, "ankle": _ANKLES, "head": (0,)}

FEATURE_NAMES: tuple[str, ...] = (
    "coverage",  # share of the window with frames of this track
    "log_height_px",
    "height_share",  # box height / frame height
    "body_speed",  # net displacement of the box bottom centre, box heights per second
    "body_path_speed",  # path length of the bottom centre, box heights per second
    "height_change",  # |d log height| per second (approaching / leaving the camera, falling)
    "aspect_mean",
    "aspect_std",
    "keypoints_seen",  # mean share of confident keypoints
    *(f"{limb}_{stat}" for limb in _LIMBS for stat in ("speed_mean", "speed_max", "seen")),
    "limb_speed_max",  # fastest wrist/ankle relative to the hips
    "pose_spread",  # std over time of the normalised pose
    "wrist_above_shoulder",  # highest wrist above the shoulders, box heights
    "ankle_crossings",  # sign changes per second of the ankles' left-right offset (gait cadence)
    "ankle_offset_std",
    "knee_angle_std",
    "nearest_gap",  # gap to the nearest other person's box, in box heights (5 when alone)
    "nearest_overlap",  # largest IoU with another person's box
    "nearest_relative_speed",  # speed relative to the nearest person, box heights per second
    "people_within_1h",
    "limbs_in_other_box",  # share of frames with a wrist or ankle inside another person's box
    "deform_mean",  # how much the person's own appearance changes frame to frame (box-aligned), per 1/25 s
    "deform_max",
    "deform_std",
    "deform_upper_mean",  # ... in the upper and lower half of the box
    "deform_lower_mean",
    # dense optical flow in and around the box (har_stream/temporal/flow.py), over the window's frames
    *(f"{stat}_{agg}" for stat in FLOW_STATS for agg in ("mean", "max", "std")),
    "flow_change",  # mean frame-to-frame change of flow_mean (jerky motion), box heights per second
)

#: Features of the nearest other person (within one box height; NaN when nobody is that close), appended by
#: :class:`~har_stream.temporal.windows.TrackWindows`: in a fight both people move violently.
NEIGHBOUR_SOURCES: tuple[str, ...] = ("deform_mean", "limb_speed_max", "wrist_speed_mean", "body_path_speed")
NEIGHBOUR_NAMES: tuple[str, ...] = tuple(f"nearest_{name}" for name in NEIGHBOUR_SOURCES)
ALL_FEATURE_NAMES: tuple[str, ...] = FEATURE_NAMES + NEIGHBOUR_NAMES


def motion_patch(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The person's box as a small grey patch (``PATCH_SIZE``): aligned with the box, so walking (the box moves)
    changes it little and flailing limbs (the content moves within the box) change it a lot. ``image``: BGR or
    already grey (the same patch)."""
    import cv2

    h, w = image.shape[:2]
    x1, y1 = max(0, int(box[0])), max(0, int(box[1]))
    x2, y2 = min(w, int(np.ceil(box[2]))), min(h, int(np.ceil(box[3])))
    if x2 - x1 < 2 or y2 - y1 < 2:
        return np.zeros(PATCH_SIZE[::-1], dtype=np.uint8)
    region = image[y1:y2, x1:x2]
    grey = cv2.cvtColor(region, cv2.COLOR_BGR2GRAY) if region.ndim == 3 else region
    return cv2.resize(grey, PATCH_SIZE, interpolation=cv2.INTER_AREA)


@dataclass
class _Frame:
    t: float
    box: np.ndarray
    keypoints: np.ndarray
    patch: np.ndarray | None
    flow: np.ndarray | None


@dataclass
class Window:
    """One track's last ``window_s`` seconds: times (n,), boxes (n, 4), keypoints (n, 17, 3), appearance
    patches (n, h, w) or None, flow statistics (n, len(FLOW_STATS)) or None."""

    times: np.ndarray
    boxes: np.ndarray
    keypoints: np.ndarray
    patches: np.ndarray | None
    flows: np.ndarray | None


@dataclass
class TrackHistory:
    """The last ``keep_s`` seconds of one track's boxes and keypoints."""

    keep_s: float = WINDOW_S + 0.25
    frames: collections.deque[_Frame] = field(default_factory=collections.deque)

    def add(
        self,
        t: float,
        box: np.ndarray,
        keypoints: np.ndarray,
        patch: np.ndarray | None = None,
        flow: np.ndarray | None = None,
    ) -> None:
        """Append one observation and drop the ones older than ``keep_s``."""
        box = np.asarray(box, dtype=np.float32)
        self.frames.append(_Frame(t, box, np.asarray(keypoints, dtype=np.float32), patch, flow))
        while self.frames and t - self.frames[0].t > self.keep_s:
            self.frames.popleft()

    def window(self, t: float, window_s: float = WINDOW_S) -> Window:
        """The observations within ``window_s`` of ``t``."""
        chosen = [f for f in self.frames if t - f.t <= window_s + 1e-6]
        if not chosen:
            return Window(np.zeros(0), np.zeros((0, 4), np.float32), np.zeros((0, 17, 3), np.float32), None, None)
        patches = flows = None
        if all(f.patch is not None for f in chosen):
            patches = np.stack([f.patch for f in chosen])  # type: ignore[misc]
        if any(f.flow is not None for f in chosen):
            missing = np.full(len(FLOW_STATS), np.nan, np.float32)
            flows = np.stack([f.flow if f.flow is not None else missing for f in chosen])
        return Window(
            np.array([f.t for f in chosen]),
            np.stack([f.box for f in chosen]),
            np.stack([f.keypoints for f in chosen]),
            patches,
            flows,
        )


def _gap_and_iou(box: np.ndarray, others: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    gap = np.hypot(*box_gaps(box, others))
    iw = np.clip(np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0]), 0, None)
    ih = np.clip(np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1]), 0, None)
    inter = iw * ih
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return gap, inter / np.maximum(area + areas - inter, 1e-6)


def _nanstat(fn, values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(fn(values)) if len(values) else float("nan")


def window_features(
    times: np.ndarray,
    boxes: np.ndarray,
    keypoints: np.ndarray,
    frame_height: int,
    others: np.ndarray,
    other_velocities: np.ndarray,
    patches: np.ndarray | None = None,
    window_s: float = WINDOW_S,
    flows: np.ndarray | None = None,
) -> np.ndarray | None:
    """The feature vector (see :data:`FEATURE_NAMES`) of one track's window, or None with too few frames.

    ``others``: the other people's boxes on the newest frame (M, 4); ``other_velocities``: their bottom-centre
    velocities in pixels per second (M, 2); ``patches``: the person's :func:`motion_patch` per frame (None:
    appearance features are NaN); ``flows``: the person's flow statistics per frame
    (:func:`~har_stream.temporal.flow.people_flow`; None or NaN rows: flow features are NaN). "Limbs inside
    another's box" compares every frame of the window with the others' newest boxes.
    """
    if len(times) < MIN_WINDOW_FRAMES:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices (limbs never seen) are NaN features
        return _features(times, boxes, keypoints, frame_height, others, other_velocities, patches, window_s, flows)


def _features(
    times: np.ndarray,
    boxes: np.ndarray,
    keypoints: np.ndarray,
    frame_height: int,
    others: np.ndarray,
    other_velocities: np.ndarray,
    patches: np.ndarray | None,
    window_s: float,
    flows: np.ndarray | None,
) -> np.ndarray:
    f = dict.fromkeys(FEATURE_NAMES, float("nan"))
    duration = max(float(times[-1] - times[0]), 1e-3)
    heights = np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)
    widths = np.maximum(boxes[:, 2] - boxes[:, 0], 1.0)
    h = float(np.median(heights))
    bottom = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, boxes[:, 3]], axis=1)
    steps = np.diff(bottom, axis=0)
    f["coverage"] = min(1.0, duration / window_s)
    f["log_height_px"] = float(np.log(h))
    f["height_share"] = h / max(frame_height, 1)
    f["body_speed"] = float(np.hypot(*(bottom[-1] - bottom[0])) / h / duration)
    f["body_path_speed"] = float(np.hypot(steps[:, 0], steps[:, 1]).sum() / h / duration)
    f["height_change"] = float(np.abs(np.diff(np.log(heights))).sum() / duration)
    aspect = widths / heights
    f["aspect_mean"], f["aspect_std"] = float(aspect.mean()), float(aspect.std())

    seen = keypoints[:, :, 2] >= MIN_KEYPOINT_CONF
    f["keypoints_seen"] = float(seen.mean())
    velocity = None
    if h >= MIN_PERSON_PX:
        xy = keypoints[:, :, :2].astype(np.float64)
        hips_seen = seen[:, list(_HIPS)].all(axis=1)
        centre = np.where(
            hips_seen[:, None], xy[:, list(_HIPS)].mean(axis=1), np.stack([bottom[:, 0], boxes[:, 1] + heights / 2], 1)
        )
        norm = (xy - centre[:, None, :]) / heights[:, None, None]
        norm[~seen] = np.nan
        dt = np.maximum(np.diff(times), 1e-3)
        velocity = np.linalg.norm(np.diff(norm, axis=0), axis=2) / dt[:, None]  # (n-1, 17), NaN where unseen
        for limb, joints in _LIMBS.items():
            v = velocity[:, list(joints)]
            f[f"{limb}_speed_mean"] = _nanstat(np.mean, v)
            f[f"{limb}_speed_max"] = _nanstat(np.max, v)
            f[f"{limb}_seen"] = float(seen[:, list(joints)].mean())
        f["limb_speed_max"] = _nanstat(np.max, velocity[:, [*_WRISTS, *_ANKLES]])
        f["pose_spread"] = _nanstat(np.mean, np.nanstd(norm, axis=0)) if np.isfinite(norm).any() else float("nan")
        shoulder_y = np.nanmean(norm[:, list(_SHOULDERS), 1], axis=1) if np.isfinite(norm).any() else None
        if shoulder_y is not None:
            above = shoulder_y[:, None] - norm[:, list(_WRISTS), 1]
            f["wrist_above_shoulder"] = _nanstat(np.max, above)
        offset = norm[:, _ANKLES[0], 0] - norm[:, _ANKLES[1], 0]
        good = np.isfinite(offset)
        if good.sum() >= MIN_WINDOW_FRAMES:
            o = offset[good] - np.median(offset[good])
            f["ankle_crossings"] = float(np.sum(np.diff(np.sign(o)) != 0) / duration)
            f["ankle_offset_std"] = float(np.std(offset[good]))
        knee = _knee_angles(xy, seen)
        if np.isfinite(knee).sum() >= MIN_WINDOW_FRAMES:
            f["knee_angle_std"] = _nanstat(np.std, knee)

    f["nearest_gap"], f["nearest_overlap"], f["people_within_1h"] = 5.0, 0.0, 0.0
    f["limbs_in_other_box"] = 0.0
    if len(others):
        gap, iou = _gap_and_iou(boxes[-1], others)
        nearest = int(np.argmin(gap))
        f["nearest_gap"] = float(min(5.0, gap[nearest] / h))
        f["nearest_overlap"] = float(iou.max())
        f["people_within_1h"] = float((gap / h <= 1.0).sum())
        own_velocity = (bottom[-1] - bottom[0]) / duration
        f["nearest_relative_speed"] = float(np.hypot(*(own_velocity - other_velocities[nearest])) / h)
        f["limbs_in_other_box"] = _limbs_inside(keypoints, seen, others)
    if patches is not None and h >= MIN_PERSON_PX / 2:
        f.update(_deformation(patches, times))
    if flows is not None and h >= MIN_PERSON_PX:
        f.update(_flow_summary(flows))
    return np.array([f[name] for name in FEATURE_NAMES], dtype=np.float32)


def _deformation(patches: np.ndarray, times: np.ndarray) -> dict[str, float]:
    """Frame-to-frame change of the box-aligned grey patches (each normalised to zero mean, unit spread)."""
    p = patches.astype(np.float32)
    p = (p - p.mean(axis=(1, 2), keepdims=True)) / (p.std(axis=(1, 2), keepdims=True) + 8.0 / 255 * 255 / 32)
    steps = np.maximum(np.diff(times), 1e-3) * 25.0  # in units of 1/25 s, so the frame rate does not matter
    diff = np.abs(np.diff(p, axis=0))
    per_frame = diff.mean(axis=(1, 2)) / steps
    half = p.shape[1] // 2
    return {
        "deform_mean": float(per_frame.mean()),
        "deform_max": float(per_frame.max()),
        "deform_std": float(per_frame.std()),
        "deform_upper_mean": float((diff[:, :half].mean(axis=(1, 2)) / steps).mean()),
        "deform_lower_mean": float((diff[:, half:].mean(axis=(1, 2)) / steps).mean()),
    }


def _flow_summary(flows: np.ndarray) -> dict[str, float]:
    """Mean, max and spread over the window of each per-frame flow statistic, and how jerky ``flow_mean`` is."""
    seen = flows[np.isfinite(flows[:, 0])]
    if len(seen) < 2:
        return {}
    columns = np.ascontiguousarray(seen.T)  # one row per statistic: reduced as 1-D arrays are, same rounding
    if np.isnan(columns).any():  # a margin that was not in the frame: leave it out, not the frame
        mean, top, spread = np.nanmean(columns, axis=1), np.nanmax(columns, axis=1), np.nanstd(columns, axis=1)
    else:
        mean, top, spread = columns.mean(axis=1), columns.max(axis=1), columns.std(axis=1)
    out = {"flow_change": float(np.abs(np.diff(seen[:, 0])).mean())}
    for k, stat in enumerate(FLOW_STATS):
        out[f"{stat}_mean"], out[f"{stat}_max"], out[f"{stat}_std"] = float(mean[k]), float(top[k]), float(spread[k])
    return out


def _knee_angles(xy: np.ndarray, seen: np.ndarray) -> np.ndarray:
    angles = []
    for hip, knee, ankle in ((11, 13, 15), (12, 14, 16)):
        ok = seen[:, [hip, knee, ankle]].all(axis=1)
        a, b = xy[:, hip] - xy[:, knee], xy[:, ankle] - xy[:, knee]
        cos = (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-6)
        angles.append(np.where(ok, np.arccos(np.clip(cos, -1, 1)), np.nan))
    return np.concatenate(angles)


def _limbs_inside(keypoints: np.ndarray, seen: np.ndarray, others: np.ndarray) -> float:
    joints = [*_WRISTS, *_ANKLES]
    p = keypoints[:, joints, :2]  # (n, 4, 2)
    inside = (
        (p[:, :, None, 0] >= others[None, None, :, 0])
        & (p[:, :, None, 0] <= others[None, None, :, 2])
        & (p[:, :, None, 1] >= others[None, None, :, 1])
        & (p[:, :, None, 1] <= others[None, None, :, 3])
    ).any(axis=2) & seen[:, joints]
    return float(inside.any(axis=1).mean()) if len(keypoints) else 0.0
