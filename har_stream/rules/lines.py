"""Counting lines in frame pixels, and where each person's feet (the bottom centre of their box) lie from them."""

from __future__ import annotations

import numpy as np

from har_stream.config.schema import LineConfig
from har_stream.rules.zones import frame_points

#: Sides of a line, as seen standing on its first point looking towards its second; NEITHER: on or near the line
#: (closer than the margin); BEYOND: past one of its ends.
LEFT, RIGHT, NEITHER, BEYOND = -1, 1, 0, 2


class LineSet:
    """The configured lines scaled to one frame size."""

    def __init__(self, lines: list[LineConfig], width: int, height: int) -> None:
        self.width = width
        self.height = height
        self.configs = lines
        self.ends: dict[str, np.ndarray] = {}  # name -> (2, 2) pixel end points
        for i, line in enumerate(lines):
            what = f"lines[{i}] ({line.name!r})"
            self.ends[line.name] = frame_points(line.points, line.is_normalized, width, height, what)

    def sides(self, name: str, xyxy: np.ndarray, margin: float) -> np.ndarray:
        """Per box, the side of line ``name`` its feet are on: LEFT or RIGHT once they are at least ``margin`` box
        heights past the line, NEITHER while closer than that, BEYOND when they are past either end of the line."""
        if len(xyxy) == 0:
            return np.zeros(0, dtype=np.int8)
        (ax, ay), (bx, by) = self.ends[name]
        feet_x = (xyxy[:, 0] + xyxy[:, 2]) / 2
        feet_y = xyxy[:, 3]
        dx, dy = bx - ax, by - ay
        length = float(np.hypot(dx, dy))
        # Image y points down, so a positive cross product is on the right of the walk from a to b.
        distance = (dx * (feet_y - ay) - dy * (feet_x - ax)) / length
        along = (dx * (feet_x - ax) + dy * (feet_y - ay)) / length**2  # 0 at a, 1 at b
        past = np.abs(distance) >= margin * (xyxy[:, 3] - xyxy[:, 1])
        within = (along >= 0) & (along <= 1)
        side = np.where(distance > 0, RIGHT, LEFT).astype(np.int8)
        return np.where(within, np.where(past, side, NEITHER), BEYOND).astype(np.int8)
