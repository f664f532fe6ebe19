"""Running evidence from how a person moves: speed relative to body size sustained over a window, whether the
track and its box are steady enough for that speed to be real, and the gait seen in the 17 keypoints.

A window (:class:`~har_stream.temporal.history.Window`, the last second of one track) becomes a short vector of
physical measurements (``RUNNING_FEATURES``); :class:`RunningModel` turns them into a calibrated probability
with a logistic model whose coefficients live in a small JSON file (``models/temporal_pose/running.json``).
Everything is in body heights and seconds, so it does not depend on the resolution, the frame rate or the
distance.

Speed alone is not enough: box jitter on close-up or crowded people, a box cut by the frame edge or a person
entering the frame all move a box fast without anyone running. The steadiness measurements (how steady the box
height is, how often the box touches the frame edge) let the model discount those. ``RUNNING_FEATURES`` holds more
measurements than the shipped model reads (path straightness, stride, knee lift, approach speed): the research
that chose its inputs compares them (docs/research/actions.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from har_stream.temporal.history import Window, joint_angles

#: Seconds over which displacement is measured, and seconds over which that speed must be sustained, for a model
#: file that does not name its own (``speed_span_s``, ``sustain_s``; the shipped one measures over 0.3 s, 0.1 s).
SPEED_SPAN_S = 0.4
SUSTAIN_S = 0.4
#: A torso (shoulders' midpoint to hips' midpoint) is about this share of a standing person's height.
TORSO_SHARE = 0.3
#: A box edge within this many pixels of the frame's edge counts as cut by it.
EDGE_PX = 2.0
_SHOULDERS, _HIPS, _KNEES, _ANKLES = (5, 6), (11, 12), [13, 14], (15, 16)
_ARMS = ((5, 7, 9), (6, 8, 10))  # shoulder, elbow, wrist: left arm, right arm

RUNNING_FEATURES: tuple[str, ...] = (
    "sustained_speed",  # min over SUSTAIN_S of the bottom centre's speed over SPEED_SPAN_S, body heights/s
    "approach_speed",  # |d log(height)/dt| x (frame height / height): towards or away from the camera, roughly
    "straightness",  # net displacement / path length of the bottom centre over the window (1: a straight line)
    "height_jitter",  # std of log box height over the window
    "edge_share",  # share of frames whose box touches the frame edge
    "cadence",  # sign changes per second of the ankles' left-right offset
    "stride",  # largest horizontal ankle separation, body heights
    "knee_lift",  # highest knee above its usual place below the hips, body heights
    "legs_seen",  # share of frames with both ankles seen
    "elbow_bend",  # median bend at the elbows (0 straight, 0.5 a right angle): runners carry their arms bent
)


def touches_edge(boxes: np.ndarray, frame_width: float, frame_height: float) -> np.ndarray:
    """Per box (x1, y1, x2, y2): whether it is within ``EDGE_PX`` of the frame's edge (cut by it)."""
    boxes = np.asarray(boxes).reshape(-1, 4)
    return (
        (boxes[:, 0] <= EDGE_PX)
        | (boxes[:, 1] <= EDGE_PX)
        | (boxes[:, 2] >= frame_width - EDGE_PX)
        | (boxes[:, 3] >= frame_height - EDGE_PX)
    )


def body_heights(window: Window) -> np.ndarray:
    """Per frame: the box height, or the height implied by the torso when that is taller (a box cut by the frame
    edge or hidden legs)."""
    boxes = window.boxes
    height = (boxes[:, 3] - boxes[:, 1]).astype(np.float64)
    seen = window.seen
    torso_ok = seen[:, _SHOULDERS[0]] & seen[:, _SHOULDERS[1]] & seen[:, _HIPS[0]] & seen[:, _HIPS[1]]
    if torso_ok.any():
        kp = window.keypoints
        (ls, rs), (lh, rh) = _SHOULDERS, _HIPS
        dx = (kp[:, ls, 0] + kp[:, rs, 0] - kp[:, lh, 0] - kp[:, rh, 0]) / 2
        dy = (kp[:, ls, 1] + kp[:, rs, 1] - kp[:, lh, 1] - kp[:, rh, 1]) / 2
        torso = np.hypot(dx, dy) / TORSO_SHARE
        height = np.where(torso_ok, np.maximum(height, torso), height)
    return np.maximum(height, 1.0)


