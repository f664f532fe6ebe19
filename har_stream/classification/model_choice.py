"""Turn the ``classifier.model`` setting into a loaded action model, or None for ``unknown`` labels."""

from __future__ import annotations

import logging
from pathlib import Path

from har_stream.action_model.base import ActionModel, ActionModelError
from har_stream.weights import MODELS_DIR

log = logging.getLogger(__name__)


def load_classifier(setting: str, runtime: str = "auto", threads: int | None = 1) -> ActionModel | None:
    """``"none"``: no model. ``"default"``: the bundled default model if present, else None with a warning.

    Anything else is a folder name under ``models/`` or a path, and must load (else :class:`ActionModelError`).
    ``runtime`` and ``threads`` choose how it runs (see :func:`har_stream.action_model.loading.load_action_model`).
    """
    if setting.lower() == "none":
        return None
    try:
        from har_stream.action_model import loading
    except ImportError:  # no trained model support in this build
        loading = None
    if setting.lower() == "default":
        if loading is None:
            log.warning("no action model is available in this build; people are labelled 'unknown'")
            return None
        folder = loading.default_model_dir()
        if not folder.exists():
            log.warning("default action model %s not found; people are labelled 'unknown'", folder)
            return None
        return loading.load_action_model(folder, runtime, threads)
    path = Path(setting).expanduser()
    if not path.exists() and (MODELS_DIR / setting).exists():
        path = MODELS_DIR / setting
    if not path.exists():
        tried = list(dict.fromkeys([str(path.resolve()), str(MODELS_DIR / setting)]))
        raise ActionModelError(
            f"action model {setting!r} not found: tried {' and '.join(tried)}. "
            "Use classifier.model: default, none, a folder name under models/, or a path."
        )
    if loading is None:
        raise ActionModelError("this build cannot load action models (har_stream.action_model.loading missing)")
    return loading.load_action_model(path, runtime, threads)
