"""Model folders: save a trained action network, and load it back as an :class:`ActionModel`.

A folder holds ``model.json`` (backbone, where its weights came from, head, classes, input size, which layers
were trained) and ``weights.npz`` with only the trained layers (head, fine-tuned blocks). The untouched
backbone layers are rebuilt from the backbone's own weights, resolved like every other weight file.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from har_stream.action_model.base import ActionModelError, check_crops
from har_stream.action_model.ensemble import load_ensemble
from har_stream.action_model.meta import ENSEMBLE_KEY, read_meta
from har_stream.action_model.network import HeadConfig, backbone_spec, build_network
from har_stream.action_model.preprocess import preprocessor_for
from har_stream.action_model.vgg16 import BackboneWeights
from har_stream.weights import MODELS_DIR

FORMAT_VERSION = 1
#: The model the pipeline uses for ``classifier.model: default``.
DEFAULT_MODEL_NAME = "efficientnet_lite2_open"


def default_model_dir() -> Path:
    """Folder of the bundled default model."""
    return MODELS_DIR / DEFAULT_MODEL_NAME


class KerasActionModel:
    """A trained Keras network behind the :class:`~har_stream.action_model.ActionModel` interface."""

    def __init__(self, network: Any, meta: dict[str, Any], folder: Path | None = None) -> None:
        import tensorflow as tf

        self.runtime = "keras"
        self.keras_model = network
        self.meta = meta
        self.folder = folder
        self.name: str = meta["name"]
        self.classes: tuple[str, ...] = tuple(meta["classes"])
        self.input_size: int = int(meta["input_size"])
        self._preprocess = preprocessor_for(meta["backbone"])
        signature = [tf.TensorSpec([None, self.input_size, self.input_size, 3], tf.float32)]

        def forward(x: Any) -> Any:
            return network(x, training=False)

        self._forward = tf.function(forward, input_signature=signature)

    def predict(self, crops: np.ndarray) -> np.ndarray:
        """Class probabilities (N, classes) for square BGR uint8 crops (N, input_size, input_size, 3)."""
        if not check_crops(self, crops):
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        return np.asarray(self._forward(self._preprocess(crops)), dtype=np.float32)


def save_model_folder(
    folder: Path,
    network: Any,
    meta: dict[str, Any],
    trained_layers: list[str],
    half_precision_layers: set[str] | None = None,
) -> Path:
    """Write ``model.json`` and ``weights.npz`` (the trained layers; backbone blocks in float16 to stay small)."""
    folder.mkdir(parents=True, exist_ok=True)
    half = half_precision_layers or set()
    arrays: dict[str, np.ndarray] = {}
    for name in trained_layers:
        for index, value in enumerate(network.get_layer(name).get_weights()):
            # Backbone blocks, and head layers too big to commit in float32 (the seed's Flatten head), in float16.
            small = name not in half and value.size < 1_000_000
            arrays[f"{name}/{index}"] = value.astype(np.float32 if small else np.float16)
    np.savez_compressed(folder / "weights.npz", **arrays)
    meta = {**meta, "format": FORMAT_VERSION, "trained_layers": trained_layers, "saved": time.strftime("%Y-%m-%d")}
    (folder / "model.json").write_text(json.dumps(meta, indent=2) + "\n")
    return folder


#: ``classifier.runtime`` values: ``auto`` is ONNX Runtime int8 when the folder has it, else Keras.
RUNTIMES = ("auto", "onnx-int8", "keras")


def load_action_model(folder: str | Path, runtime: str = "keras", threads: int | None = 1) -> Any:
    """Load a model folder on ``runtime``; raises :class:`ActionModelError` naming what is missing or wrong.

    ``keras`` rebuilds the Keras network (backbone weights resolved, trained layers from weights.npz);
    ``onnx-int8`` runs ``model-int8.onnx`` on ONNX Runtime with ``threads`` threads (no TensorFlow needed).
    An ensemble folder loads each of its members on ``runtime`` (:mod:`har_stream.action_model.ensemble`).
    """
    folder = Path(folder)
    meta = read_meta(folder)
    if runtime not in RUNTIMES:
        raise ActionModelError(f"classifier runtime must be one of {', '.join(RUNTIMES)}, not {runtime!r}")
    from har_stream.action_model.onnx_runtime import INT8_FILE, OnnxActionModel

    if ENSEMBLE_KEY in meta:
        model = load_ensemble(folder, meta, runtime, threads, load_member=load_action_model)
        if list(model.classes) != list(meta["classes"]) or model.input_size != int(meta["input_size"]):
            raise ActionModelError(
                f"{folder}/model.json: classes or input_size differ from its members' "
                f"({model.input_size} px, {list(model.classes)})"
            )
        return model
    if runtime == "onnx-int8" or (runtime == "auto" and (folder / INT8_FILE).is_file()):
        if not (folder / INT8_FILE).is_file():
            raise ActionModelError(
                f"{folder}: {INT8_FILE} is missing (runtime onnx-int8); use runtime keras or auto, or make it with "
                f"har-stream models train"
            )
        return OnnxActionModel(folder / INT8_FILE, meta, threads)
    return load_keras_model(folder, meta)


def load_keras_model(folder: Path, meta: dict[str, Any]) -> KerasActionModel:
    """The Keras network ``meta`` describes (backbone built at ``meta['input_size']``), with ``folder``'s trained
    layers; ``meta`` is normally ``folder``'s own, or it with another input size (the weights serve any size)."""
    weights_file = folder / "weights.npz"
    if not weights_file.is_file():
        raise ActionModelError(f"{folder}: weights.npz is missing")
    spec = backbone_spec(meta["backbone"], int(meta["input_size"]))
    recorded = meta["backbone_weights"]
    kind = recorded["kind"]
    # Rebuild the backbone from the same kind of weights it was trained on (never silently another kind).
    weights = spec.resolve_weights("none" if kind == "none" else ("hed" if kind == "hed" else "imagenet"))
    if weights.kind != kind:
        raise ActionModelError(f"{folder}: trained on {kind} backbone weights, but found {weights.kind}")
    network = build_network(spec, weights, len(meta["classes"]), HeadConfig(**meta["head"]))
    try:
        stored = np.load(weights_file)
    except (OSError, ValueError) as exc:
        raise ActionModelError(f"{weights_file}: not a readable weights file ({exc})") from exc
    with stored:
        for name in meta["trained_layers"]:
            layer = network.get_layer(name)
            count = len(layer.get_weights())
            try:
                layer.set_weights([stored[f"{name}/{i}"].astype(np.float32) for i in range(count)])
            except (KeyError, ValueError, OSError) as exc:
                raise ActionModelError(f"{weights_file}: layer {name}: {exc}") from exc
    return KerasActionModel(network, meta, folder)


def describe_weights(weights: BackboneWeights) -> dict[str, str]:
    """The ``backbone_weights`` entry of model.json (without the local path)."""
    return {"kind": weights.kind, "description": weights.description, "file": Path(weights.path).name}
