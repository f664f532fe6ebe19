"""Typed configuration of a har-stream camera: every YAML field, its default, and its checks.

All models forbid unknown keys, so a typo such as ``min_duraton_s`` is reported instead of ignored.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import shapely
from pydantic import Field, field_validator, model_validator
from shapely.geometry import Polygon

from har_stream.actions import ALL_ACTIONS, RULE_ACTIONS, UNKNOWN_ACTION
from har_stream.config.base import Fraction, PositiveSeconds, Seconds, StrictModel

#: In a rule's ``actions`` list, matches every label, ``unknown`` included.
ANY_ACTION = "*"
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SEVERITIES = ("info", "low", "medium", "high", "critical")

Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_. -]*$")]


class ReconnectConfig(StrictModel):
    """How a live source that drops is reopened."""

    #: Wait before the first reconnection attempt; doubled after each failure.
    initial_delay_s: PositiveSeconds = 0.5
    #: Longest wait between reconnection attempts.
    max_delay_s: PositiveSeconds = 10.0
    #: Stop and report the camera as lost after this long without frames; null retries forever.
    give_up_after_s: PositiveSeconds | None = 60.0

    @model_validator(mode="after")
    def _delays_ordered(self) -> ReconnectConfig:
        if self.max_delay_s < self.initial_delay_s:
            raise ValueError(
                f"max_delay_s ({self.max_delay_s}) must not be below initial_delay_s ({self.initial_delay_s})"
            )
        return self


class SourceConfig(StrictModel):
    """Where frames come from and how they are read."""

    #: Video file, folder of images, webcam index (0, 1, ...) or rtsp:// / http(s):// URL.
    uri: str | None = None
    #: RTSP transport: tcp is more robust through firewalls and lossy links.
    rtsp_transport: Literal["tcp", "udp"] = "tcp"
    #: How long opening the source may take before it counts as unreachable.
    open_timeout_s: PositiveSeconds = 10.0
    #: A live stream that yields no frame for this long is considered stalled and is reopened.
    read_timeout_s: PositiveSeconds = 5.0
    #: Frames buffered between the reader thread and processing (live sources keep only the newest).
    queue_size: Annotated[int, Field(ge=1, le=256)] = 4
    reconnect: ReconnectConfig = ReconnectConfig()
    #: Frame rate given to a folder of images.
    image_fps: PositiveSeconds = 1.0
    #: Wall-clock time of a file's first frame, used by schedules and event times (default: now).
    start_time: dt.datetime | None = None
    #: Video files only: start again at the end, with media time running on (demos, dashboards, tests).
    loop: bool = False
    #: Video files only: play at the file's own frame rate as a live camera (wall-clock timestamps, frames the
    #: pipeline cannot keep up with are dropped) instead of processing every frame as fast as possible.
    realtime: bool = False


class DetectorConfig(StrictModel):
    """The person detector (ultralytics YOLO)."""

    #: Weights file name or path; names are searched in models/, $HAR_STREAM_WEIGHTS, ../shared/weights,
    #: packages that ship them, then ultralytics' download.
    model: str = "yolo11n-pose.pt"
    #: Detector input size in pixels (the long side); 1280 for people 15-40 px tall, at about 3.7x the time.
    imgsz: Annotated[int, Field(ge=32, le=4096, multiple_of=32)] = 640
    #: Lowest detection confidence a person box is kept at.
    confidence: Fraction = 0.25
    #: Overlap (IoU) above which the detector's non-maximum suppression merges two boxes.
    iou: Fraction = 0.6
    #: Most people the detector returns on one frame.
    max_detections: Annotated[int, Field(ge=1, le=1000)] = 300
    #: onnxruntime and openvino run an ONNX export of the weights (made once and cached) without PyTorch;
    #: torch runs the weights with ultralytics' own predictor.
    backend: Literal["onnxruntime", "openvino", "torch"] = "onnxruntime"
    #: onnxruntime/openvino: use the int8 model ``<weights stem>-int8.onnx`` (models/, $HAR_STREAM_WEIGHTS,
    #: ../shared/weights) made by ``har-stream models quantize-detector``: about 1.5x less CPU per frame, same people
    #: found (docs/research/performance.md). Falls back to float32, with a warning, when there is none.
    int8: bool = True
    #: Inference threads (default: the runtime's choice, usually one per core).
    threads: Annotated[int, Field(ge=1, le=256)] | None = None
    #: torch backend only: "cpu", "cuda:0", ...
    device: str = "cpu"
    #: Run the detector on its own thread, so it works on the next frame while the other stages finish this one.
    pipelined: bool = True


class TrackerConfig(StrictModel):
    """ByteTrack settings and per-track state."""

    #: How long a track that lost its person is kept to be re-found: seconds of missed tracker updates, at the rate
    #: frames are actually processed (not the source's frame rate: live frames may be dropped).
    lost_track_buffer_s: Seconds = 1.0
    #: Minimum detection confidence to start a new track.
    activation_threshold: Fraction = 0.35
    #: Detections above this are matched first; the rest only revive existing tracks.
    high_confidence_threshold: Fraction = 0.45
    min_consecutive_frames: Annotated[int, Field(ge=1, le=30)] = 2
    match_iou: Fraction = 0.1
    #: Window over which speed (box heights per second) is measured.
    speed_window_s: PositiveSeconds = 0.5


class ClassifierConfig(StrictModel):
    """The per-person action classifier and how often it runs."""

    #: "default" (best bundled model), "none" (label everyone unknown), a name in models/, or a path.
    model: str = "default"
    #: auto: ONNX Runtime int8 (model-int8.onnx) when the model has it, else Keras; onnx-int8; keras.
    runtime: Literal["auto", "onnx-int8", "keras"] = "auto"
    #: Inference threads of the ONNX Runtime classifier (the detector runs on its own thread beside it).
    threads: Annotated[int, Field(ge=1, le=256)] = 1
    #: Re-classify a track at least every N processed frames.
    every_n_frames: Annotated[int, Field(ge=1, le=10_000)] = 10
    #: ... or sooner when its box overlaps the box last classified by less than this IoU.
    reclassify_iou: Fraction = 0.5
    #: At most this many crops are classified per frame (the stalest tracks first).
    max_per_frame: Annotated[int, Field(ge=1, le=256)] = 8
    #: Crop margin around the person box, as a fraction of the box size.
    crop_padding: Annotated[float, Field(ge=0, le=2)] = 0.15
    #: People smaller than this (pixels) are not classified.
    min_box_height: Annotated[int, Field(ge=1)] = 24


class SmoothingConfig(StrictModel):
    """Temporal smoothing of each track's class probabilities, with hysteresis."""

    method: Literal["ema", "vote"] = "ema"
    #: EMA weight of the newest classification.
    alpha: Annotated[float, Field(gt=0, le=1)] = 0.5
    #: Classifications remembered by the voting window.
    window: Annotated[int, Field(ge=1, le=100)] = 5
    #: A new label replaces the current one only if its score beats the current label's by this much.
    switch_margin: Fraction = 0.1


