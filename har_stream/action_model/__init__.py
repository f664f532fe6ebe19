"""Action classification models: the interface the pipeline uses, preprocessing, and loading."""

from __future__ import annotations

from har_stream.action_model.base import ActionModel, ActionModelError
from har_stream.action_model.preprocess import square_resize
from har_stream.tf_guard import prepare_tensorflow_import

# Submodules of this package import Keras: make that safe next to PyTorch first.
prepare_tensorflow_import()

__all__ = ["ActionModel", "ActionModelError", "square_resize"]
