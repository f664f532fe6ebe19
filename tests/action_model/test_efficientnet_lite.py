"""The Keras EfficientNet-Lite port against PyTorch on real photos, with the real packaged ImageNet weights.

Reference 1 (always runs): a plain ``torch.nn.functional`` forward pass written straight from the packaged
``state_dict`` in NCHW, padding like the torch package's ``Conv2dStaticSamePadding``; it shares no code with the
Keras port. Reference 2 (when ``efficientnet-lite-pytorch``, the package's own model class, is installed):
``EfficientNet.from_pretrained``.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import pytest

from har_stream.action_model import efficientnet_lite as lite  # imports the TF guard before torch/keras
from har_stream.action_model import square_resize
from har_stream.action_model.preprocess import lite_preprocess_bgr
from har_stream.weights import WeightsNotFoundError
from tests.conftest import SHARED, require

if TYPE_CHECKING:
    import keras

torch = pytest.importorskip("torch")

IMAGES = SHARED / "data" / "har" / "images"
#: Two real photos and the ImageNet class the lite0 weights give them (bannister 0.83, lab coat 0.79).
PHOTOS = {"Image_10038.jpg": 421, "Image_10049.jpg": 617}  # 421 bannister, 617 lab coat
TOLERANCE = 1e-3


def photos(size: int) -> np.ndarray:
    """The test photos as square BGR uint8 crops of ``size``."""
    return np.stack([square_resize(cv2.imread(str(require(IMAGES / name))), size) for name in PHOTOS])


def have_package(variant: str) -> bool:
    return importlib.util.find_spec(lite.LITE_VARIANTS[variant].package) is not None


def functional_reference(state: dict[str, torch.Tensor], x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(feature map NCHW, pooled features) of EfficientNet-Lite from its torch ``state_dict``, in plain torch."""
    f = torch.nn.functional

    def conv(x: torch.Tensor, w: torch.Tensor, stride: int = 1, groups: int = 1) -> torch.Tensor:
        k = w.shape[-1]
        i = x.shape[-1]
        total = max((math.ceil(i / stride) - 1) * stride + k - i, 0)
        x = f.pad(x, [total // 2, total - total // 2] * 2)
        return f.conv2d(x, w, stride=stride, groups=groups)

    def bn(x: torch.Tensor, p: str) -> torch.Tensor:
        return f.batch_norm(
            x, state[f"{p}.running_mean"], state[f"{p}.running_var"], state[f"{p}.weight"], state[f"{p}.bias"], False,
            eps=1e-3,
        )  # fmt: skip

    x = f.relu6(bn(conv(x, state["_conv_stem.weight"], 2), "_bn0"))
    stage, n = 0, 0
    while f"_blocks.{n}._project_conv.weight" in state:
        b = f"_blocks.{n}"
        project = state[f"{b}._project_conv.weight"]
        first = project.shape[0] != x.shape[1]  # the first block of a stage changes the width
        stage += first
        stride = 2 if first and stage in (2, 3, 4, 6) else 1
        y = x
        if f"{b}._expand_conv.weight" in state:
            y = f.relu6(bn(conv(y, state[f"{b}._expand_conv.weight"]), f"{b}._bn0"))
        y = f.relu6(bn(conv(y, state[f"{b}._depthwise_conv.weight"], stride, groups=y.shape[1]), f"{b}._bn1"))
        y = bn(conv(y, project), f"{b}._bn2")
        x = y if first else y + x
        n += 1
    x = f.relu6(bn(conv(x, state["_conv_head.weight"]), "_bn1"))
    return x, x.mean((2, 3))


@pytest.fixture(scope="module")
def lite0() -> keras.Model:
    return lite.build_efficientnet_lite("lite0")


def test_lite0_matches_plain_torch_on_real_photos(lite0: keras.Model) -> None:
    crops = photos(224)
    x = lite_preprocess_bgr(crops)
    path = lite.locate_lite_weights("lite0")
    state = torch.load(str(path), map_location="cpu", weights_only=True)
    with torch.no_grad():
        fmap, pooled = functional_reference(state, torch.from_numpy(x).permute(0, 3, 1, 2))
    keras_pooled = np.asarray(lite0(x))
    assert keras_pooled.shape == (2, 1280)
    diff = np.abs(keras_pooled - pooled.numpy()).max()
    assert diff < TOLERANCE, f"pooled features differ by {diff}"
    # The packaged ImageNet classifier on the port's features names what is in the photos.
    kernel, bias = lite.imagenet_classifier("lite0")
    assert list((keras_pooled @ kernel + bias).argmax(1)) == list(PHOTOS.values())
    fmap_model = lite.build_efficientnet_lite("lite0", weights=path, pooling=False)
    keras_map = np.asarray(fmap_model(x))
    assert keras_map.shape == (2, 7, 7, 1280)
    assert np.abs(keras_map - fmap.permute(0, 2, 3, 1).numpy()).max() < TOLERANCE


@pytest.mark.parametrize("variant", ["lite0", "lite1", "lite2"])
def test_matches_the_packages_torch_model(variant: str, request: pytest.FixtureRequest) -> None:
    if importlib.util.find_spec("efficientnet_lite_pytorch") is None:
        pytest.skip("efficientnet-lite-pytorch (the torch model class) is not installed")
    if not have_package(variant):
        pytest.skip(f"{lite.LITE_VARIANTS[variant].pip_name} is not installed")
    from efficientnet_lite_pytorch import EfficientNet

    spec = lite.LITE_VARIANTS[variant]
    path = lite.locate_lite_weights(variant)
    reference = EfficientNet.from_pretrained(f"efficientnet-{variant}", weights_path=str(path)).eval()
    x = lite_preprocess_bgr(photos(spec.input_size))
    with torch.no_grad():
        expected = reference.extract_features(torch.from_numpy(x).permute(0, 3, 1, 2)).mean((2, 3)).numpy()
    model = request.getfixturevalue("lite0") if variant == "lite0" else lite.build_efficientnet_lite(variant)
    diff = np.abs(np.asarray(model(x)) - expected).max()
    assert diff < TOLERANCE, f"{variant}: pooled features differ by {diff}"


def test_stage_outputs_are_the_cut_points_for_fine_tuning(lite0: keras.Model) -> None:
    outputs = lite.lite_stage_outputs("lite0")
    assert outputs[0] == "stem_relu" and outputs[-1] == "head_relu" and len(outputs) == 9  # stem, 7 stages, head
    for required in ("stem_conv", "stem_bn", "block1_1_dwconv", "block2_1_expand_conv", "head_conv", "head_bn"):
        lite0.get_layer(required)
    # Each cut point's output feeds the rest of the network: the top part rebuilt from it gives the same features.
    import keras

    x = lite_preprocess_bgr(photos(224))
    for cut in outputs[-3:-1]:
        top = keras.Model(lite0.get_layer(cut).output, lite0.output)
        trunk = keras.Model(lite0.input, lite0.get_layer(cut).output)
        np.testing.assert_allclose(np.asarray(top(trunk(x))), np.asarray(lite0(x)), atol=1e-5)


def test_preprocess_is_rgb_and_centred() -> None:
    bgr = np.zeros((1, 2, 2, 3), np.uint8)
    bgr[..., 0] = 255  # blue
    out = lite_preprocess_bgr(bgr)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[0, 0, 0], [-127 / 128, -127 / 128, 1.0])
    with pytest.raises(ValueError):
        lite_preprocess_bgr(bgr[0])


def test_missing_weights_list_every_place(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HAR_STREAM_WEIGHTS", str(tmp_path / "env"))
    monkeypatch.setenv("HAR_STREAM_SHARED", str(tmp_path / "shared"))
    spec = lite.LITE_VARIANTS["lite2"]
    fake = lite.LiteSpec("lite2", 1.1, 1.2, 260, "no-such-lite-pkg", "no_such_lite_pkg_xyz", spec.weights_file)
    monkeypatch.setitem(lite.LITE_VARIANTS, "lite2", fake)
    with pytest.raises(WeightsNotFoundError) as info:
        lite.locate_lite_weights("lite2")
    message = str(info.value)
    for place in ("project models folder", "$HAR_STREAM_WEIGHTS", "shared weights folder", "no-such-lite-pkg"):
        assert place in message
    with pytest.raises(WeightsNotFoundError):
        lite.locate_lite_weights("lite0", tmp_path / "missing.pth")
    with pytest.raises(ValueError, match="unknown EfficientNet-Lite variant"):
        lite.locate_lite_weights("lite9")