class TemporalConfig(StrictModel):
    """The temporal model: each person's last second of pose and motion, as evidence for motion actions."""

    #: "default" (the bundled models/temporal_pose), "none" (image classifier alone), a name in models/, or a path.
    model: str = "default"
    #: Re-score each person every N processed frames (tracks are staggered across frames). 4 keeps a crowd of 35
    #: people at detector input 1280 within 10% of the fps without the temporal model; configs/cctv.yaml uses 2.
    every_n_frames: Annotated[int, Field(ge=1, le=1000)] = 4
    #: EMA weight of the newest temporal probability of a person.
    alpha: Annotated[float, Field(gt=0, le=1)] = 0.4
    #: How much of a motion action's score comes from the temporal model (the rest from the image classifier):
    #: score = w * temporal + (1 - w) * image. Until the temporal model has scored a person (seen on 4 frames),
    #: the temporal part is 0, which keeps short, spurious tracks quiet (cross-validated; docs/research/actions.md).
    #: 0.5: the best cross-validated fighting clip AUROC over the CCTV train/val groups (docs/research/actions.md).
    weight: Fraction = 0.5
    #: Per-action overrides of ``weight`` (e.g. ``{running: 0.5}``). Running is 1 by default: its temporal part
    #: is the kinematic running model (speed, steadiness and gait; ``running.json`` in the model folder), which
    #: beats the image classifier's photo-trained running score on real footage (docs/research/actions.md).
    action_weights: dict[str, Fraction] = Field(default_factory=lambda: {"running": 1.0})
    #: Measure running speed against the scene: follow the background from frame to frame (people masked out) and
    #: take a panning or tilting camera's motion out of each person's path. A fixed camera's correction stays 0.
    compensate_camera_motion: bool = True

    @field_validator("action_weights")
    @classmethod
    def _known_weight_actions(cls, weights: dict[str, float]) -> dict[str, float]:
        for action in weights:
            if action not in ALL_ACTIONS:
                raise ValueError(_unknown_action(action, ALL_ACTIONS))
        return weights

    def weight_of(self, action: str) -> float:
        """The temporal model's share of ``action``'s fused score."""
        return self.action_weights.get(action, self.weight)