def running_features(
    window: Window,
    frame_width: int,
    frame_height: int,
    speed_span_s: float = SPEED_SPAN_S,
    sustain_s: float = SUSTAIN_S,
) -> np.ndarray:
    """``RUNNING_FEATURES`` of one window (NaN where a measurement needs more history or unseen limbs); the speed
    is measured over ``speed_span_s`` and must be sustained over the last ``sustain_s``."""
    out = np.full(len(RUNNING_FEATURES), np.nan, dtype=np.float32)
    times = window.times
    n = len(times)
    if n < 3 or times[-1] - times[0] <= 0:
        return out
    boxes = window.boxes.astype(np.float64)
    scale = float(np.median(body_heights(window)))
    foot_x, foot_y = (boxes[:, 0] + boxes[:, 2]) / 2, boxes[:, 3]
    if window.camera is not None:  # against the scene: a camera panning after a runner keeps them still in the frame
        foot_x, foot_y = foot_x - window.camera[:, 0], foot_y - window.camera[:, 1]
    out[0] = _sustained_speed(times, foot_x, foot_y, scale, speed_span_s, sustain_s)
    log_h = np.log(np.maximum(boxes[:, 3] - boxes[:, 1], 1.0))
    t = times - times.mean()
    slope = (t * (log_h - log_h.mean())).sum() / (t * t).sum()  # least-squares slope of log height over time
    out[1] = abs(slope) * frame_height / scale
    path = np.hypot(np.diff(foot_x), np.diff(foot_y)).sum()
    out[2] = np.hypot(foot_x[-1] - foot_x[0], foot_y[-1] - foot_y[0]) / path if path > 0 else 0.0
    out[3] = np.std(log_h)
    out[4] = touches_edge(boxes, frame_width, frame_height).mean()
    out[5:9] = _gait(window, scale)
    out[9] = elbow_bend(window)
    return out


def elbow_bend(window: Window) -> float:
    """The median bend at the elbows over the window's frames and arms seen whole (shoulder, elbow and wrist):
    0 for a straight arm, 0.5 for a right angle (a runner's), NaN when no arm is seen."""
    angles = joint_angles(window.keypoints[:, :, :2].astype(np.float64), window.seen, _ARMS)
    seen = angles[~np.isnan(angles)]
    return float(np.median(1.0 - seen / np.pi)) if len(seen) else float("nan")


def _sustained_speed(
    times: np.ndarray, x: np.ndarray, y: np.ndarray, scale: float, span_s: float, sustain_s: float
) -> float:
    """The lowest speed over ``span_s`` spans ending in the last ``sustain_s`` (NaN: too little history)."""
    ends = np.flatnonzero(times >= times[-1] - sustain_s)
    starts = np.searchsorted(times, times[ends] - span_s, side="right") - 1
    ok = starts >= 0
    if not ok.any():
        return float("nan")
    ends, starts = ends[ok], starts[ok]
    dt = times[ends] - times[starts]
    keep = dt >= span_s * 0.75
    if not keep.any():
        return float("nan")
    ends, starts, dt = ends[keep], starts[keep], dt[keep]
    speeds = np.hypot(x[ends] - x[starts], y[ends] - y[starts]) / scale / dt
    return float(speeds.min())


def _gait(window: Window, scale: float) -> np.ndarray:
    """Cadence, stride, knee lift and the share of frames with both ankles seen."""
    kp = window.keypoints
    seen = window.seen
    out = np.full(4, np.nan)
    ankles = seen[:, _ANKLES[0]] & seen[:, _ANKLES[1]]
    out[3] = ankles.mean()
    duration = window.times[-1] - window.times[0]
    if ankles.sum() >= 3:
        offset = kp[ankles, _ANKLES[0], 0] - kp[ankles, _ANKLES[1], 0]
        signs = np.sign(offset[np.abs(offset) > 0.02 * scale])
        out[0] = (np.count_nonzero(np.diff(signs)) / duration) if len(signs) > 1 else 0.0
        out[1] = np.abs(offset).max() / scale
    hips = seen[:, _HIPS[0]] & seen[:, _HIPS[1]]
    knees = seen[:, _KNEES[0]] | seen[:, _KNEES[1]]
    rows = hips & knees
    if rows.sum() >= 2:
        hip_y = (kp[rows, _HIPS[0], 1] + kp[rows, _HIPS[1], 1]) / 2
        below = (kp[rows][:, _KNEES, 1] - hip_y[:, None]) / scale  # about 0.25 standing
        out[2] = 0.25 - below[seen[rows][:, _KNEES]].min()
    return out.astype(np.float32)


