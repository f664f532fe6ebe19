"""Pipeline stage: score each tracked person's last second of pose and motion, and fuse it into the evidence
the rules judge.

For each motion action of the temporal model (fighting, running) the person's score in
``data['action_scores']`` becomes ``w * temporal + (1 - w) * image`` (``w`` = ``temporal.weight``, or the
action's entry in ``temporal.action_weights``), where
``temporal`` is the exponential moving average of the model's probability for that person and ``image`` the
smoothed image-classifier score; until a person has enough history (``MIN_WINDOW_FRAMES``) the temporal part
is 0 (cross-validated over the train/val groups, this beats the image score alone there:
docs/research/actions.md). Other actions keep the image classifier's score. When a fused motion score beats the
person's label, the label becomes that action.

Running, when the temporal model has a kinematic running model (``running.json``), is that model's probability
on the person's newest window, not smoothed (its speed is already sustained over a window): how fast the person
moves in body heights per second, how steady their track and box are, and their gait
(:mod:`har_stream.temporal.running`). The speed is measured against the scene: a camera's pan or tilt
(:mod:`har_stream.temporal.camera_motion`, ``temporal.compensate_camera_motion``) is taken out of each path.
"""

from __future__ import annotations

import numpy as np

from har_stream.config.schema import TemporalConfig
from har_stream.frame import ACTION, ACTION_CONFIDENCE, ACTION_SCORES, KEYPOINTS, MOTION_SCORES, FrameRecord
from har_stream.temporal.camera_motion import CameraMotion
from har_stream.temporal.features import MIN_PERSON_PX, motion_patch
from har_stream.temporal.flow import FrameFlow, to_grey
from har_stream.temporal.model import TemporalModel
from har_stream.temporal.windows import TrackWindows


class TemporalStage:
    """Adds ``data['motion_scores']`` (N, len(model.actions)) and fuses it into ``data['action_scores']``."""

    def __init__(self, model: TemporalModel | None, config: TemporalConfig) -> None:
        self.model = model
        self.config = config
        self.windows = TrackWindows()
        self.flow = FrameFlow(MIN_PERSON_PX)
        needs_camera = model is not None and model.running is not None and config.compensate_camera_motion
        self.camera = CameraMotion() if needs_camera else None
        self._state: dict[int, np.ndarray] = {}
        self._age: dict[int, int] = {}
        self._running: dict[int, float] = {}  # newest kinematic running probability per track
        self.updates = 0  # track windows scored so far

    @property
    def actions(self) -> tuple[str, ...]:
        """Motion actions this stage scores (empty without a model)."""
        return self.model.actions if self.model is not None else ()

    def forget(self, track_ids: list[int]) -> None:
        """Drop ended tracks."""
        self.windows.forget(track_ids)
        for tid in track_ids:
            self._state.pop(int(tid), None)
            self._age.pop(int(tid), None)
            self._running.pop(int(tid), None)

    def __len__(self) -> int:
        return len(self._state)

    def __call__(self, record: FrameRecord) -> FrameRecord:
        """Pipeline stage."""
        if self.model is None:
            return record
        self.forget(record.ended_tracks)
        det = record.detections
        n = len(det)
        motion = np.full((n, len(self.actions)), np.nan, dtype=np.float32)
        grey = to_grey(record.image)  # once a frame, for the flow and the appearance patches
        # every frame, people or not: the next frame's flow needs this one
        flows = self.flow(grey, record.timestamp, det.xyxy, record.index, det.tracker_id)
        camera = self.camera.update(grey, det.xyxy) if self.camera is not None else None  # every frame, too
        if n:
            ids = det.tracker_id
            patches = np.stack([motion_patch(grey, box) for box in det.xyxy])
            self.windows.update(record.timestamp, ids, det.xyxy, det.data.get(KEYPOINTS), patches, flows, camera)
            due = np.array(
                [
                    i
                    for i, t in enumerate(ids)
                    if self._age.get(int(t), self.config.every_n_frames) >= self.config.every_n_frames
                ],
                dtype=int,
            )
            for t in ids:
                self._age[int(t)] = self._age.get(int(t), self.config.every_n_frames) + 1
            if len(due):
                x, ok = self.windows.features(record.timestamp, record.height, ids, det.xyxy, due)
                if ok.any():
                    probs = self.model.predict(x[ok])
                    self.updates += int(ok.sum())
                    a = self.config.alpha
                    for i, p in zip(due[ok], probs, strict=True):
                        tid = int(ids[i])
                        old = self._state.get(tid)
                        self._state[tid] = p if old is None else a * p + (1 - a) * old
                        self._age[tid] = 0
                self._score_running(record, ids[due])
            for i, t in enumerate(ids):
                state = self._state.get(int(t))
                if state is not None:
                    motion[i] = state
            if self.model.running is not None:  # running from the kinematic model, its newest probability
                motion[:, self.actions.index("running")] = [self._running.get(int(t), np.nan) for t in ids]
        det.data[MOTION_SCORES] = motion
        self._fuse(record, motion)
        return record

    def _score_running(self, record: FrameRecord, ids: np.ndarray) -> None:
        """The kinematic running probability of the tracks ``ids`` (those with enough history for a speed)."""
        running = self.model.running if self.model is not None else None
        if running is None:
            return
        x = self.windows.running(record.timestamp, record.width, record.height, ids, running.spans)
        known = ~np.isnan(x[:, 0])
        if known.any():
            for tid, p in zip(ids[known], running.predict(x[known]), strict=True):
                self._running[int(tid)] = float(p)

    def _fuse(self, record: FrameRecord, motion: np.ndarray) -> None:
        det = record.detections
        n = len(det)
        classes = list(record.action_classes)
        scores = det.data.get(ACTION_SCORES)
        scores = np.zeros((n, len(classes)), dtype=np.float32) if scores is None else scores.copy()
        for action in self.actions:
            if action not in classes:  # an image model without this action: the column is motion alone
                classes.append(action)
                scores = np.concatenate([scores, np.zeros((n, 1), dtype=np.float32)], axis=1)
        temporal = np.nan_to_num(motion, nan=0.0)
        labels = det.data.get(ACTION)
        confidences = det.data.get(ACTION_CONFIDENCE)
        for a, action in enumerate(self.actions):
            column = classes.index(action)
            w = self.config.weight_of(action)
            scores[:, column] = w * temporal[:, a] + (1 - w) * scores[:, column]
            if labels is not None and confidences is not None:
                beats = scores[:, column] > confidences
                labels[beats] = action
                confidences[beats] = scores[beats, column]
        det.data[ACTION_SCORES] = scores
        record.action_classes = tuple(classes)
