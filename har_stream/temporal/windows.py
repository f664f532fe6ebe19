"""Keep every tracked person's last second of boxes and keypoints, and turn it into window features.

One class serves both the live pipeline stage and training (which replays harvested tracks through it), so
the model is trained on exactly the features it is served.
"""

from __future__ import annotations

import numpy as np

from har_stream.temporal.features import FEATURE_NAMES, WINDOW_S, TrackHistory, window_features

#: A track unseen for this long is forgotten.
FORGET_AFTER_S = 2.0


class TrackWindows:
    """Per-track histories; :meth:`features` computes the window features of chosen tracks on the newest frame."""

    def __init__(self, window_s: float = WINDOW_S) -> None:
        self.window_s = window_s
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
    ) -> None:
        """Add one frame's people (``keypoints`` None: no pose model, limbs count as unseen; ``patches``: their
        :func:`~har_stream.temporal.features.motion_patch`, None: appearance features are NaN)."""
        for i, track_id in enumerate(track_ids):
            tid = int(track_id)
            history = self._histories.get(tid)
            if history is None:
                history = self._histories[tid] = TrackHistory(keep_s=self.window_s + 0.25)
            kp = keypoints[i] if keypoints is not None else np.zeros((17, 3), dtype=np.float32)
            history.add(t, boxes[i], kp, patches[i] if patches is not None else None)
            self._last_seen[tid] = t
        for tid in [k for k, seen in self._last_seen.items() if t - seen > FORGET_AFTER_S]:
            self.forget([tid])

    def forget(self, track_ids: list[int]) -> None:
        """Drop ended tracks."""
        for tid in track_ids:
            self._histories.pop(int(tid), None)
            self._last_seen.pop(int(tid), None)

    def _velocity(self, tid: int, t: float) -> np.ndarray:
        times, boxes, _, _ = self._histories[tid].window(t, self.window_s)
        if len(times) < 2 or times[-1] <= times[0]:
            return np.zeros(2)
        start = np.array([(boxes[0, 0] + boxes[0, 2]) / 2, boxes[0, 3]])
        end = np.array([(boxes[-1, 0] + boxes[-1, 2]) / 2, boxes[-1, 3]])
        return (end - start) / (times[-1] - times[0])

    def features(
        self, t: float, frame_height: int, track_ids: np.ndarray, boxes: np.ndarray, chosen: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Features (k, F) of the people at indices ``chosen`` of this frame, and which of them had enough history.

        ``track_ids`` and ``boxes`` are everyone on the frame (the neighbours); rows without enough history are NaN.
        """
        out = np.full((len(chosen), len(FEATURE_NAMES)), np.nan, dtype=np.float32)
        ok = np.zeros(len(chosen), dtype=bool)
        velocities = None
        for row, i in enumerate(chosen):
            tid = int(track_ids[i])
            history = self._histories.get(tid)
            if history is None:
                continue
            times, own_boxes, kps, patches = history.window(t, self.window_s)
            if velocities is None:
                velocities = np.stack([self._velocity(int(k), t) for k in track_ids]) if len(track_ids) else None
            others = np.flatnonzero(np.asarray(track_ids) != tid)
            vector = window_features(
                times,
                own_boxes,
                kps,
                frame_height,
                boxes[others],
                velocities[others] if velocities is not None else np.zeros((0, 2)),
                patches,
                window_s=self.window_s,
            )
            if vector is not None:
                out[row], ok[row] = vector, True
        return out, ok
