"""Refuse runs whose outputs would overwrite their input or each other, however the paths are spelled.

Paths are compared after expanding ``~``, making them absolute, collapsing ``..`` and following symlinks; two
existing paths are also compared by device and inode, so a hard link to the source is caught too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class OutputPathError(ValueError):
    """An output path is the same file as the input or as another output; the message names both."""


def _canonical(path: str | os.PathLike[str]) -> Path:
    return Path(path).expanduser().resolve(strict=False)


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether two paths name one file (same resolved path, or the same inode when both exist)."""
    if _canonical(a) == _canonical(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def local_file(uri: str | os.PathLike[str] | int | None) -> Path | None:
    """The local path of a source, or None for cameras, stream URLs and nothing."""
    if uri is None or isinstance(uri, int):
        return None
    text = str(uri)
    if text.isdigit() or "://" in text:
        return None
    return Path(text)


def check_output_paths(inputs: Mapping[str, Path | None], outputs: Mapping[str, Path | None]) -> None:
    """Raise :class:`OutputPathError` when an output is an input or another output (names are shown to the user,
    e.g. ``{"source": ...}`` and ``{"output.video": ..., "output.events": ...}``)."""
    named_outputs = [(name, path) for name, path in outputs.items() if path is not None]
    for name, path in named_outputs:
        for input_name, source in inputs.items():
            if source is not None and same_file(path, source):
                raise OutputPathError(
                    f"{name} ({path}) is the same file as the {input_name} ({source}): writing it would destroy "
                    f"the input; choose another path for {name}"
                )
    for i, (name, path) in enumerate(named_outputs):
        for other, other_path in named_outputs[i + 1 :]:
            if same_file(path, other_path):
                raise OutputPathError(
                    f"{name} ({path}) and {other} ({other_path}) are the same file: one would overwrite the other; "
                    "give each output its own path"
                )


def check_site_paths(site: Any) -> None:
    """For ``har-stream serve``: no camera output, event store or media folder may be a camera's source file,
    and no two of them may be one file (e.g. two cameras exporting to the same path)."""
    inputs = {f"cameras[{i}] ({c.camera}) source": local_file(c.source.uri) for i, c in enumerate(site.cameras)}
    outputs: dict[str, Path | None] = {"store.path": site.store_path, "media.folder": site.media.folder}
    for i, camera in enumerate(site.cameras):
        out = camera.output
        outputs[f"cameras[{i}] ({camera.camera}) output.video"] = out.video
        outputs[f"cameras[{i}] ({camera.camera}) output.events"] = out.events
    check_output_paths(inputs, outputs)
