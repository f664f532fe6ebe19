"""Load and run a temporal model folder: ``model.json``, one ONNX tree model per motion action, and for running
the kinematic model ``running.json`` (:mod:`har_stream.temporal.running`) when the folder has one."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from har_stream.action_model.base import ActionModelError
from har_stream.temporal.features import ALL_FEATURE_NAMES
from har_stream.temporal.running import RunningModel
from har_stream.weights import MODELS_DIR

log = logging.getLogger(__name__)

DEFAULT_TEMPORAL_MODEL = "temporal_pose"


class TemporalModel:
    """P(action) per window-feature row, for each of ``actions``, on ONNX Runtime (no TensorFlow).

    ``running`` is the kinematic running model when the folder has ``running.json``; the stage then takes running's
    probability from it (:meth:`RunningModel.predict` on :func:`~har_stream.temporal.running.running_features`)
    and ``predict`` leaves running's column NaN.
    """

    def __init__(self, folder: Path, threads: int = 1) -> None:
        import onnxruntime as ort

        meta_file = folder / "model.json"
        if not meta_file.is_file():
            raise ActionModelError(f"{folder} is not a temporal model folder: {meta_file} is missing")
        try:
            self.meta = json.loads(meta_file.read_text())
        except json.JSONDecodeError as exc:
            raise ActionModelError(f"{meta_file}: not valid JSON ({exc})") from exc
        if self.meta.get("features") != list(ALL_FEATURE_NAMES):
            raise ActionModelError(
                f"{meta_file}: the model was trained on other window features than this version computes; retrain it"
            )
        self.name = str(self.meta.get("name", folder.name))
        self.actions: tuple[str, ...] = tuple(self.meta["actions"])
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.running: RunningModel | None = None
        if "running" in self.actions and (folder / "running.json").is_file():
            try:
                self.running = RunningModel.load(folder)
            except ValueError as exc:
                raise ActionModelError(str(exc)) from None
        self._sessions: list[tuple[Any, str, str] | None] = []  # None: running from running.json
        for action in self.actions:
            if action == "running" and self.running is not None:
                self._sessions.append(None)
                continue
            path = folder / f"{action}.onnx"
            if not path.is_file():
                raise ActionModelError(f"{folder}: {path.name} is missing")
            try:
                session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            except Exception as exc:
                raise ActionModelError(f"{path}: not a readable ONNX model ({exc})") from exc
            self._sessions.append((session, session.get_inputs()[0].name, _probability_output(session)))

    def predict(self, x: np.ndarray) -> np.ndarray:
        """(n, len(actions)) probabilities for (n, F) feature rows (NaN features mean "not seen")."""
        if len(x) == 0:
            return np.zeros((0, len(self.actions)), dtype=np.float32)
        x = np.ascontiguousarray(x, dtype=np.float32)
        nan = np.full(len(x), np.nan, dtype=np.float32)
        columns = []
        for entry in self._sessions:
            if entry is None:  # running: from running.json, scored by the stage
                columns.append(nan)
                continue
            session, name, out = entry
            columns.append(session.run([out], {name: x})[0][:, 1])
        return np.stack(columns, axis=1).astype(np.float32)


def _probability_output(session: object) -> str:
    outputs = session.get_outputs()  # type: ignore[attr-defined]
    return outputs[1].name if len(outputs) > 1 else outputs[0].name


def load_temporal_model(setting: str, threads: int = 1) -> TemporalModel | None:
    """``none``: no model; ``default``: models/temporal_pose (None with a warning when absent); else a folder."""
    if setting.lower() == "none":
        return None
    if setting.lower() == "default":
        folder = MODELS_DIR / DEFAULT_TEMPORAL_MODEL
        if not folder.exists():
            log.warning("temporal model %s not found; motion actions come from the image classifier alone", folder)
            return None
        return TemporalModel(folder, threads)
    path = Path(setting).expanduser()
    if not path.exists() and (MODELS_DIR / setting).exists():
        path = MODELS_DIR / setting
    if not path.exists():
        raise ActionModelError(
            f"temporal model {setting!r} not found: tried {path.resolve()} and {MODELS_DIR / setting}. "
            "Use temporal.model: default, none, a folder name under models/, or a path."
        )
    return TemporalModel(path, threads)