class FallsConfig(StrictModel):
    """Person down: each tracked person's ``fallen`` evidence from their box and pose over time (a fast drop of the
    head ending lying low; har_stream.temporal.falls). A rule with ``actions: [fallen]`` alerts on it; its
    ``min_duration_s`` says how long the person must stay down first."""

    #: Judge falls at all (a few microseconds per person and frame).
    enabled: bool = True
    #: A fallen person counts as up again after standing upright this long.
    getting_up_s: PositiveSeconds = 1.0
    #: A fallen person the detector loses (people lying on the floor are hard to detect) is held as still down,
    #: at their last box, for this long unless seen getting up; 0: only people seen on the frame count.
    hold_unseen_s: Seconds = 30.0


class ZoneCalibration(StrictModel):
    """The real size of a four-corner zone on the ground: its first edge (corner 0 to 1) is ``width_m`` long,
    its second edge (corner 1 to 2) ``length_m``. Speeds inside it are then measured in metres per second."""

    width_m: Annotated[float, Field(gt=0, le=10_000, allow_inf_nan=False)]
    length_m: Annotated[float, Field(gt=0, le=10_000, allow_inf_nan=False)]


class ZoneConfig(StrictModel):
    """A named polygon; a person is in it when the bottom centre of their box is."""

    name: Name
    polygon: list[tuple[float, float]] = Field(min_length=3)
    #: "normalized" coordinates are fractions of width and height; "auto" picks normalized when every
    #: coordinate lies within [0, 1].
    units: Literal["auto", "pixels", "normalized"] = "auto"
    #: Optional ground size of a four-corner zone (e.g. ``{width_m: 8, length_m: 12}``): the tracker then measures
    #: each person's speed in metres per second through the zone's homography, for ``min_speed_mps`` rules.
    calibration: ZoneCalibration | None = None

    @field_validator("polygon")
    @classmethod
    def _simple_polygon(cls, points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        for i, (x, y) in enumerate(points):
            if not all(map(_finite, (x, y))):
                raise ValueError(f"point {i} ({x}, {y}) is not a finite number pair")
        if len(set(points)) < 3 or _collinear(points):
            raise ValueError("polygon has zero area (its points are collinear or repeated)")
        polygon = Polygon(points)
        reason = shapely.is_valid_reason(polygon)
        if reason != "Valid Geometry":
            raise ValueError(f"polygon is not simple: {reason.lower()} (edges must not cross or touch)")
        return points

    @model_validator(mode="after")
    def _coordinates_in_range(self) -> ZoneConfig:
        coords = [c for point in self.polygon for c in point]
        if self.units == "normalized" and not all(0 <= c <= 1 for c in coords):
            raise ValueError("normalized polygon coordinates must lie within [0, 1]")
        if self.units == "pixels" and any(c < 0 for c in coords):
            raise ValueError("pixel polygon coordinates must not be negative")
        if self.calibration is not None and len(self.polygon) != 4:
            raise ValueError(
                f"calibration needs a polygon of exactly 4 corners (the ground rectangle, in order), "
                f"not {len(self.polygon)}"
            )
        if self.units == "auto" and any(c < 0 for c in coords):
            raise ValueError("polygon coordinates must not be negative (the frame starts at 0, 0)")
        return self

    @property
    def is_normalized(self) -> bool:
        """Whether the polygon is given in fractions of the frame size."""
        return _normalized(self.units, self.polygon)


class LineConfig(StrictModel):
    """A named counting line: people are counted where their feet (the bottom centre of their box) cross it.

    Stand on the first point and look towards the second: people who cross from your left to your right are
    ``left_to_right``. On screen, a line drawn from left to right (first point on the left) has its left side
    above it, so ``left_to_right`` is moving down the screen; a line drawn top to bottom has its left side on the
    right of the screen, so ``left_to_right`` is moving leftwards.
    """

    name: Name
    #: The two ends of the line, ``[[x1, y1], [x2, y2]]``: pixels or fractions of the frame, as for zones.
    points: list[tuple[float, float]]
    #: "normalized" coordinates are fractions of width and height; "auto" picks normalized when every
    #: coordinate lies within [0, 1].
    units: Literal["auto", "pixels", "normalized"] = "auto"
    #: Which crossing counts as "in" (the other one counts as "out"); see above for the sides.
    in_direction: Literal["left_to_right", "right_to_left"] = "left_to_right"
    #: Hysteresis against jitter: a person is on a side of the line only once their feet are this far past it,
    #: as a fraction of their box height, so a person standing on the line is counted once, not on every wobble.
    margin: Annotated[float, Field(ge=0, le=2, allow_inf_nan=False)] = 0.15

    @field_validator("points")
    @classmethod
    def _two_points(cls, points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        if len(points) != 2:
            raise ValueError(f"a line needs exactly 2 points ([[x1, y1], [x2, y2]]), not {len(points)}")
        for i, (x, y) in enumerate(points):
            if not all(map(_finite, (x, y))):
                raise ValueError(f"point {i} ({x}, {y}) is not a finite number pair")
        if points[0] == points[1]:
            raise ValueError("the line's two points are the same point")
        return points

    @model_validator(mode="after")
    def _coordinates_in_range(self) -> LineConfig:
        coords = [c for point in self.points for c in point]
        if self.units == "normalized" and not all(0 <= c <= 1 for c in coords):
            raise ValueError("points: normalized line coordinates must lie within [0, 1]")
        if any(c < 0 for c in coords):
            raise ValueError("points: line coordinates must not be negative (the frame starts at 0, 0)")
        return self

    @property
    def is_normalized(self) -> bool:
        """Whether the points are given in fractions of the frame size."""
        return _normalized(self.units, self.points)


class CrossingConfig(StrictModel):
    """A rule's line condition: the person crossed this line on this frame (in this direction)."""

    #: Name of a line in ``lines``.
    line: Name
    #: "in" or "out" (the line's ``in_direction`` says which is which), or "any".
    direction: Literal["in", "out", "any"] = "any"


class ScheduleConfig(StrictModel):
    """When a rule is active, in local time. ``end`` before ``start`` spans midnight."""

    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        default_factory=lambda: list(WEEKDAYS), min_length=1
    )
    start: dt.time = dt.time(0, 0)
    #: Exclusive end; "24:00" means the end of the day.
    end: dt.time | Literal["24:00"] = "24:00"

    @field_validator("start", "end", mode="before")
    @classmethod
    def _time_as_text(cls, value: object) -> object:
        # YAML 1.1 reads an unquoted 8:00 as the number 480 (base 60); pydantic would take it as seconds.
        if isinstance(value, int | float):
            raise ValueError(
                'write times as quoted "HH:MM" text, e.g. "08:00"; YAML reads an unquoted 8:00 as a number'
            )
        return value

    @field_validator("start", "end")
    @classmethod
    def _local_time(cls, value: dt.time | str) -> dt.time | str:
        if isinstance(value, dt.time) and value.tzinfo is not None:
            raise ValueError("schedule times are local times; remove the UTC offset")
        return value

    @field_validator("days")
    @classmethod
    def _unique_days(cls, days: list[str]) -> list[str]:
        if len(set(days)) != len(days):
            raise ValueError("days are listed more than once")
        return days

    @model_validator(mode="after")
    def _non_empty(self) -> ScheduleConfig:
        if self.end != "24:00" and self.end == self.start:
            raise ValueError("start and end are equal, so the schedule is never active")
        return self


class RuleConfig(StrictModel):
    """Which actions are flagged, where, when, and for how long before an alert starts."""

    name: Name
    #: Action names (see ``har_stream.actions.RULE_ACTIONS``: the classifier's actions and ``fallen``), "unknown",
    #: or "*" for any.
    actions: list[str] = Field(min_length=1)
    #: Lowest evidence for the rule's action (its column of the per-person scores) that counts as showing it.
    min_confidence: Fraction = 0.5
    #: The condition must hold this long before the alert starts.
    min_duration_s: Seconds = 0.0
    #: ... and must stop holding for this long before the alert ends (stops flapping).
    end_grace_s: Seconds = 0.5
    #: Optional motion condition, in box heights per second (walking is roughly 0.3 to 1.5).
    min_speed: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    max_speed: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    #: Optional ground speed condition in metres per second (walking is about 1.4, running 2.5 or more). Only
    #: people standing in a zone with ``calibration`` have a ground speed; elsewhere the condition does not hold.
    min_speed_mps: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    max_speed_mps: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    #: Names of zones the person must be in (any of them); empty means anywhere.
    zones: list[Name] = Field(default_factory=list)
    #: Optional line condition, e.g. ``{line: gate, direction: in}``: the condition holds on the frame a person's
    #: feet cross the line (in that direction), so each crossing starts one alert (``min_duration_s`` must be 0).
    crossing: CrossingConfig | None = None
    #: At least this many people on the same frame must meet the condition (in the rule's zones) for it to hold
    #: for any of them: 2 for fighting means one person alone, however they score, never raises a fight alert.
    min_people: Annotated[int, Field(ge=1, le=1000)] = 1
    schedule: ScheduleConfig | None = None
    #: After an alert of this rule for a track ends, the same track cannot raise it again for this long.
    cooldown_s: Seconds = 30.0
    #: Carried by the alert; of several active rules, the most severe one names a flagged person.
    severity: Literal["info", "low", "medium", "high", "critical"] = "medium"

    @field_validator("actions")
    @classmethod
    def _known_actions(cls, actions: list[str]) -> list[str]:
        allowed = (*RULE_ACTIONS, UNKNOWN_ACTION, ANY_ACTION)
        for i, action in enumerate(actions):
            if action not in allowed:
                raise ValueError(
                    f"item {i}: {_unknown_action(action, allowed, RULE_ACTIONS)}, {UNKNOWN_ACTION}, or '*' for any"
                )
        if len(set(actions)) != len(actions):
            raise ValueError("actions are listed more than once")
        return actions

    @model_validator(mode="after")
    def _speeds_ordered(self) -> RuleConfig:
        if self.min_speed is not None and self.max_speed is not None and self.max_speed < self.min_speed:
            raise ValueError(f"max_speed ({self.max_speed}) is below min_speed ({self.min_speed})")
        low, high = self.min_speed_mps, self.max_speed_mps
        if low is not None and high is not None and high < low:
            raise ValueError(f"max_speed_mps ({high}) is below min_speed_mps ({low})")
        if self.crossing is not None and self.min_duration_s > 0:
            raise ValueError(
                f"min_duration_s ({self.min_duration_s}) must be 0 for a rule with crossing: a crossing lasts one frame"
            )
        return self


class RenderConfig(StrictModel):
    """How the overlay looks, and when it names a person's action."""

    #: Box colour of flagged people (#RRGGBB).
    flagged_color: Annotated[str, Field(pattern=r"^#[0-9A-Fa-f]{6}$")] = "#FF0000"
    #: Box colour of everyone else.
    normal_color: Annotated[str, Field(pattern=r"^#[0-9A-Fa-f]{6}$")] = "#00C800"
    #: Outline colour of zones.
    zone_color: Annotated[str, Field(pattern=r"^#[0-9A-Fa-f]{6}$")] = "#FFC800"
    #: Draw the zones on the frame.
    draw_zones: bool = True
    #: Show fps, people and active alerts in the top-left corner.
    show_hud: bool = True
    #: Box line width in pixels.
    box_thickness: Annotated[int, Field(ge=1, le=20)] = 2
    #: Label text size.
    text_scale: Annotated[float, Field(gt=0, le=5)] = 0.5
    #: A person is shown with an action (box label, and the alerts of "*" rules) only when the evidence for it,
    #: the calibrated score rules compare with ``min_confidence``, reaches this; otherwise with the best of
    #: walking / standing / other when the classifier has them, else with the track id alone.
    min_label_confidence: Fraction = 0.6


class OutputConfig(StrictModel):
    """Where results go. Command-line options override these."""

    #: Annotated H.264 .mp4 export.
    video: Path | None = None
    #: Events JSONL: alert start/end and camera health, one JSON object per line.
    events: Path | None = None
    #: Folder for one JPEG per alert; default: ``<events file stem>_snapshots`` beside the events file.
    snapshots: Path | None = None
    #: Open a live window.
    show: bool = False
    #: x264 quality (lower is better, 18 to 28 is typical) and speed preset. ultrafast costs about a third of
    #: veryfast's CPU per 720p frame for roughly twice the file size (see docs/research/performance.md).
    video_crf: Annotated[int, Field(ge=0, le=51)] = 23
    video_preset: Literal[
        "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"
    ] = "ultrafast"


class PrivacyMaskConfig(StrictModel):
    """A named polygon hidden in every picture har-stream writes or shows (export, snapshots, clips, live view,
    window). Its corners are written as a zone's are; the detector, tracker and classifiers still see the real
    frame, so a person behind the mask is tracked, and their box and label are drawn over it."""

    name: Name
    #: Corners, at least three, in order (edges must not cross), as ``[x, y]`` pairs, like a zone's polygon.
    polygon: list[tuple[float, float]] = Field(min_length=3)
    #: "normalized" coordinates are fractions of width and height; "auto" picks normalized when every
    #: coordinate lies within [0, 1].
    units: Literal["auto", "pixels", "normalized"] = "auto"

    @field_validator("polygon")
    @classmethod
    def _simple_polygon(cls, points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        return ZoneConfig._simple_polygon(points)  # the same checks, and messages, as a zone's polygon

    @model_validator(mode="after")
    def _coordinates_in_range(self) -> PrivacyMaskConfig:
        ZoneConfig.model_construct(polygon=self.polygon, units=self.units, calibration=None)._coordinates_in_range()
        return self

    @property
    def is_normalized(self) -> bool:
        """Whether the polygon is given in fractions of the frame size."""
        return _normalized(self.units, self.polygon)


class PrivacyConfig(StrictModel):
    """Privacy masks: regions (a neighbour's window, a keypad, a street) blacked out or blurred in every output,
    after detection, tracking, classification and rules have seen the real frame and before the overlay is drawn."""

    #: The regions to hide, e.g. ``{name: window, polygon: [[0.6, 0.1], [0.9, 0.1], [0.9, 0.4], [0.6, 0.4]]}``.
    masks: list[PrivacyMaskConfig] = Field(default_factory=list)
    #: black fills each mask with black; blur replaces it with a coarse blur (cells of about 1/30 of the frame's
    #: long side: shapes and colours remain, faces and text do not).
    style: Literal["black", "blur"] = "black"


class HarStreamConfig(StrictModel):
    """Everything one camera needs: source, models, rules, overlay and outputs."""

    camera: Name = "default"
    source: SourceConfig = SourceConfig()
    detector: DetectorConfig = DetectorConfig()
    tracker: TrackerConfig = TrackerConfig()
    classifier: ClassifierConfig = ClassifierConfig()
    smoothing: SmoothingConfig = SmoothingConfig()
    temporal: TemporalConfig = TemporalConfig()
    falls: FallsConfig = FallsConfig()
    zones: list[ZoneConfig] = Field(default_factory=list)
    #: Counting lines: people crossing each one are counted in and out, for ``crossing`` rules and the counts.
    lines: list[LineConfig] = Field(default_factory=list)
    rules: list[RuleConfig] = Field(default_factory=list)
    render: RenderConfig = RenderConfig()
    output: OutputConfig = OutputConfig()
    privacy: PrivacyConfig = PrivacyConfig()

    @model_validator(mode="after")
    def _names_consistent(self) -> HarStreamConfig:
        _require_unique([z.name for z in self.zones], "zones", "zone")
        _require_unique([r.name for r in self.rules], "rules", "rule")
        _require_unique([m.name for m in self.privacy.masks], "privacy.masks", "mask")
        zone_names = {z.name for z in self.zones}
        for i, rule in enumerate(self.rules):
            for j, zone in enumerate(rule.zones):
                if zone not in zone_names:
                    known = ", ".join(sorted(zone_names)) or "none defined"
                    raise ValueError(
                        f"rules[{i}].zones[{j}]: zone {zone!r} is not defined"
                        f"{_closest(zone, zone_names)} (zones: {known})"
                    )
        _require_unique([line.name for line in self.lines], "lines", "line")
        line_names = {line.name for line in self.lines}
        for i, rule in enumerate(self.rules):
            if rule.crossing is not None and rule.crossing.line not in line_names:
                name = rule.crossing.line
                known = ", ".join(sorted(line_names)) or "none defined"
                raise ValueError(
                    f"rules[{i}].crossing.line: line {name!r} is not defined"
                    f"{_closest(name, line_names)} (lines: {known})"
                )
        return self


def _normalized(units: str, points: list[tuple[float, float]]) -> bool:
    """Whether ``points`` are fractions of the frame: ``units`` says so, or with "auto" every coordinate is in
    [0, 1] (zones, privacy masks and lines alike)."""
    if units == "auto":
        return all(0 <= c <= 1 for point in points for c in point)
    return units == "normalized"


def _require_unique(names: list[str], field: str, what: str) -> None:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            raise ValueError(f"{field}[{i}].name: {what} name {name!r} is used more than once")
        seen.add(name)


def _unknown_action(action: str, allowed: tuple[str, ...], known: tuple[str, ...] = ALL_ACTIONS) -> str:
    """The message for an action name not in ``allowed``: the closest known one, then every ``known`` action."""
    return f"unknown action {action!r}{_closest(action, allowed)}; known actions: {', '.join(known)}"


def _closest(word: str, options: object) -> str:
    import difflib

    matches = difflib.get_close_matches(str(word), [str(o) for o in options], n=1)  # type: ignore[attr-defined]
    return f" (did you mean {matches[0]!r}?)" if matches else ""


def _finite(value: float) -> bool:
    return value == value and value not in (float("inf"), float("-inf"))


def _collinear(points: list[tuple[float, float]]) -> bool:
    offsets = np.asarray(points, dtype=np.float64) - np.asarray(points[0], dtype=np.float64)
    return int(np.linalg.matrix_rank(offsets, tol=1e-9)) < 2
