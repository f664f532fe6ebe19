"""The contract between the pipeline and any trained action classifier."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


class ActionModelError(RuntimeError):
    """A model folder is missing, incomplete or inconsistent; the message says what was expected where."""


@runtime_checkable
class ActionModel(Protocol):
    """A loaded action classifier.

    ``predict`` takes square BGR uint8 crops of shape ``(N, input_size, input_size, 3)`` (made by
    :func:`har_stream.action_model.square_resize`) and returns float32 probabilities ``(N, len(classes))``
    whose rows sum to 1. The model applies its own normalisation.
    """

    name: str
    classes: tuple[str, ...]
    input_size: int

    def predict(self, crops: np.ndarray) -> np.ndarray:
        """Class probabilities for a batch of square BGR crops."""
        ...


def check_crops(model: ActionModel, crops: np.ndarray) -> bool:
    """True when ``crops`` is a non-empty batch of the model's input shape; False when empty; ValueError else."""
    if len(crops) == 0:
        return False
    if crops.shape[1:] != (model.input_size, model.input_size, 3):
        raise ValueError(f"{model.name}: expected crops of shape (N, {model.input_size}, {model.input_size}, 3)")
    return True
