"""The experiments' one set-up: where the repository, the shared footage, the split files and the results are.

The shared data (``../shared`` beside the repository: ``videos/`` and ``data/har``) is read only, never copied in.
"""

from __future__ import annotations

from pathlib import Path

#: The repository root (the experiments are run from here: ``python -m experiments.<name>``).
REPO = Path(__file__).resolve().parents[1]
#: Read-only data shared beside the repository.
SHARED = REPO.parent / "shared"
#: The real clip folders (``cctv/``, ``kth/``, ...) and the long crowd recordings.
VIDEOS = SHARED / "videos"
#: The labelled photos the action classifier is trained and scored on.
HAR_DATA = SHARED / "data" / "har"
#: The concourse crowd recording (34 people a frame) most cost benchmarks replay.
CROWD_VIDEO = VIDEOS / "concourse_crowd_720p.avi"
MODELS = REPO / "models"
CONFIGS = REPO / "configs"
#: Scratch output (git-ignored): harvests, traces, retrained models.
OUT = REPO / "out"
#: The committed results (JSON), indexed in ``results/README.md``.
RESULTS = Path(__file__).resolve().parent / "results"
#: The split of cctv/ (the one every earlier release used).
CCTV_SPLIT = MODELS / "cctv_split.csv"

#: Each real clip folder under :data:`VIDEOS` and its split file (train / val / test by recording group).
CLIP_FOLDERS: dict[str, Path] = {
    "cctv": CCTV_SPLIT,
    "kth": MODELS / "splits" / "kth.csv",
    "umn_crowd": MODELS / "splits" / "umn_crowd.csv",
    "falls": MODELS / "splits" / "falls.csv",
    "interactions": MODELS / "splits" / "interactions.csv",
    "cctv_more": MODELS / "splits" / "cctv_more.csv",
}
#: The folders with fighting clips (the fighting trees' data).
FIGHTING_FOLDERS = ("cctv", "interactions", "cctv_more")


def clip_folders(*names: str) -> dict[str, Path]:
    """``{folder: split file}`` for the named folders (all of :data:`CLIP_FOLDERS` when none are named)."""
    return {name: CLIP_FOLDERS[name] for name in names or CLIP_FOLDERS}
