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

import warnings

import numpy as np

from har_stream.geometry import box_gaps
from har_stream.temporal.flow import FLOW_STATS
from har_stream.temporal.history import MIN_KEYPOINT_CONF as MIN_KEYPOINT_CONF  # re-exported: the gate's home
from har_stream.temporal.history import TrackHistory, Window

WINDOW_S = 1.0
MIN_PERSON_PX = 40.0
MIN_WINDOW_FRAMES = 4

PATCH_SIZE = (16, 32)  # width, height of the grey appearance patch kept per person and frame

_WRISTS, _ELBOWS, _KNEES, _ANKLES = (9, 10), (7, 8), (13, 14), (15, 16)
_SHOULDERS = (5, 6)
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
#: The window lengths whose features the model sees, longest first (each a block of the same features).
WINDOWS_S: tuple[float, ...] = (WINDOW_S,)


def feature_names(windows_s: tuple[float, ...] = WINDOWS_S) -> tuple[str, ...]:
    """Column names of :class:`~har_stream.temporal.windows.TrackWindows` features for these window lengths: the
    first window's features by their own names, each further window's suffixed with its length (``@0.5s``)."""
    block = FEATURE_NAMES + NEIGHBOUR_NAMES
    return block + tuple(f"{name}@{length:g}s" for length in windows_s[1:] for name in block)


ALL_FEATURE_NAMES: tuple[str, ...] = feature_names()


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


def _gap_and_iou(box: np.ndarray, others: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    gap = np.hypot(*box_gaps(box, others))
    iw = np.clip(np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0]), 0, None)
    ih = np.clip(np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1]), 0, None)
    inter = iw * ih
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return gap, inter / np.maximum(area + areas - inter, 1e-6)


def _median(values: np.ndarray) -> np.floating:
    """``np.median`` of a short 1-D array without NaN (the same number, a fraction of the overhead)."""
    s = np.sort(values)
    k = len(s) // 2
    return s[k] if len(s) % 2 else (s[k - 1] + s[k]) / 2


def _nanstd_over_time(x: np.ndarray) -> np.ndarray:
    """``np.nanstd(x, axis=0)``, the same arithmetic without its overhead (NaN where a column is all NaN)."""
    missing = np.isnan(x)
    values = np.where(missing, 0.0, x)
    count = (~missing).sum(axis=0, dtype=np.intp)
    with np.errstate(invalid="ignore", divide="ignore"):
        deviation = values - values.sum(axis=0, keepdims=True) / count
        deviation[missing] = 0.0
        var = (deviation * deviation).sum(axis=0) / count
    var[count <= 0] = np.nan
    return np.sqrt(var)


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
    """The feature vector (see :data:`FEATURE_NAMES`) of one track's frames, or None with too few frames.

    ``times`` (n,), ``boxes`` (n, 4), ``keypoints`` (n, 17, 3): the frames of the window, oldest first;
    ``others``: the other people's boxes on the newest frame (M, 4); ``other_velocities``: their bottom-centre
    velocities in pixels per second (M, 2); ``patches``: the person's :func:`motion_patch` per frame (None:
    appearance features are NaN); ``flows``: the person's flow statistics per frame
    (:func:`~har_stream.temporal.flow.people_flow`; None or NaN rows: flow features are NaN). The same numbers as
    :func:`track_window_features` on a :class:`~har_stream.temporal.history.TrackHistory` fed these frames.
    """
    if len(times) < MIN_WINDOW_FRAMES:
        return None
    history = TrackHistory(keep_s=np.inf)
    for k, t in enumerate(times):
        history.add(
            float(t),
            boxes[k],
            keypoints[k],
            patches[k] if patches is not None else None,
            flows[k] if flows is not None else None,
        )
    window = history.window(float(times[-1]), np.inf)
    return track_window_features(window, frame_height, others, other_velocities, window_s)


def track_window_features(
    window: Window, frame_height: int, others: np.ndarray, other_velocities: np.ndarray, window_s: float = WINDOW_S
) -> np.ndarray | None:
    """The feature vector (see :data:`FEATURE_NAMES`) of one track's :class:`~har_stream.temporal.history.Window`,
    or None with fewer than ``MIN_WINDOW_FRAMES`` frames. ``others`` and ``other_velocities`` as for
    :func:`window_features`; "limbs inside another's box" compares every frame of the window with the others'
    newest boxes."""
    if len(window) < MIN_WINDOW_FRAMES:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices (limbs never seen) are NaN features
        return _features(window, frame_height, others, other_velocities, window_s)


def _features(
    window: Window, frame_height: int, others: np.ndarray, other_velocities: np.ndarray, window_s: float
) -> np.ndarray:
    f = dict.fromkeys(FEATURE_NAMES, float("nan"))
    times, boxes, keypoints = window.times, window.boxes, window.keypoints
    duration = max(float(times[-1] - times[0]), 1e-3)
    heights = np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)
    widths = np.maximum(boxes[:, 2] - boxes[:, 0], 1.0)
    h = float(_median(heights))
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

    seen = window.seen
    f["keypoints_seen"] = float(seen.mean())
    if h >= MIN_PERSON_PX:
        norm, velocity = window.pose, window.joint_speed  # (n, 17, 2) and (n - 1, 17), NaN where unseen
        seen_per_joint = seen.sum(axis=0)
        for limb, joints in _LIMBS.items():
            v = velocity[:, list(joints)]
            f[f"{limb}_speed_mean"] = _nanstat(np.mean, v)
            f[f"{limb}_speed_max"] = _nanstat(np.max, v)
            f[f"{limb}_seen"] = float(seen_per_joint[list(joints)].sum() / (len(seen) * len(joints)))
        f["limb_speed_max"] = _nanstat(np.max, velocity[:, [*_WRISTS, *_ANKLES]])
        any_seen = bool(seen.any())
        f["pose_spread"] = _nanstat(np.mean, _nanstd_over_time(norm)) if any_seen else float("nan")
        if any_seen:
            shoulder_y = np.nanmean(norm[:, list(_SHOULDERS), 1], axis=1)
            above = shoulder_y[:, None] - norm[:, list(_WRISTS), 1]
            f["wrist_above_shoulder"] = _nanstat(np.max, above)
        offset = norm[:, _ANKLES[0], 0] - norm[:, _ANKLES[1], 0]
        good = np.isfinite(offset)
        if good.sum() >= MIN_WINDOW_FRAMES:
            o = offset[good] - _median(offset[good])
            f["ankle_crossings"] = float(np.sum(np.diff(np.sign(o)) != 0) / duration)
            f["ankle_offset_std"] = float(np.std(offset[good]))
        knee = window.knee.T.ravel()  # every left angle, then every right one
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
    if window.deform is not None and h >= MIN_PERSON_PX / 2:
        f.update(_deformation(window.deform, times))
    if window.flows is not None and h >= MIN_PERSON_PX:
        f.update(_flow_summary(window.flows))
    return np.array([f[name] for name in FEATURE_NAMES], dtype=np.float32)


def _deformation(change: np.ndarray, times: np.ndarray) -> dict[str, float]:
    """Statistics of the appearance patch's frame-to-frame change (``Window.deform``), per 1/25 s."""
    steps = np.maximum(np.diff(times), 1e-3) * 25.0  # in units of 1/25 s, so the frame rate does not matter
    per_frame = change[:, 0] / steps
    return {
        "deform_mean": float(per_frame.mean()),
        "deform_max": float(per_frame.max()),
        "deform_std": float(per_frame.std()),
        "deform_upper_mean": float((change[:, 1] / steps).mean()),
        "deform_lower_mean": float((change[:, 2] / steps).mean()),
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
