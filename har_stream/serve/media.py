"""Which files the server may send: only snapshots and clips inside the configured media folder."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

#: Sub-folders of the media folder that are served, and the file types in them.
SERVED_FOLDERS = frozenset({"snapshots", "clips"})
SERVED_SUFFIXES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".mp4": "video/mp4"}


def resolve_media(root: Path, relative: str) -> Path | None:
    """The file ``relative`` names under ``root``, or None when it is not one the server may send.

    Refused: empty or absolute paths, ``..`` anywhere, NUL bytes, anything outside ``snapshots/`` and
    ``clips/`` (the event database lives in the media folder too), other file types, and paths whose
    real location (after following symlinks) is not inside ``root``.
    """
    if not relative or "\x00" in relative or "\\" in relative:
        return None
    parts = PurePosixPath(relative).parts
    if not parts or relative.startswith("/") or ".." in parts or parts[0] not in SERVED_FOLDERS:
        return None
    if PurePosixPath(relative).suffix.lower() not in SERVED_SUFFIXES:
        return None
    base = root.resolve()
    try:
        candidate = (base / relative).resolve(strict=True)
    except (OSError, RuntimeError, ValueError):
        return None
    if not candidate.is_relative_to(base / parts[0]) or not candidate.is_file():
        return None
    return candidate


def media_type(path: Path) -> str:
    """The content type of a served file."""
    return SERVED_SUFFIXES.get(path.suffix.lower(), "application/octet-stream")
