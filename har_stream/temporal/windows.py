"""Keep every tracked person's last second(s) of boxes and keypoints, and turn it into window features.

One class serves both the live pipeline stage and training (which replays harvested tracks through it), so
the model is trained on exactly the features it is served.
"""

from __future__ import annotations

import numpy as np

from har_stream.geometry import box_gaps
from har_stream.temporal.features import (
    FEATURE_NAMES,
    NEIGHBOUR_NAMES,
    NEIGHBOUR_SOURCES,
    WINDOWS_S,
    feature_names,
    track_window_features,
)
from har_stream.temporal.history import TrackHistory, Window, add_frame
from har_stream.temporal.running import RUNNING_FEATURES, SPEED_SPAN_S, SUSTAIN_S, running_features

_SOURCE_COLUMNS = [FEATURE_NAMES.index(name) for name in NEIGHBOUR_SOURCES]
_GAP = FEATURE_NAMES.index("nearest_gap")

#: A track unseen for this long is forgotten.
FORGET_AFTER_S = 2.0


class TrackWindows:
    """Per-track histories; :meth:`features` computes the window features of chosen tracks on the newest frame."""

    def __init__(self, windows_s: tuple[float, ...] = WINDOWS_S) -> None:
        self.windows_s = tuple(windows_s)
        self.width = len(feature_names(self.windows_s))
        self._histories: dict[int, TrackHistory] = {}
        self._last_seen: dict[int, float] = {}

    def __len__(self) -> int:
        return len(self._histories)

    def update(
        self,
        t: float,
        track_ids: np.ndarray,
        boxes: np.ndarray,
        keypoints: np.ndarray | None,
        patches: np.ndarray | None = None,
        flows: np.ndarray | None = None,
        camera: np.ndarray | None = None,
    ) -> None:
        """Add one frame's people (``keypoints`` None: no pose model, limbs count as unseen; ``patches``: their
        :func:`~har_stream.temporal.features.motion_patch`, None: appearance features are NaN; ``flows``: their
        :func:`~har_stream.temporal.flow.people_flow`, None: flow features are NaN; ``camera``: the camera's
        accumulated pan, :class:`~har_stream.temporal.camera_motion.CameraMotion`, None: a fixed camera)."""
        histories = []
        for track_id in track_ids:
            tid = int(track_id)
            history = self._histories.get(tid)
            if history is None:
                history = self._histories[tid] = TrackHistory(keep_s=max(self.windows_s) + 0.25)
            histories.append(history)
            self._last_seen[tid] = t
        if keypoints is None:
            keypoints = np.zeros((len(track_ids), 17, 3), dtype=np.float32)
        add_frame(histories, t, boxes, keypoints, patches, flows, camera)
        for tid in [k for k, seen in self._last_seen.items() if t - seen > FORGET_AFTER_S]:
            self.forget([tid])

    def forget(self, track_ids: list[int]) -> None:
        """Drop ended tracks."""
        for tid in track_ids:
            self._histories.pop(int(tid), None)
            self._last_seen.pop(int(tid), None)

    def running(
        self,
        t: float,
        frame_width: int,
        frame_height: int,
        track_ids: np.ndarray,
        spans: tuple[float, float] = (SPEED_SPAN_S, SUSTAIN_S),
    ) -> np.ndarray:
        """:func:`~har_stream.temporal.running.running_features` (n, len(RUNNING_FEATURES)) of each of
        ``track_ids`` over its last ``windows_s[0]`` seconds (NaN rows for unknown tracks); ``spans``: the speed's
        span and how long it must be sustained, in seconds."""
        out = np.full((len(track_ids), len(RUNNING_FEATURES)), np.nan, dtype=np.float32)
        for row, track_id in enumerate(track_ids):
            history = self._histories.get(int(track_id))
            if history is not None:
                window = history.window(t, self.windows_s[0])
                out[row] = running_features(window, frame_width, frame_height, *spans)
        return out

    def _velocity(self, window: Window) -> np.ndarray:
        times, boxes = window.times, window.boxes
        if len(times) < 2 or times[-1] <= times[0]:
            return np.zeros(2)
        start = np.array([(boxes[0, 0] + boxes[0, 2]) / 2, boxes[0, 3]])
        end = np.array([(boxes[-1, 0] + boxes[-1, 2]) / 2, boxes[-1, 3]])
        return (end - start) / (times[-1] - times[0])

    def features(
        self, t: float, frame_height: int, track_ids: np.ndarray, boxes: np.ndarray, chosen: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Features (k, F) of the people at indices ``chosen`` of this frame, and which of them had enough history
        (in the first window; a shorter window with too few frames leaves its block NaN).

        ``track_ids`` and ``boxes`` are everyone on the frame (the neighbours); rows without enough history are NaN.
        One block of columns per window length (see :func:`~har_stream.temporal.features.feature_names`); the last
        columns of a block describe each person's nearest neighbour (see ``NEIGHBOUR_NAMES``).
        """
        out = np.full((len(chosen), self.width), np.nan, dtype=np.float32)
        ok = np.zeros(len(chosen), dtype=bool)
        if len(chosen) == 0:
            return out, ok
        nearest = _nearest(boxes) if len(track_ids) > 1 else np.full(len(track_ids), -1)
        block = len(FEATURE_NAMES) + len(NEIGHBOUR_NAMES)
        for k, length in enumerate(self.windows_s):
            seen = self._block(
                out[:, k * block : (k + 1) * block], t, frame_height, track_ids, boxes, chosen, nearest, length
            )
            if k == 0:
                ok = seen
        return out, ok

    def _block(
        self,
        out: np.ndarray,
        t: float,
        frame_height: int,
        track_ids: np.ndarray,
        boxes: np.ndarray,
        chosen: np.ndarray,
        nearest: np.ndarray,
        length: float,
    ) -> np.ndarray:
        """Fill ``out`` (k, block) with the features of windows of ``length`` seconds; which rows were filled."""
        n = len(track_ids)
        ok = np.zeros(len(chosen), dtype=bool)
        windows: dict[int, Window | None] = {}
        velocities = np.zeros((n, 2))  # only each person's nearest neighbour's is used (relative speed)
        own: dict[int, np.ndarray | None] = {}

        def window_of(i: int) -> Window | None:
            if i not in windows:
                history = self._histories.get(int(track_ids[i]))
                windows[i] = history.window(t, length) if history is not None else None
            return windows[i]

        def vector_of(i: int) -> np.ndarray | None:
            """Person ``i``'s own features, computed once and only when asked for (a neighbour's only when
            someone chosen stands within a box height of them)."""
            if i not in own:
                own[i] = None
                w = window_of(i)
                if w is not None:
                    j = int(nearest[i])
                    if j >= 0 and (other := window_of(j)) is not None:
                        velocities[j] = self._velocity(other)
                    others = np.flatnonzero(np.arange(n) != i)
                    own[i] = track_window_features(w, frame_height, boxes[others], velocities[others], length)
            return own[i]

        width = len(FEATURE_NAMES)
        for row, i in enumerate(chosen):
            vector = vector_of(int(i))
            if vector is None:
                continue
            out[row, :width], ok[row] = vector, True
            j = int(nearest[i])
            if j >= 0 and vector[_GAP] <= 1.0 and (neighbour := vector_of(j)) is not None:
                out[row, width:] = neighbour[_SOURCE_COLUMNS]
        return ok


def _nearest(boxes: np.ndarray) -> np.ndarray:
    """Index of each box's nearest other box (by gap between the boxes)."""
    gap = np.hypot(*box_gaps(boxes[:, None, :], boxes[None, :, :]))
    np.fill_diagonal(gap, np.inf)
    return np.argmin(gap, axis=1)
