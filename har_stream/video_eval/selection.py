"""Which actions a config flags, and which labelled clips an evaluation covers."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from har_stream.actions import UNKNOWN_ACTION
from har_stream.clips import LabelledClip, load_clip_split
from har_stream.clips.split import PARTS
from har_stream.config.schema import ANY_ACTION, HarStreamConfig

log = logging.getLogger(__name__)


class ClipSelectionError(ValueError):
    """The split or part asked for selects no clips, or cannot be read."""


def flagged_actions(config: HarStreamConfig) -> list[str]:
    """The actions the config's rules name, in order of first mention ("*" and "unknown" are not actions)."""
    actions: dict[str, None] = {}
    for rule in config.rules:
        for action in rule.actions:
            if action not in (ANY_ACTION, UNKNOWN_ACTION):
                actions.setdefault(action, None)
    return list(actions)


def select_split_part(clips: list[LabelledClip], split: Path | Sequence[Path], part: str) -> list[LabelledClip]:
    """The clips that the saved ``split`` (one file or several, e.g. one per clip folder) puts in ``part``; a clear
    error when it lists none of them."""
    if part not in PARTS:
        raise ClipSelectionError(f"--part must be one of {', '.join(PARTS)}, not {part!r}")
    splits = [split] if isinstance(split, (str, Path)) else list(split)
    assignment: dict[str, str] = {}
    try:
        for path in splits:
            assignment.update(load_clip_split(path))
    except (FileNotFoundError, ValueError) as exc:
        raise ClipSelectionError(str(exc)) from None
    named = ", ".join(map(str, splits))
    listed = [clip for clip in clips if clip.file in assignment]
    if not listed:
        raise ClipSelectionError(f"split {named} lists none of the {len(clips)} clips (is it for another folder?)")
    if len(listed) < len(clips):
        log.warning("split %s does not list %d of the clips; they are left out", named, len(clips) - len(listed))
    chosen = [clip for clip in listed if assignment[clip.file] == part]
    if not chosen:
        raise ClipSelectionError(f"split {named} puts none of the clips in part {part!r}")
    return chosen
