"""Per-person action classification in the pipeline: crops, scheduling, batching."""

from __future__ import annotations

from har_stream.classification.crops import crop_people, square_box
from har_stream.classification.scheduler import ClassificationScheduler
from har_stream.classification.stage import ActionClassifierStage

__all__ = ["ActionClassifierStage", "ClassificationScheduler", "crop_people", "square_box"]
