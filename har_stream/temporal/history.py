"""One tracked person's recent frames, with what each frame measures on its own computed once, on arrival.

A window's features (:mod:`har_stream.temporal.features`) reduce per-frame measurements over the last second:
the pose relative to the hips in box heights, each joint's speed since the previous frame, the knee angles, and
how much the box-aligned appearance patch changed since the previous frame. Those depend on a frame and the one
before it only, so :class:`TrackHistory` computes them when the frame is added and keeps them in contiguous
arrays; a :class:`Window` is then a slice. Scored on every frame, a track's window shares all but one frame with
the last one, and nothing is computed twice. The arithmetic is the vectorised arithmetic over the whole window
that it replaces, applied one frame (or one pair of frames) at a time, so the numbers are the same.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from har_stream.temporal.flow import FLOW_STATS

MIN_KEYPOINT_CONF = 0.3
HIPS = (11, 12)
_KNEE_CHAINS = ((11, 13, 15), (12, 14, 16))  # hip, knee, ankle (left, right)
_PATCH_SPREAD_FLOOR = 8.0 / 255 * 255 / 32  # keeps a flat patch's normalisation finite


@dataclass
class Window:
    """One track's frames within the window (n of them), oldest first.

    ``times`` (n,), ``boxes`` (n, 4), ``keypoints`` (n, 17, 3); ``seen`` (n, 17): keypoint confidence at least
    ``MIN_KEYPOINT_CONF``; ``pose`` (n, 17, 2): keypoints relative to the hips' midpoint (the box centre when a
    hip is unseen) in box heights, NaN where unseen; ``joint_speed`` (n - 1, 17): each joint's pose speed between
    consecutive frames, box heights per second; ``knee`` (n, 2): left and right knee angles, NaN unless hip, knee
    and ankle are seen; ``deform`` (n - 1, 3) or None (a frame without a patch): mean absolute change of the
    normalised appearance patch between consecutive frames, over the whole patch and its upper and lower half;
    ``flows`` (n, len(FLOW_STATS)) or None (no frame with flow): NaN rows where a frame has none; ``camera``
    (n, 2) or None: the camera's accumulated pan on each frame (:mod:`~har_stream.temporal.camera_motion`), in
    frame pixels; a box minus it is in scene coordinates.
    """

    times: np.ndarray
    boxes: np.ndarray
    keypoints: np.ndarray
    seen: np.ndarray
    pose: np.ndarray
    joint_speed: np.ndarray
    knee: np.ndarray
    deform: np.ndarray | None
    flows: np.ndarray | None
    camera: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.times)


def normalise_patches(patches: np.ndarray) -> np.ndarray:
    """Grey patches (N, h, w) as float32, each with zero mean and (floored) unit spread, so lighting does not
    count as motion."""
    p = patches.astype(np.float32)
    return (p - p.mean(axis=(1, 2), keepdims=True)) / (p.std(axis=(1, 2), keepdims=True) + _PATCH_SPREAD_FLOOR)


def patch_changes(previous: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Mean absolute change between pairs of normalised patches (N, h, w): whole, upper half, lower half (N, 3)."""
    diff = np.abs(current - previous)
    half = diff.shape[1] // 2
    return np.stack([diff.mean(axis=(1, 2)), diff[:, :half].mean(axis=(1, 2)), diff[:, half:].mean(axis=(1, 2))], 1)


