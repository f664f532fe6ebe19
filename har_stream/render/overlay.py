"""Draw people (flagged red, others green), zones, counting lines and a small HUD with supervision annotators."""

from __future__ import annotations

import numpy as np
import supervision as sv

from har_stream.actions import BACKGROUND_ACTIONS, FALLEN, UNKNOWN_ACTION
from har_stream.config.schema import LineConfig, RenderConfig, ZoneConfig
from har_stream.frame import DISPLAY_CONFIDENCE, DISPLAY_LABEL, DOWN_SECONDS, FLAGGED, UNSEEN, FrameRecord
from har_stream.rules.lines import LineSet
from har_stream.rules.zones import ZoneSet

NORMAL, FLAGGED_INDEX = 0, 1


def person_labels(detections: sv.Detections) -> list[str]:
    """Each person's box label, from ``data['display_label']`` (chosen once a frame by ``render.labels``):
    ``#id action evidence`` for an action the evidence supports, ``#id walking`` (standing, other) for an ordinary
    person, ``#id fallen 12 s`` for a person down (how long, from ``data['down_s']``; ``#id fallen 12 s, unseen``
    where the detector lost them and the fall stage holds them at their last box), ``#id`` alone for ``unknown``
    (not classified yet, or nothing the evidence supports) and for records never labelled."""
    n = len(detections)
    shown = detections.data.get(DISPLAY_LABEL, np.full(n, UNKNOWN_ACTION, dtype=object))
    evidence = detections.data.get(DISPLAY_CONFIDENCE, np.zeros(n, dtype=np.float32))
    down_s = detections.data.get(DOWN_SECONDS, np.full(n, np.nan, dtype=np.float32))
    unseen = detections.data.get(UNSEEN, np.zeros(n, dtype=bool))
    labels = []
    for track_id, label, score, down, lost in zip(detections.tracker_id, shown, evidence, down_s, unseen, strict=True):
        text = f"#{int(track_id)}"
        if label == FALLEN and np.isfinite(down):
            text += f" {label} {int(down)} s" + (", unseen" if lost else "")
        elif label in BACKGROUND_ACTIONS:
            text += f" {label}"
        elif label != UNKNOWN_ACTION:
            text += f" {label} {float(score):.2f}"
        labels.append(text)
    return labels


class OverlayRenderer:
    """Annotates frames in place: boxes and labels, zones, counting lines, HUD."""

    def __init__(self, config: RenderConfig, zones: list[ZoneConfig], lines: list[LineConfig] | None = None) -> None:
        self.config = config
        self.zone_configs = zones
        self.line_configs = lines or []
        palette = sv.ColorPalette([sv.Color.from_hex(config.normal_color), sv.Color.from_hex(config.flagged_color)])
        self.zone_color = sv.Color.from_hex(config.zone_color)
        self.flagged_color = sv.Color.from_hex(config.flagged_color)
        self.boxes = sv.BoxAnnotator(color=palette, thickness=config.box_thickness)
        self.labels = sv.LabelAnnotator(
            color=palette,
            text_color=sv.Color.WHITE,
            text_scale=config.text_scale,
            text_padding=4,
            text_position=sv.Position.TOP_LEFT,
        )
        self._zone_set: ZoneSet | None = None
        self._line_set: LineSet | None = None

    def annotate(self, scene: np.ndarray, detections: sv.Detections) -> np.ndarray:
        """Draw zones, then each person's box and label; flagged people in the flagged colour."""
        if self.config.draw_zones and self.zone_configs:
            self._draw_zones(scene)
        if len(detections):
            flagged = detections.data.get(FLAGGED, np.zeros(len(detections), dtype=bool))
            lookup = np.where(flagged, FLAGGED_INDEX, NORMAL).astype(np.int64)
            self.boxes.annotate(scene, detections, custom_color_lookup=lookup)
            self.labels.annotate(scene, detections, labels=person_labels(detections), custom_color_lookup=lookup)
        return scene

    def _draw_zones(self, scene: np.ndarray) -> None:
        height, width = scene.shape[:2]
        if self._zone_set is None or (self._zone_set.width, self._zone_set.height) != (width, height):
            self._zone_set = ZoneSet(self.zone_configs, width, height)
        for name, polygon in self._zone_set.polygons.items():
            sv.draw_polygon(scene, polygon, self.zone_color, thickness=self.config.box_thickness)
            x, y = polygon.min(axis=0)
            sv.draw_text(
                scene,
                name,
                sv.Point(int(x) + 40, int(y) + 14),
                text_color=sv.Color.BLACK,
                text_scale=self.config.text_scale,
                text_padding=3,
                background_color=self.zone_color,
            )

    def draw_lines(self, scene: np.ndarray, counts: dict[str, dict[str, int]]) -> np.ndarray:
        """Each counting line, thin, in the zone colour, with a short tick towards its "in" side and its name and
        in / out counts by its first point."""
        height, width = scene.shape[:2]
        if self._line_set is None or (self._line_set.width, self._line_set.height) != (width, height):
            self._line_set = LineSet(self.line_configs, width, height)
        for line in self.line_configs:
            a, b = self._line_set.ends[line.name]
            start, end = sv.Point(int(a[0]), int(a[1])), sv.Point(int(b[0]), int(b[1]))
            sv.draw_line(scene, start, end, self.zone_color, thickness=2)
            # the tick points to the side people come into when they count as "in"
            normal = np.array([-(b[1] - a[1]), b[0] - a[0]]) / max(float(np.hypot(*(b - a))), 1e-9)
            if line.in_direction == "right_to_left":
                normal = -normal
            middle = (a + b) / 2
            tip = middle + 12 * normal
            sv.draw_line(
                scene, sv.Point(int(middle[0]), int(middle[1])), sv.Point(int(tip[0]), int(tip[1])), self.zone_color, 2
            )
            count = counts.get(line.name, {})
            sv.draw_text(
                scene,
                f"{line.name} in {count.get('in', 0)} out {count.get('out', 0)}",
                sv.Point(int(a[0]) + 50, int(a[1]) - 12),
                text_color=sv.Color.BLACK,
                text_scale=self.config.text_scale,
                text_padding=3,
                background_color=self.zone_color,
            )
        return scene

    def draw_hud(self, scene: np.ndarray, fps: float, people: int, alerts: int) -> np.ndarray:
        """Top-left panel with processing fps, people in view and active alerts."""
        lines = [f"fps {fps:4.1f}", f"people {people}", f"alerts {alerts}"]
        y = 8
        for line in lines:
            sv.draw_text(
                scene,
                line,
                sv.Point(60, y + 10),
                text_color=sv.Color.WHITE,
                text_scale=self.config.text_scale,
                text_padding=4,
                background_color=sv.Color.from_hex("#FF0000")
                if line.startswith("alerts") and alerts
                else sv.Color.BLACK,
            )
            y += int(28 * self.config.text_scale / 0.5)
        return scene

    def __call__(self, record: FrameRecord, fps: float = 0.0) -> FrameRecord:
        """Pipeline stage: annotate ``record.image`` in place."""
        self.annotate(record.image, record.detections)
        if self.config.draw_zones and self.line_configs:
            self.draw_lines(record.image, record.line_counts)
        if self.config.show_hud:
            self.draw_hud(record.image, fps, len(record.detections), record.active_alerts)
        return record
