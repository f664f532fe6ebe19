"""Ground-plane positions for calibrated zones: a four-corner zone of known size on the floor defines the
homography from image pixels to metres, so speed can be measured in metres per second whatever the camera angle."""

from __future__ import annotations

import cv2
import numpy as np

from har_stream.config.schema import ZoneConfig
from har_stream.rules.zones import ZoneSet


class GroundPlane:
    """The calibrated zones of a camera, scaled to one frame size."""

    def __init__(self, zones: list[ZoneConfig], width: int, height: int) -> None:
        self.width, self.height = width, height
        calibrated = [z for z in zones if z.calibration is not None]
        pixels = ZoneSet(calibrated, width, height).polygons if calibrated else {}
        self._zones: list[tuple[str, np.ndarray, float, float]] = []
        for zone in calibrated:
            assert zone.calibration is not None
            w, length = zone.calibration.width_m, zone.calibration.length_m
            corners = np.float32(pixels[zone.name])
            ground = np.float32([[0, 0], [w, 0], [w, length], [0, length]])
            self._zones.append((zone.name, cv2.getPerspectiveTransform(corners, ground), w, length))

    def __bool__(self) -> bool:
        return bool(self._zones)

    def to_metres(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ground coordinates (N, 2) in metres of image points (N, 2), and the index of the calibrated zone each
        lies in (-1 and NaN coordinates for points outside every calibrated zone)."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        out = np.full((len(points), 2), np.nan)
        zone_of = np.full(len(points), -1, dtype=int)
        for index, (_, homography, w, length) in enumerate(self._zones):
            mapped = cv2.perspectiveTransform(points[None].astype(np.float32), homography)[0].astype(np.float64)
            eps = 1e-6 * max(w, length)
            inside = (
                (zone_of < 0)
                & (mapped[:, 0] >= -eps)
                & (mapped[:, 0] <= w + eps)
                & (mapped[:, 1] >= -eps)
                & (mapped[:, 1] <= length + eps)
            )
            out[inside] = mapped[inside]
            zone_of[inside] = index
        return out, zone_of

    def speed_mps(self, start: np.ndarray, end: np.ndarray, seconds: float) -> float:
        """Ground speed between two image points ``seconds`` apart (NaN unless both lie in one calibrated zone)."""
        if seconds <= 0:
            return float("nan")
        metres, zone = self.to_metres(np.stack([start, end]))
        if zone[0] < 0 or zone[0] != zone[1]:
            return float("nan")
        return float(np.linalg.norm(metres[1] - metres[0]) / seconds)
