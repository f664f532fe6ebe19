"""A model folder's ``model.json``: reading and checking it, and the key that makes a folder an ensemble.

Below both :mod:`har_stream.action_model.loading` and :mod:`har_stream.action_model.ensemble`, which read it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from har_stream.action_model.base import ActionModelError

#: The key of ``model.json`` that makes a folder an ensemble.
ENSEMBLE_KEY = "ensemble"


def read_meta(folder: Path) -> dict[str, Any]:
    """Read and check ``model.json``."""
    path = folder / "model.json"
    if not path.is_file():
        raise ActionModelError(f"{folder} is not a model folder: {path} is missing")
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ActionModelError(f"{path}: not valid JSON ({exc})") from exc
    required = ("name", "backbone", "backbone_weights", "head", "classes", "input_size")
    if ENSEMBLE_KEY in meta:  # an ensemble folder (har_stream.action_model.ensemble) names other folders instead
        required = ("name", ENSEMBLE_KEY, "classes", "input_size")
    missing = [key for key in required if key not in meta]
    if missing:
        raise ActionModelError(f"{path}: missing keys {missing}")
    return meta
