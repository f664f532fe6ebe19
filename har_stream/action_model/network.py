"""Backbones behind one interface, and the full network: backbone conv base + dense classification head.

Layer names are stable (``block5_conv1``, ``head_dense``, ...), so a model folder stores only the layers it
trained and the loader rebuilds the rest from the backbone's own weights.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from har_stream.action_model import vgg16
from har_stream.action_model.preprocess import preprocessor_for
from har_stream.action_model.vgg16 import BackboneWeights

HEAD_PREFIX = "head_"


@dataclass(frozen=True)
class BackboneSpec:
    """A convolutional backbone: input size, preprocessing, how to build it, and its blocks for fine-tuning.

    ``block_outputs`` are the layer names that end each block, bottom to top: fine-tuning the top ``k`` blocks
    caches the output of ``block_outputs[-k - 1]`` and trains everything above it. ``build(weights, size)`` makes
    the backbone for ``size`` x ``size`` inputs (the same weights serve every size: the backbones are convolutional).
    """

    name: str
    input_size: int
    preprocess: Callable[[np.ndarray], np.ndarray]
    resolve_weights: Callable[[str | None], BackboneWeights]
    build: Callable[[BackboneWeights, int], Any]
    block_outputs: tuple[str, ...] = field(default=())

    def cut_layer(self, train_top_blocks: int) -> str:
        """Name of the layer whose output is cached when the top ``train_top_blocks`` blocks are trained."""
        if not 0 <= train_top_blocks < len(self.block_outputs):
            raise ValueError(
                f"{self.name}: can fine-tune 0 to {len(self.block_outputs) - 1} top blocks, not {train_top_blocks}"
            )
        return self.block_outputs[-1 - train_top_blocks]


def _vgg16_spec() -> BackboneSpec:
    return BackboneSpec(
        name="vgg16",
        input_size=vgg16.INPUT_SIZE,
        preprocess=preprocessor_for("vgg16"),
        resolve_weights=lambda w: vgg16.resolve_vgg16_weights("auto" if w is None else w),
        build=lambda weights, size: vgg16.build_vgg16(weights, input_size=size),
        block_outputs=tuple(f"{block}_pool" for block in vgg16.BLOCKS),
    )


def _lite_spec(variant: str) -> BackboneSpec:
    from har_stream.action_model import efficientnet_lite as lite

    spec = lite.LITE_VARIANTS[variant]

    def resolve(weights: str | None) -> BackboneWeights:
        if weights == "none":
            return BackboneWeights("none", "", "random initialisation")
        explicit = None if weights in (None, "auto", "imagenet") else weights
        path = lite.locate_lite_weights(variant, explicit)
        return BackboneWeights("imagenet", str(path), f"ImageNet EfficientNet-{variant.capitalize()} ({spec.pip_name})")

    def build(weights: BackboneWeights, size: int) -> Any:
        return lite.build_efficientnet_lite(
            variant, weights=weights.path if weights.kind == "imagenet" else None, pooling=False, input_size=size
        )

    return BackboneSpec(
        name=f"efficientnet_{variant}",
        input_size=spec.input_size,
        preprocess=preprocessor_for(f"efficientnet_{variant}"),
        resolve_weights=resolve,
        build=build,
        block_outputs=tuple(lite.lite_stage_outputs(variant)),
    )


BACKBONES: dict[str, Callable[[], BackboneSpec]] = {
    "vgg16": _vgg16_spec,
    "efficientnet_lite0": lambda: _lite_spec("lite0"),
    "efficientnet_lite1": lambda: _lite_spec("lite1"),
    "efficientnet_lite2": lambda: _lite_spec("lite2"),
}


def backbone_spec(name: str, input_size: int | None = None) -> BackboneSpec:
    """The backbone called ``name``, for ``input_size`` inputs (default: its own); raises ValueError listing the
    known ones."""
    try:
        spec = BACKBONES[name]()
    except KeyError:
        raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}") from None
    if input_size is None or input_size == spec.input_size:
        return spec
    if input_size < 32:
        raise ValueError(f"{name}: input size must be at least 32 px, not {input_size}")
    return replace(spec, input_size=input_size)


@dataclass(frozen=True)
class HeadConfig:
    """The dense head: ``flatten`` (the seed) or ``avg`` pooling, optional batch norm of the pooled features,
    hidden units, dropout before and after the hidden layer."""

    pooling: str = "avg"
    units: int = 512
    dropout_in: float = 0.0
    dropout: float = 0.0
    batchnorm: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for model.json."""
        return dict(self.__dict__)


def add_head(features: Any, n_classes: int, head: HeadConfig) -> Any:
    """Append the classification head (softmax output) to a feature-map tensor."""
    import keras

    layers = keras.layers
    if head.pooling == "flatten":
        x = layers.Flatten(name="head_flatten")(features)
    elif head.pooling == "avg":
        x = layers.GlobalAveragePooling2D(name="head_pool")(features)
    else:
        raise ValueError(f"head pooling must be 'flatten' or 'avg', not {head.pooling!r}")
    if head.batchnorm:  # backbones whose features are far from unit scale (e.g. VGG16 from HED) need it
        x = layers.BatchNormalization(name="head_feature_bn")(x)
    if head.dropout_in:
        x = layers.Dropout(head.dropout_in, name="head_dropout_in")(x)
    x = layers.Dense(head.units, activation="relu", name="head_dense")(x)
    if head.dropout:
        x = layers.Dropout(head.dropout, name="head_dropout")(x)
    return layers.Dense(n_classes, activation="softmax", name="head_out")(x)


def build_network(spec: BackboneSpec, weights: BackboneWeights, n_classes: int, head: HeadConfig) -> Any:
    """Backbone (with ``weights`` loaded) + head, as one flat Keras functional model."""
    import keras

    base = spec.build(weights, spec.input_size)
    return keras.Model(base.input, add_head(base.output, n_classes, head), name=f"{spec.name}_action")


def top_submodel(network: Any, cut_layer: str) -> Any:
    """The part of ``network`` above ``cut_layer`` (sharing its layers): trained on cached features."""
    import keras

    return keras.Model(network.get_layer(cut_layer).output, network.output)


def layers_above(network: Any, cut_layer: str) -> list[str]:
    """Names of the layers with weights above ``cut_layer`` (the ones training changes)."""
    sub = top_submodel(network, cut_layer)
    return [layer.name for layer in sub.layers if layer.weights]
