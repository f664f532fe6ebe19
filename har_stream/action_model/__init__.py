"""Action classification models: the interface the pipeline uses, preprocessing, and loading."""

from __future__ import annotations

from har_stream.action_model.base import ActionModel, ActionModelError
from har_stream.action_model.preprocess import square_resize

__all__ = ["ActionModel", "ActionModelError", "square_resize"]
