"""Import-order guard for processes that use both PyTorch (the detector) and TensorFlow (the classifier).

PyTorch's wheels ship ``triton``; importing triton after TensorFlow segfaults (torchvision's ops import
``torch._dynamo``, which imports triton). Importing triton first is harmless, so every har-stream module that
imports Keras or TensorFlow calls :func:`prepare_tensorflow_import` first.
"""

from __future__ import annotations

import contextlib
import os


def prepare_tensorflow_import() -> None:
    """Import triton (if installed) so a later TensorFlow import cannot break PyTorch; quiet TF's C++ logs."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with contextlib.suppress(ImportError):
        import triton  # noqa: F401
