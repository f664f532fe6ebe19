"""Person down: a fall seen in each tracked person's box and pose, and how long they have stayed down.

A fall is mostly geometry over time, so this is a small state machine over physical measurements, not a
learned model (there are few fall clips to learn from, and thresholds in body heights and seconds carry
over to other cameras):

1. **Upright**: the box is narrower than ``upright_aspect`` body heights, the torso (shoulders' midpoint to hips'
   midpoint) leans less than ``upright_angle`` degrees from vertical where it is seen, and the body is at least
   ``crouch_height`` of the tallest upright height of the last seconds (else the person crouches or sits).
2. **Lying**: the box's vertical extent is at most ``down_height`` of that upright height and its width at least
   ``lying_width`` of it (bending over, seen from the side, stays narrow), and the box is wider than tall or the
   torso leans past ``lying_angle`` degrees.
3. **A fall**: lying for ``settle_s``, having been upright at most ``fall_within_s`` before going down, with the
   top of the box (the head) ending at least ``min_drop`` upright heights lower than it was then. Lying down
   slowly does not count, nor does lying down from a seat low enough to count as crouched, nor lying from the
   start of a track (someone already in bed).
4. **Fallen**: from the fall on, until the person is upright again for ``getting_up_s``; the evidence is the
   share of the last ``recent_s`` seconds they spent down.
5. **Unseen**: a person lying on the floor is the hardest pose for a person detector, and it often loses them
   a moment after the fall. A fallen person who goes unseen is held as still down, at their last box, for up to
   ``hold_unseen_s`` (:meth:`FallWatch.held`): nobody saw them get up. Not when their last box touched the
   frame's edge while still moving: they may have left the picture. The hold ends when a track is seen again
   there (the same one re-found, or a new one taking its history over) and is upright for ``getting_up_s``.

All lengths are in the person's own upright height (the box height, or the height implied by the torso where
that is taller: a box cut by the frame edge), so nothing depends on the resolution or the distance.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from har_stream.temporal.history import MIN_KEYPOINT_CONF
from har_stream.temporal.running import EDGE_PX, TORSO_SHARE, touches_edge

_SHOULDERS, _HIPS = (5, 6), (11, 12)


@dataclass(frozen=True)
class FallSettings:
    """The thresholds of :class:`FallWatch` (lengths in upright body heights, times in seconds)."""

    upright_aspect: float = 0.75
    upright_angle: float = 35.0
    lying_width: float = 0.5
    lying_angle: float = 60.0
    down_height: float = 0.6
    crouch_height: float = 0.6
    fall_within_s: float = 2.5
    min_drop: float = 0.45
    getting_up_s: float = 1.0
    settle_s: float = 0.15
    recent_s: float = 0.5
    memory_s: float = 4.0
    handover_s: float = 2.0
    hold_unseen_s: float = 30.0
    edge_still_s: float = 0.5
    edge_still_drift: float = 0.15


@dataclass
class _Posture:
    """One frame of one track: time, box, body height (box or torso), torso angle from vertical (NaN: unseen)."""

    t: float
    box: np.ndarray
    body: float
    angle: float
    upright: bool = False  # judged on arrival, against the track's upright height then
    down: bool = False

    @property
    def top(self) -> float:
        return float(self.box[1])

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0])

    @property
    def extent(self) -> float:
        """The box's vertical extent (a lying person's is small; their body height is not)."""
        return float(self.box[3] - self.box[1])


@dataclass
class _Track:
    frames: deque[_Posture] = field(default_factory=deque)
    upright_height: float = float("nan")  # the body height when last upright
    down_since: float | None = None  # when the fall ended on the floor; None: not fallen

    @property
    def fallen(self) -> bool:
        return self.down_since is not None

    @property
    def last(self) -> _Posture:
        return self.frames[-1]


def _overlap(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two boxes (x1, y1, x2, y2) share some area."""
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