#: A model input named ``log_<feature>`` is the natural log of that feature, floored at this value.
LOG_FLOOR = 0.05


def model_inputs(x: np.ndarray, features: tuple[str, ...]) -> np.ndarray:
    """The columns ``features`` of ``RUNNING_FEATURES`` rows ``x`` (n, F); ``log_<name>`` takes the feature's log."""
    x = np.asarray(x, dtype=np.float64)
    columns = []
    for feature in features:
        name = feature.removeprefix("log_")
        column = x[:, RUNNING_FEATURES.index(name)]
        columns.append(np.log(np.maximum(column, LOG_FLOOR)) if feature != name else column)
    return np.stack(columns, axis=1) if columns else np.zeros((len(x), 0))


@dataclass
class RunningModel:
    """A logistic model over (a subset of) ``RUNNING_FEATURES`` (``log_<name>``: its log): ``p = 1 / (1 +
    exp(-(b + w . z)))`` with ``z`` the inputs standardised by ``mean`` and ``scale`` and clipped to ``clip``
    standard deviations; a NaN input counts as its mean (no evidence either way). ``speed_span_s`` and
    ``sustain_s`` are the spans its speed was measured with (:func:`running_features`)."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    clip: float = 4.0
    name: str = "running_kinematic"
    speed_span_s: float = SPEED_SPAN_S
    sustain_s: float = SUSTAIN_S

    @property
    def spans(self) -> tuple[float, float]:
        """``(speed_span_s, sustain_s)``: the spans to measure its speed with (:meth:`TrackWindows.running`)."""
        return self.speed_span_s, self.sustain_s

    def predict(self, x: np.ndarray) -> np.ndarray:
        """P(running) for each row of ``x`` (n, len(RUNNING_FEATURES))."""
        z = (model_inputs(x, self.features) - self.mean) / self.scale
        z = np.clip(np.nan_to_num(z, nan=0.0), -self.clip, self.clip)
        return (1.0 / (1.0 + np.exp(-(self.bias + z @ self.weights)))).astype(np.float32)

    def to_json(self) -> dict[str, object]:
        """The model's parameters, JSON-ready."""
        return {
            "name": self.name,
            "kind": "running_kinematic",
            "features": list(self.features),
            "mean": [float(v) for v in self.mean],
            "scale": [float(v) for v in self.scale],
            "weights": [float(v) for v in self.weights],
            "bias": float(self.bias),
            "clip": float(self.clip),
            "speed_span_s": float(self.speed_span_s),
            "sustain_s": float(self.sustain_s),
        }

    @classmethod
    def from_json(cls, data: dict[str, object], source: str = "running model") -> RunningModel:
        """Read :meth:`to_json`'s output; a clear error naming the field that is missing or wrong."""
        try:
            features = tuple(str(f) for f in data["features"])  # type: ignore[union-attr]
            unknown = [f for f in features if f.removeprefix("log_") not in RUNNING_FEATURES]
            if unknown:
                raise ValueError(f"unknown feature(s) {', '.join(unknown)}; known: {', '.join(RUNNING_FEATURES)}")
            arrays = {k: np.asarray(data[k], dtype=np.float64) for k in ("mean", "scale", "weights")}
            for key, array in arrays.items():
                if array.shape != (len(features),):
                    raise ValueError(f"{key} must have one value per feature ({len(features)})")
            spans = {
                k: float(data.get(k, default))
                for k, default in (("speed_span_s", SPEED_SPAN_S), ("sustain_s", SUSTAIN_S))  # type: ignore[arg-type]
            }
            for key, value in spans.items():
                if not 0 < value <= 1.0:
                    raise ValueError(f"{key} must be in (0, 1] seconds (the window is one second), got {value}")
            return cls(
                features, arrays["mean"], arrays["scale"], arrays["weights"], float(data["bias"]),  # type: ignore[arg-type]
                float(data.get("clip", 4.0)), str(data.get("name", "running_kinematic")),  # type: ignore[arg-type]
                spans["speed_span_s"], spans["sustain_s"],
            )  # fmt: skip
        except KeyError as exc:
            raise ValueError(f"{source}: missing field {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{source}: {exc}") from None

    @classmethod
    def load(cls, folder: Path) -> RunningModel:
        """Read ``folder/running.json``."""
        path = folder / "running.json"
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"{folder}: no running.json (a running model folder holds one)") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc})") from None
        return cls.from_json(data, str(path))
