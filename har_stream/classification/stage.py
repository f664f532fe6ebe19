"""Pipeline stage that runs the action classifier on scheduled person crops, batched per frame."""

from __future__ import annotations

import numpy as np

from har_stream.action_model.base import ActionModel
from har_stream.classification.crops import crop_people
from har_stream.classification.scheduler import ClassificationScheduler
from har_stream.config.schema import ClassifierConfig
from har_stream.frame import ACTION_PROBS, FrameRecord


class ActionClassifierStage:
    """Adds ``data['action_probs']``: a probability row for people classified on this frame, NaN for the rest.

    With no model, it does nothing and everyone stays ``unknown``.
    """

    def __init__(self, model: ActionModel | None, config: ClassifierConfig) -> None:
        self.model = model
        self.config = config
        self.scheduler = ClassificationScheduler(
            config.every_n_frames, config.reclassify_iou, config.max_per_frame, config.min_box_height
        )
        self.calls = 0  # crops classified so far

    @property
    def classes(self) -> tuple[str, ...]:
        """Class names of the model's probability columns (empty without a model)."""
        return self.model.classes if self.model is not None else ()

    def __call__(self, record: FrameRecord) -> FrameRecord:
        """Pipeline stage."""
        self.scheduler.forget(record.ended_tracks)
        detections = record.detections
        if self.model is None or len(detections) == 0:
            return record
        chosen = self.scheduler.select(detections.tracker_id, detections.xyxy)
        probs = np.full((len(detections), len(self.model.classes)), np.nan, dtype=np.float32)
        if len(chosen):
            crops = crop_people(record.image, detections.xyxy[chosen], self.config.crop_padding, self.model.input_size)
            probs[chosen] = self.model.predict(crops)
            self.calls += len(chosen)
        detections.data[ACTION_PROBS] = probs
        return record
