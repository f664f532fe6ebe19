"""Zones in frame pixels, and which zone each person stands in (judged at the box's bottom centre)."""

from __future__ import annotations

import numpy as np
import supervision as sv

from har_stream.config.schema import PrivacyMaskConfig, ZoneConfig


class ZoneError(ValueError):
    """A zone does not fit the frame it is applied to."""


def frame_points(points: list[tuple[float, float]], normalized: bool, width: int, height: int, what: str) -> np.ndarray:
    """``points`` in pixels of a ``width`` x ``height`` frame, as an (N, 2) float array: normalized ones scaled to
    the frame; pixel ones beyond it raise :class:`ZoneError` naming ``what`` (e.g. ``zones[0] ('door')``)."""
    scaled = np.array(points, dtype=np.float64)
    if normalized:
        return scaled * [width - 1, height - 1]
    outside = (scaled[:, 0] > width) | (scaled[:, 1] > height)
    if outside.any():
        x, y = scaled[int(np.argmax(outside))]
        raise ZoneError(
            f"{what}: point ({x:g}, {y:g}) lies outside the {width}x{height} frame; "
            "use pixel coordinates inside the frame or normalized ones (0 to 1)"
        )
    return scaled


def frame_polygon(zone: ZoneConfig | PrivacyMaskConfig, width: int, height: int, field: str) -> np.ndarray:
    """``zone``'s polygon in pixels of a ``width`` x ``height`` frame, as an (N, 2) int64 array (see
    :func:`frame_points`)."""
    points = frame_points(zone.polygon, zone.is_normalized, width, height, f"{field} ({zone.name!r})")
    return np.round(points).astype(np.int64)


class ZoneSet:
    """The configured zones scaled to one frame size."""

    def __init__(self, zones: list[ZoneConfig], width: int, height: int) -> None:
        self.width = width
        self.height = height
        self.configs = zones
        self.polygons: dict[str, np.ndarray] = {}
        self._zones: dict[str, sv.PolygonZone] = {}
        for i, zone in enumerate(zones):
            polygon = frame_polygon(zone, width, height, f"zones[{i}]")
            self.polygons[zone.name] = polygon
            self._zones[zone.name] = sv.PolygonZone(polygon, triggering_anchors=(sv.Position.BOTTOM_CENTER,))

    def membership(self, detections: sv.Detections) -> dict[str, np.ndarray]:
        """For each zone name, a boolean per detection: is its bottom centre inside the zone?"""
        if len(detections) == 0:
            return {name: np.zeros(0, dtype=bool) for name in self._zones}
        return {name: zone.trigger(detections) for name, zone in self._zones.items()}