def postures(boxes: np.ndarray, keypoints: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Per person: the body height (box height, or torso / ``TORSO_SHARE`` when taller) and the torso's angle
    from vertical in degrees, over 90 when the head is below the hips (NaN where a shoulder or hip is unseen)."""
    boxes = np.asarray(boxes, dtype=np.float64)
    height = boxes[:, 3] - boxes[:, 1]
    angle = np.full(len(boxes), np.nan)
    if keypoints is not None and len(keypoints):
        kp = np.asarray(keypoints, dtype=np.float64)
        joints = list(_SHOULDERS + _HIPS)
        seen = (kp[:, joints, 2] >= MIN_KEYPOINT_CONF).all(axis=1)
        shoulders = kp[:, _SHOULDERS, :2].mean(axis=1)
        hips = kp[:, _HIPS, :2].mean(axis=1)
        dx, dy = shoulders[:, 0] - hips[:, 0], hips[:, 1] - shoulders[:, 1]
        torso = np.hypot(dx, dy)
        angle = np.where(seen & (torso > 0), np.degrees(np.arctan2(np.abs(dx), dy)), np.nan)
        height = np.where(seen, np.maximum(height, torso / TORSO_SHARE), height)
    return np.maximum(height, 1.0), angle


class FallWatch:
    """Per track: whether the person fell and is still down, and since when (see the module docstring).

    A fall often breaks the tracker's identity (the box changes shape at once, and the person may go unseen for
    a moment): a new track that starts within ``handover_s`` of another one's last frame, overlapping its last
    box, takes over that track's posture history.
    """

    def __init__(self, settings: FallSettings | None = None) -> None:
        self.settings = settings or FallSettings()
        self._tracks: dict[int, _Track] = {}

    def __len__(self) -> int:
        return len(self._tracks)

    def forget(self, track_ids: list[int]) -> None:
        """Drop these tracks' histories now, and every fallen person held unseen (a camera that went down: its
        tracks are over, and nobody is known to be down any more). Tracks the tracker ends on a running camera need
        not be passed: they are dropped ``handover_s`` after their last frame (``hold_unseen_s`` if fallen), and
        until then a new track may take their history over."""
        for tid in track_ids:
            self._tracks.pop(int(tid), None)
        for tid in [k for k, tr in self._tracks.items() if tr.fallen]:
            del self._tracks[tid]

    def update(
        self, t: float, track_ids: np.ndarray, boxes: np.ndarray, keypoints: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Add one frame's people; return each one's fallen evidence in [0, 1] and seconds down (NaN: not down)."""
        heights, angles = postures(boxes, keypoints)
        scores = np.zeros(len(track_ids), dtype=np.float32)
        seconds = np.full(len(track_ids), np.nan, dtype=np.float32)
        current = {int(tid) for tid in track_ids}
        for i, track_id in enumerate(track_ids):
            tid = int(track_id)
            box = np.asarray(boxes[i], dtype=np.float64)
            track = self._tracks.get(tid)
            if track is None:
                track = self._tracks[tid] = self._take_over(t, box, current) or _Track()
            scores[i], seconds[i] = self._step(track, _Posture(float(t), box, float(heights[i]), float(angles[i])))
        self._prune(t)
        return scores, seconds

    def held(
        self, t: float, frame_width: float, frame_height: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The fallen people the detector lost, held as still down (call after :meth:`update` for time ``t``):
        their track ids, last boxes, fallen evidence (as when last seen) and seconds down, oldest first. Someone
        whose last box touched the frame's edge is held only if their box was still over their last
        ``edge_still_s`` seen (its top moved under ``edge_still_drift`` upright heights): otherwise they may have
        walked out of the picture (a person leaving through the bottom edge shrinks to a wide, low box whose top
        drops, like a fall)."""
        hold = self.settings.hold_unseen_s
        tracks = [
            (tid, tr)
            for tid, tr in self._tracks.items()
            if tr.fallen
            and 0 < t - tr.last.t <= hold
            and (not touches_edge(tr.last.box, frame_width, frame_height)[0] or self._came_to_rest(tr))
        ]
        ids = np.array([tid for tid, _ in tracks], dtype=int)
        boxes = np.array([tr.last.box for _, tr in tracks], dtype=np.float32).reshape(-1, 4)
        evidence = np.array([self._evidence(tr) for _, tr in tracks], dtype=np.float32)
        seconds = np.array([t - tr.down_since for _, tr in tracks], dtype=np.float32)  # type: ignore[operator]
        return ids, boxes, evidence, seconds

    def _came_to_rest(self, track: _Track) -> bool:
        """Whether the top of the track's box moved less than ``edge_still_drift`` upright heights over its last
        ``edge_still_s`` seen (and it was seen that long)."""
        s = self.settings
        recent = self._last(track, s.edge_still_s)
        if track.last.t - track.frames[0].t < s.edge_still_s or len(recent) < 2:
            return False
        tops = [p.top for p in recent]
        return max(tops) - min(tops) < s.edge_still_drift * track.upright_height

    def _kept_for(self, track: _Track) -> float:
        """How long an unseen track's history is kept: ``hold_unseen_s`` for a fallen person, else
        ``handover_s``."""
        return max(self.settings.hold_unseen_s, self.settings.handover_s) if track.fallen else self.settings.handover_s

    def _prune(self, t: float) -> None:
        """Drop the histories of tracks unseen for longer than they are kept."""
        for tid in [k for k, tr in self._tracks.items() if t - tr.last.t > self._kept_for(tr)]:
            del self._tracks[tid]

    def _take_over(self, t: float, box: np.ndarray, current: set[int]) -> _Track | None:
        """The history of the most recently seen track that is absent from this frame, is still kept (last seen
        at most ``handover_s`` ago, or ``hold_unseen_s`` for a fallen person) and whose last box overlaps ``box``;
        removed from the others."""
        best, best_t = None, -np.inf
        for tid, track in self._tracks.items():
            last = track.last
            if tid in current or not 0 < t - last.t <= self._kept_for(track) or last.t <= best_t:
                continue
            if _overlap(box, last.box):
                best, best_t = tid, last.t
        return self._tracks.pop(best) if best is not None else None

    def _step(self, track: _Track, now: _Posture) -> tuple[float, float]:
        s = self.settings
        frames = track.frames
        frames.append(now)
        while now.t - frames[0].t > s.memory_s:
            frames.popleft()
        if self._upright_shape(now):
            # the tallest upright height of the last memory_s (a fall towards the camera shrinks the box while the
            # body still looks upright); a much shorter upright shape is someone crouching or sitting
            track.upright_height = max(p.body for p in frames if p.upright or p is now)
            now.upright = now.body >= s.crouch_height * track.upright_height
        now.down = self._lying(now, track.upright_height)
        if track.down_since is None and self._fell(track, now):
            track.down_since = now.t
        elif track.down_since is not None and self._got_up(track):
            track.down_since = None
        if track.down_since is None:
            return 0.0, float("nan")
        return self._evidence(track), now.t - track.down_since

    def _evidence(self, track: _Track) -> float:
        """A fallen track's evidence: the share of its last ``recent_s`` seen that it spent down (or not upright)."""
        return float(np.mean([p.down or not p.upright for p in self._last(track, self.settings.recent_s)]))

    def _last(self, track: _Track, span_s: float) -> list[_Posture]:
        """The track's frames of the last ``span_s`` seconds, oldest first."""
        t = track.last.t
        return [p for p in track.frames if t - p.t <= span_s]

    def _got_up(self, track: _Track) -> bool:
        """Upright on every frame of the last ``getting_up_s``."""
        return all(p.upright and not p.down for p in self._last(track, self.settings.getting_up_s))

    def _upright_shape(self, p: _Posture) -> bool:
        """Narrower than ``upright_aspect`` body heights, the torso (where seen) near vertical."""
        s = self.settings
        return p.width < s.upright_aspect * p.body and not (p.angle >= s.upright_angle)

    def _lying(self, p: _Posture, upright_height: float) -> bool:
        s = self.settings
        if not np.isfinite(upright_height):
            return False  # never seen upright: already lying when the track began
        if p.extent > s.down_height * upright_height or p.width < s.lying_width * upright_height:
            return False  # still tall, or narrow (bending over, seen from the side)
        return p.width >= p.extent or p.angle >= s.lying_angle

    def _fell(self, track: _Track, now: _Posture) -> bool:
        """Down for the last ``settle_s``, having been upright within ``fall_within_s`` before going down, the
        head ending ``min_drop`` upright heights lower than it was then."""
        s = self.settings
        settled = self._last(track, s.settle_s)
        if not now.down or now.t - track.frames[0].t < s.settle_s or not all(p.down for p in settled):
            return False
        first_down = settled[0]
        top = float(np.median([p.top for p in settled]))
        for before in track.frames:
            if not before.upright or before.top <= EDGE_PX:
                continue  # a head cut by the frame's top edge: its drop is not measurable
            if 0 < first_down.t - before.t <= s.fall_within_s and top - before.top >= s.min_drop * before.body:
                return True
        return False
