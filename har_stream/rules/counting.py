"""The count stage: people crossing each counting line (in and out, since the run started) and people in each
zone now. It is the one owner of line crossings: rules read them from ``record.crossings``."""

from __future__ import annotations

from har_stream.config.schema import LineConfig, ZoneConfig
from har_stream.frame import Crossing, FrameRecord
from har_stream.rules.lines import BEYOND, LEFT, NEITHER, RIGHT, LineSet
from har_stream.rules.zones import ZoneSet

IN, OUT = "in", "out"


class LineCounter:
    """Counts line crossings with hysteresis, and zone occupancy.

    Each track remembers the last side of each line its feet were clearly on (at least ``margin`` box heights
    past the line, between the line's ends). A crossing is a change from one clear side to the other; the
    frames in between, on or near the line, change nothing, so a person jittering on the line counts once, and a
    person walking round the end of a line does not count (beyond the ends, the remembered side is forgotten).
    A new track's first clear side is where it starts: it has crossed nothing yet.
    """

    def __init__(self, lines: list[LineConfig], zones: list[ZoneConfig]) -> None:
        self.lines = lines
        self.zones = zones
        self.counts: dict[str, dict[str, int]] = {line.name: {IN: 0, OUT: 0} for line in lines}
        self._sides: dict[tuple[int, str], int] = {}  # (track, line) -> LEFT or RIGHT
        self._line_set: LineSet | None = None
        self._zone_set: ZoneSet | None = None

    def _geometry(self, record: FrameRecord) -> tuple[LineSet, ZoneSet]:
        size = (record.width, record.height)
        if self._line_set is None or (self._line_set.width, self._line_set.height) != size:
            self._line_set = LineSet(self.lines, *size)
        if self._zone_set is None or (self._zone_set.width, self._zone_set.height) != size:
            self._zone_set = ZoneSet(self.zones, *size)
        return self._line_set, self._zone_set

    def forget(self, track_ids: list[int]) -> None:
        """Drop the remembered sides of tracks that ended."""
        ended = set(track_ids)
        for key in [k for k in self._sides if k[0] in ended]:
            del self._sides[key]

    def __call__(self, record: FrameRecord) -> FrameRecord:
        """Pipeline stage: set ``record.crossings``, ``record.line_counts`` and ``record.zone_occupancy``."""
        self.forget(record.ended_tracks)
        if not self.lines and not self.zones:
            return record
        lines, zones = self._geometry(record)
        detections = record.detections
        ids = [int(t) for t in detections.tracker_id] if detections.tracker_id is not None else []
        for line in self.lines:
            sides = lines.sides(line.name, detections.xyxy, line.margin)
            for track_id, side in zip(ids, sides.tolist(), strict=True):
                key = (track_id, line.name)
                before = self._sides.get(key)
                if side == BEYOND:  # walking round the end of the line is no crossing
                    self._sides.pop(key, None)
                    continue
                if side == NEITHER:  # on the line: wait until the feet are clearly on one side
                    continue
                self._sides[key] = side
                if before is not None and before != side:
                    direction = _direction(line, before, side)
                    self.counts[line.name][direction] += 1
                    record.crossings.append(Crossing(track_id, line.name, direction))
        record.line_counts = {name: dict(counts) for name, counts in self.counts.items()}
        membership = zones.membership(detections)
        record.zone_occupancy = {zone.name: int(membership[zone.name].sum()) for zone in self.zones}
        return record


def _direction(line: LineConfig, before: int, after: int) -> str:
    """ "in" or "out" for a move from side ``before`` to side ``after`` of ``line``."""
    left_to_right = before == LEFT and after == RIGHT
    return IN if left_to_right == (line.in_direction == "left_to_right") else OUT
