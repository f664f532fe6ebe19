"""Pictures of a video evaluation: one ROC curve per flagged action and a contact sheet of the worst clips."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from har_stream.video_eval.clip_result import ClipResult
from har_stream.video_eval.collector import THUMBNAIL_WIDTH
from har_stream.video_eval.metrics import auroc, roc_points

#: Clips shown per action for each of worst misses and worst false alarms.
WORST_PER_KIND = 6
TILE_HEIGHT = 270
CAPTION_HEIGHT = 46
HEADER_HEIGHT = 34
COLUMNS = 3


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_roc(clips: Sequence[ClipResult], action: str, path: Path, title: str = "") -> Path:
    """The ROC curve of ``action``'s clip scores (positives: clips labelled ``action``), with the chance line."""
    usable = [c for c in clips if c.error is None]
    scores = np.array([c.scores.get(action, 0.0) for c in usable])
    positive = np.array([c.shows(action) for c in usable], dtype=bool)
    area = auroc(scores, positive)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    if area is not None:
        fpr, tpr = roc_points(scores, positive)
        ax.plot(fpr, tpr, marker=".", label=f"{action}: AUROC {area:.3f}")
    else:
        ax.text(0.5, 0.5, "needs positive and negative clips", ha="center", va="center")
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    ax.set_title(f"{title + ': ' if title else ''}{action} (n_pos {n_pos}, n_neg {n_neg})", fontsize=10)
    ax.set_xlabel("false positive rate (share of other clips)")
    ax.set_ylabel("true positive rate (share of clips of the action)")
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.legend(loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def worst_clips(
    clips: Sequence[ClipResult], action: str, n: int = WORST_PER_KIND
) -> tuple[list[ClipResult], list[ClipResult]]:
    """The ``n`` lowest-scoring positive clips (misses) and the ``n`` highest-scoring negative clips (false alarms)."""
    usable = [c for c in clips if c.error is None]
    misses = sorted((c for c in usable if c.shows(action)), key=lambda c: c.scores.get(action, 0.0))
    alarms = sorted((c for c in usable if not c.shows(action)), key=lambda c: -c.scores.get(action, 0.0))
    return misses[:n], alarms[:n]


def _fit(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` scaled to fit ``width`` x ``height`` and centred on black."""
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    h, w = image.shape[:2]
    scale = min(width / w, height / h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    resized = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    y, x = (height - size[1]) // 2, (width - size[0]) // 2
    canvas[y : y + size[1], x : x + size[0]] = resized
    return canvas


def _text(image: np.ndarray, text: str, origin: tuple[int, int], scale: float = 0.5, color=(255, 255, 255)) -> None:
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, color, 1, cv2.LINE_AA)


def clip_tile(clip: ClipResult, action: str, width: int = THUMBNAIL_WIDTH) -> np.ndarray:
    """The clip's peak frame for ``action`` with a dark caption strip: file, label, score, alerted yes/no."""
    encoded = clip.peak_frames.get(action)
    frame = cv2.imdecode(np.frombuffer(encoded, np.uint8), cv2.IMREAD_COLOR) if encoded else None
    picture = _fit(frame, width, TILE_HEIGHT) if frame is not None else np.zeros((TILE_HEIGHT, width, 3), np.uint8)
    strip = np.full((CAPTION_HEIGHT, width, 3), 30, dtype=np.uint8)
    alerted = clip.alerted(action)
    _text(strip, clip.file[:58], (6, 18))
    detail = f"label {clip.label}  {action} {clip.scores.get(action, 0.0):.3f}  alert {'yes' if alerted else 'no'}"
    _text(strip, detail, (6, 38), color=(80, 80, 255) if alerted else (200, 200, 200))
    return np.vstack([picture, strip])


def _section(title: str, tiles: list[np.ndarray], width: int) -> np.ndarray:
    """A titled block of tiles, ``COLUMNS`` to a row."""
    header = np.full((HEADER_HEIGHT, width, 3), 60, dtype=np.uint8)
    _text(header, title, (8, 23), scale=0.65)
    rows = [header]
    for start in range(0, len(tiles), COLUMNS):
        row = tiles[start : start + COLUMNS]
        row += [np.zeros_like(tiles[0])] * (COLUMNS - len(row))
        rows.append(np.hstack(row))
    return np.vstack(rows)


def contact_sheet(clips: Sequence[ClipResult], actions: Sequence[str], path: Path, n: int = WORST_PER_KIND) -> Path:
    """One image: per action, its worst misses and worst false alarms as captioned peak-frame tiles."""
    width = THUMBNAIL_WIDTH * COLUMNS
    sections = []
    for action in actions:
        misses, alarms = worst_clips(clips, action, n)
        kinds = (
            ("worst misses (its lowest-scoring clips)", misses),
            ("worst false alarms (highest-scoring other clips)", alarms),
        )
        for kind, chosen in kinds:
            title = f"{action}: {kind}" + ("" if chosen else ": none")
            sections.append(_section(title, [clip_tile(c, action) for c in chosen], width))
    if not sections:
        sections.append(_section("no flagged actions", [], width))
    sheet = np.vstack(sections)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), sheet, [cv2.IMWRITE_JPEG_QUALITY, 85]):
        raise OSError(f"could not write the contact sheet {path}")
    return path
