"""What evaluating one labelled clip produced: per-action scores, alerts, and the peak frames."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from har_stream.actions import CLIP_LABELS_OF


@dataclass
class ClipResult:
    """One clip's outcome.

    ``scores[action]`` is the highest evidence for ``action`` any tracked person had on any frame;
    ``peak_frames[action]`` is the rendered frame (JPEG bytes, downscaled) where it was reached.
    ``alerts`` lists the action of every alert that started; ``first_alert_s`` the media time of each
    action's first one; ``start_s`` the media time the labelled action starts, when the labels say. ``error``
    says why a clip could not be evaluated (it is then left out of the figures).
    """

    file: str
    label: str
    group: str
    frames: int = 0
    scores: dict[str, float] = field(default_factory=dict)
    alerts: list[str] = field(default_factory=list)
    first_alert_s: dict[str, float] = field(default_factory=dict)
    peak_frames: dict[str, bytes] = field(default_factory=dict, repr=False)
    problems: list[str] = field(default_factory=list)
    error: str | None = None
    start_s: float | None = None

    def shows(self, action: str) -> bool:
        """Whether the clip's label says it shows ``action`` (``falling`` clips show ``fallen``)."""
        return self.label in CLIP_LABELS_OF.get(action, (action,))

    def alerted(self, action: str) -> bool:
        """Whether an alert of ``action`` started in this clip."""
        return action in self.alerts

    def to_json(self) -> dict[str, Any]:
        """The clip's entry in results.json (``problems`` and ``error`` only when there are any)."""
        data: dict[str, Any] = {
            "file": self.file,
            "label": self.label,
            "group": self.group,
            "frames": self.frames,
            "scores": {action: round(score, 4) for action, score in self.scores.items()},
            "alerts": list(self.alerts),
            "first_alert_s": dict(self.first_alert_s),
        }
        if self.start_s is not None:
            data["start_s"] = self.start_s
        if self.problems:
            data["problems"] = list(self.problems)
        if self.error is not None:
            data["error"] = self.error
        return data