def frame_poses(boxes: np.ndarray, keypoints: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``seen`` (N, 17), ``pose`` (N, 17, 2) and ``knee`` angles (N, 2) of N people on one frame (see
    :class:`Window`); ``boxes`` (N, 4) and ``keypoints`` (N, 17, 3) float32."""
    seen = keypoints[:, :, 2] >= MIN_KEYPOINT_CONF
    xy = keypoints[:, :, :2].astype(np.float64)
    heights = np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)
    box_centre = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, boxes[:, 1] + heights / 2], 1)
    hips_seen = seen[:, list(HIPS)].all(axis=1)
    centre = np.where(hips_seen[:, None], xy[:, list(HIPS)].mean(axis=1), box_centre)
    pose = (xy - centre[:, None, :]) / heights[:, None, None]
    pose[~seen] = np.nan
    return seen, pose, joint_angles(xy, seen, _KNEE_CHAINS)


def joint_angles(xy: np.ndarray, seen: np.ndarray, chains: tuple[tuple[int, int, int], ...]) -> np.ndarray:
    """The angle in radians at the middle joint of each ``(end, joint, end)`` keypoint chain (N, len(chains)) of
    N poses ``xy`` (N, 17, 2); NaN unless all three keypoints are ``seen`` (N, 17). Pi is a straight limb."""
    angles = np.full((len(xy), len(chains)), np.nan)
    for column, (first, joint, last) in enumerate(chains):
        ok = seen[:, [first, joint, last]].all(axis=1)
        if ok.any():
            a, b = xy[:, first] - xy[:, joint], xy[:, last] - xy[:, joint]
            cos = (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-6)
            angles[:, column] = np.where(ok, np.arccos(np.clip(cos, -1, 1)), np.nan)
    return angles


class _Columns:
    """Named arrays that grow at the end and shrink from the front, each kept contiguous (a slice is a view)."""

    def __init__(self, layout: dict[str, tuple[tuple[int, ...], type]], capacity: int = 48) -> None:
        self._data = {name: np.empty((capacity, *shape), dtype) for name, (shape, dtype) in layout.items()}
        self.start = self.end = 0

    def __len__(self) -> int:
        return self.end - self.start

    def append(self, **values: object) -> None:
        """Add one row (every column named)."""
        capacity = len(next(iter(self._data.values())))
        if self.end == capacity:
            n = len(self)
            grow = 2 if n > capacity // 2 else 1
            for name, array in self._data.items():
                fresh = np.empty((capacity * grow, *array.shape[1:]), array.dtype)
                fresh[:n] = array[self.start : self.end]
                self._data[name] = fresh
            self.start, self.end = 0, n
        for name, value in values.items():
            self._data[name][self.end] = value
        self.end += 1

    def drop_front(self, k: int) -> None:
        """Forget the ``k`` oldest rows."""
        self.start = min(self.end, self.start + k)

    def column(self, name: str, first: int = 0) -> np.ndarray:
        """Rows ``first`` (0: the oldest kept) to the newest of one column, as a view."""
        return self._data[name][self.start + first : self.end]


_LAYOUT: dict[str, tuple[tuple[int, ...], type]] = {
    "time": ((), np.float64),
    "box": ((4,), np.float32),
    "keypoints": ((17, 3), np.float32),
    "seen": ((17,), np.bool_),
    "pose": ((17, 2), np.float64),
    "joint_speed": ((17,), np.float64),  # since the previous frame (NaN on a track's first)
    "knee": ((2,), np.float64),
    "has_patch": ((), np.bool_),
    "deform": ((3,), np.float32),  # since the previous frame (NaN without both patches)
    "has_flow": ((), np.bool_),
    "flow": ((len(FLOW_STATS),), np.float32),
    "camera": ((2,), np.float64),  # the camera's accumulated pan on this frame, frame pixels
}
_NO_FLOW = np.full(len(FLOW_STATS), np.nan, np.float32)
_STILL = np.zeros(2)


class TrackHistory:
    """The last ``keep_s`` seconds of one track: boxes, keypoints, optional appearance patches and flow
    statistics, and each frame's own measurements (see the module docstring). :func:`add_frame` adds a whole
    frame's people at once."""

    def __init__(self, keep_s: float) -> None:
        self.keep_s = keep_s
        self._rows = _Columns(_LAYOUT)
        self._last_patch: np.ndarray | None = None  # the newest frame's normalised patch

    def __len__(self) -> int:
        return len(self._rows)

    def add(
        self,
        t: float,
        box: np.ndarray,
        keypoints: np.ndarray,
        patch: np.ndarray | None = None,
        flow: np.ndarray | None = None,
    ) -> None:
        """Append one observation and drop the ones older than ``keep_s``."""
        add_frame(
            [self],
            t,
            np.asarray(box)[None],
            np.asarray(keypoints)[None],
            None if patch is None else np.asarray(patch)[None],
            None if flow is None else np.asarray(flow)[None],
        )

    def _last(self, name: str) -> np.ndarray:
        return self._rows.column(name, len(self._rows) - 1)[0]

    def _append(self, t: float, normalised_patch: np.ndarray | None, **row: object) -> None:
        self._last_patch = normalised_patch
        rows = self._rows
        rows.append(time=t, **row)
        too_old = t - rows.column("time") > self.keep_s  # False for this frame, so argmin finds the first kept
        rows.drop_front(int(np.argmin(too_old)))

    def window(self, t: float, window_s: float) -> Window:
        """The observations within ``window_s`` of ``t``."""
        rows = self._rows
        inside = np.flatnonzero(t - rows.column("time") <= window_s + 1e-6)
        first = int(inside[0]) if len(inside) else len(rows)
        times = rows.column("time", first)
        has_patch = rows.column("has_patch", first)
        deform = rows.column("deform", first)[1:] if len(times) and has_patch.all() else None
        flows = rows.column("flow", first) if rows.column("has_flow", first).any() else None
        return Window(
            times,
            rows.column("box", first),
            rows.column("keypoints", first),
            rows.column("seen", first),
            rows.column("pose", first),
            rows.column("joint_speed", first)[1:],
            rows.column("knee", first),
            deform,
            flows,
            rows.column("camera", first),
        )


def add_frame(
    histories: list[TrackHistory],
    t: float,
    boxes: np.ndarray,
    keypoints: np.ndarray,
    patches: np.ndarray | None = None,
    flows: np.ndarray | None = None,
    camera: np.ndarray | None = None,
) -> None:
    """Add one frame's people, person ``k`` to ``histories[k]``, measuring them all at once: ``boxes`` (N, 4),
    ``keypoints`` (N, 17, 3), ``patches`` (N, h, w) grey or None, ``flows`` (N, len(FLOW_STATS)) or None,
    ``camera`` the frame's camera offset (2,) or None (a fixed camera)."""
    camera = _STILL if camera is None else np.asarray(camera, dtype=np.float64)
    boxes = np.asarray(boxes, dtype=np.float32)
    keypoints = np.asarray(keypoints, dtype=np.float32)
    n = len(histories)
    seen, pose, knee = frame_poses(boxes, keypoints)
    normalised = normalise_patches(patches) if patches is not None else None
    joint_speed = np.full((n, 17), np.nan)
    deform = np.full((n, 3), np.nan, np.float32)
    known = [k for k, history in enumerate(histories) if len(history)]
    if known:
        last_t = np.array([histories[k]._last("time") for k in known])
        dt = np.maximum(t - last_t, 1e-3)
        last_pose = np.stack([histories[k]._last("pose") for k in known])
        joint_speed[known] = np.linalg.norm(pose[known] - last_pose, axis=2) / dt[:, None]
        if normalised is not None:
            paired = [k for k in known if histories[k]._last_patch is not None]
            if paired:
                last_patch = np.stack([histories[k]._last_patch for k in paired])  # type: ignore[misc]
                deform[paired] = patch_changes(last_patch, normalised[paired])
    for k, history in enumerate(histories):
        history._append(
            t,
            normalised[k] if normalised is not None else None,
            box=boxes[k],
            keypoints=keypoints[k],
            seen=seen[k],
            pose=pose[k],
            joint_speed=joint_speed[k],
            knee=knee[k],
            has_patch=patches is not None,
            deform=deform[k],
            has_flow=flows is not None,
            flow=flows[k] if flows is not None else _NO_FLOW,
            camera=camera,
        )
