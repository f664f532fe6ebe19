"""The per-frame record that carries one video frame through every pipeline stage."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import supervision as sv

# Keys of ``sv.Detections.data`` that stages fill in, in pipeline order.
KEYPOINTS = "keypoints"  # (N, 17, 3) x, y, confidence from the pose detector
SPEED = "speed"  # (N,) box heights per second, from the tracker
SPEED_MPS = "speed_mps"  # (N,) ground speed in metres per second in calibrated zones, NaN elsewhere (tracker)
ACTION_PROBS = "action_probs"  # (N, C) raw classifier probabilities; NaN rows where not classified now
ACTION = "action"  # (N,) smoothed action label (str)
ACTION_CONFIDENCE = "action_confidence"  # (N,) smoothed probability of that label
ACTION_SCORES = "action_scores"  # (N, C) per-person evidence for each action (columns: record.action_classes)
MOTION_SCORES = "motion_scores"  # (N, M) temporal model's probability per motion action; NaN without history
DOWN_SECONDS = "down_s"  # (N,) seconds since the person fell and stayed down; NaN when not down (fall stage)
# (N,) bool: a fallen person the detector lost, held by the fall stage at their last box (nobody saw them get up);
# such a row has no keypoints, speed or classifier output of its own (fall stage)
UNSEEN = "unseen"
# (N,) the one label each person is shown with (overlay, alerts of "*" rules): an action whose evidence reaches
# render.min_label_confidence, else the best background action (walking/standing/other) when the scores have
# those columns, else "unknown" (the box shows the track id alone). Set by har_stream.render.labels.
DISPLAY_LABEL = "display_label"
DISPLAY_CONFIDENCE = "display_confidence"  # (N,) the evidence for that label; 0 for "unknown"
FLAGGED = "flagged"  # (N,) bool: an alert is active for this person
ALERT_RULE = "alert_rule"  # (N,) name of the rule that flags the person, "" if none


@dataclass(frozen=True)
class Crossing:
    """A tracked person's feet crossing a counting line on this frame (the count stage, har_stream.rules.counting)."""

    track_id: int
    line: str
    direction: str  # "in" or "out", as the line's in_direction says


@dataclass
class FrameRecord:
    """One frame and everything the stages learned about it.

    ``timestamp`` is media time in seconds for files and wall-clock epoch seconds for live sources;
    ``wall_time`` is always epoch seconds (for files: the configured start time plus media time) and is
    what schedules and event times use. ``captured_at`` is ``time.monotonic()`` when the frame was decoded,
    for measuring how old a frame is when it is rendered.
    """

    index: int
    timestamp: float
    wall_time: float
    captured_at: float
    image: np.ndarray
    camera: str = "default"
    detections: sv.Detections = field(default_factory=sv.Detections.empty)
    raw_detections: int = 0  # detector output count, before tracking keeps confirmed tracks only
    ended_tracks: list[int] = field(default_factory=list)
    alerts: list[Any] = field(default_factory=list)  # AlertEvent objects started or ended on this frame
    active_alerts: int = 0
    crossings: list[Crossing] = field(default_factory=list)  # line crossings on this frame (count stage)
    #: Per line, people counted ``{"in": n, "out": m}`` since the run started (count stage).
    line_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    zone_occupancy: dict[str, int] = field(default_factory=dict)  # per zone, people standing in it now (count stage)
    timings: dict[str, float] = field(default_factory=dict)  # stage name -> milliseconds
    #: Names of the columns of ``data['action_scores']`` (set by the smoothing stage; the temporal stage adds a
    #: column for a motion action the classifier lacks).
    action_classes: tuple[str, ...] = ()

    @property
    def height(self) -> int:
        """Frame height in pixels."""
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        """Frame width in pixels."""
        return int(self.image.shape[1])
