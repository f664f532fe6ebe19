"""Multi-object tracking stage: ByteTrack ids plus per-track speed; reports tracks that ended."""

from __future__ import annotations

import math
import warnings

import numpy as np
from trackers import ByteTrackTracker

from har_stream.config.schema import TrackerConfig, ZoneConfig
from har_stream.frame import SPEED, SPEED_MPS, FrameRecord
from har_stream.tracking.ground import GroundPlane
from har_stream.tracking.state import TrackRegistry

#: The track state (speed history, rules) outlives the lost-track buffer by this much, and by at least one update
#: interval, so it never ends while ByteTrack can still re-find the track under its id.
REGISTRY_GRACE_S = 0.5


class PersonTracker:
    """Gives each detected person a stable ``tracker_id``; keeps only confirmed tracks in the record.

    ``lost_track_buffer_s`` is counted in tracker updates at the rate the tracker is actually updated (every
    processed frame, whatever the source's frame rate and however many live frames were dropped): a track
    missed on ``n`` updates in a row is re-found as long as ``n <= lost_track_buffer_s * updates per second``,
    the rate measured from the interval between the last two updates. So a person missed for 0.4 s keeps their
    id with a 0.5 s buffer at 10 and at 50 fps, and a person seen on every update keeps it even when updates
    come less often than the buffer (a slow CPU: 2 processed frames a second with a 0.2 s buffer).
    ``frame_rate`` (the source's) only scales ByteTrack's motion model to its nominal frame step.
    """

    def __init__(self, config: TrackerConfig, frame_rate: float = 25.0, zones: list[ZoneConfig] | None = None) -> None:
        self.config = config
        self.frame_rate = frame_rate
        self.zones = [z for z in zones or [] if z.calibration is not None]
        self._ground: GroundPlane | None = None
        self.registry = TrackRegistry(
            max_age_s=config.lost_track_buffer_s + REGISTRY_GRACE_S, speed_window_s=config.speed_window_s
        )
        self._last_timestamp: float | None = None
        self._size: tuple[int, int] | None = None
        self._tracker = self._new_tracker()
        # A new ByteTrack numbers its tracks from 0 again; ids stay unique for the whole run by offsetting them.
        self._id_offset = 0
        self._next_id = 0

    def _new_tracker(self) -> ByteTrackTracker:
        # trackers counts lost_track_buffer in frames at 30 fps (it scales that by frame_rate, and with timestamps
        # keeps lost tracks lost_track_buffer / 30 seconds); _set_budget then adapts it to the update rate.
        return ByteTrackTracker(
            lost_track_buffer=math.ceil(self.config.lost_track_buffer_s * 30),
            frame_rate=self.frame_rate,
            track_activation_threshold=self.config.activation_threshold,
            minimum_consecutive_frames=self.config.min_consecutive_frames,
            minimum_iou_threshold=self.config.match_iou,
            high_conf_det_threshold=self.config.high_confidence_threshold,
        )

    def _ground_speeds(self, record: FrameRecord, ids: np.ndarray) -> np.ndarray:
        ground = self._ground
        if ground is None or (ground.width, ground.height) != (record.width, record.height):
            ground = self._ground = GroundPlane(self.zones, record.width, record.height)
        speeds = np.full(len(ids), np.nan, dtype=np.float32)
        for i, track_id in enumerate(ids.tolist()):
            ends = self.registry.tracks[track_id].endpoints()
            if ends is not None:
                speeds[i] = ground.speed_mps(ends[1], ends[2], ends[0])
        return speeds

    def _set_budget(self, timestamp: float) -> None:
        """Let ByteTrack keep lost tracks for ``lost_track_buffer_s`` plus the interval since the last update.

        ByteTrack drops a track once the time since its last match exceeds its budget, checked before matching
        the new detections: that time includes the current interval, so a budget of ``lost_track_buffer_s``
        alone would drop every track updated less often than that, and the number of misses it allows would
        depend on the update rate. With the interval added, ``n`` missed updates are allowed while
        ``n * interval <= lost_track_buffer_s``.
        """
        interval = 1.0 / self.frame_rate
        if self._last_timestamp is not None and timestamp > self._last_timestamp:
            interval = timestamp - self._last_timestamp
        buffer_s = self.config.lost_track_buffer_s
        self._tracker.maximum_time_without_update = buffer_s + interval + 1e-6  # float sums of intervals
        self.registry.max_age_s = buffer_s + max(REGISTRY_GRACE_S, interval)  # never before ByteTrack drops it

    def reset(self) -> list[int]:
        """Forget every track (e.g. after the source restarted); return the ids that ended."""
        self._tracker = self._new_tracker()
        self._last_timestamp = None
        self._id_offset = self._next_id
        return self.registry.end_all()

    def __call__(self, record: FrameRecord) -> FrameRecord:
        """Pipeline stage: set ``tracker_id``, ``data['speed']`` (and ``data['speed_mps']`` when a zone is calibrated);
        list ended tracks in ``record.ended_tracks``."""
        size = (record.width, record.height)
        restarted = self._last_timestamp is not None and record.timestamp < self._last_timestamp
        if restarted or (self._size is not None and size != self._size):
            record.ended_tracks.extend(self.reset())  # a new stream, or a new frame size: old boxes mean nothing
        self._set_budget(record.timestamp)
        self._last_timestamp = record.timestamp
        self._size = size
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tracked = self._tracker.update(record.detections, timestamp=record.timestamp)
        if tracked.tracker_id is not None and len(tracked):
            tracked = tracked[tracked.tracker_id >= 0]
            tracked.tracker_id = tracked.tracker_id + self._id_offset
            if len(tracked):
                self._next_id = max(self._next_id, int(tracked.tracker_id.max()) + 1)
        ids = tracked.tracker_id if tracked.tracker_id is not None else np.zeros(0, dtype=int)
        tracked.data[SPEED] = self.registry.update(record.timestamp, ids, tracked.xyxy)
        if self.zones:
            tracked.data[SPEED_MPS] = self._ground_speeds(record, ids)
        record.ended_tracks.extend(self.registry.end_stale(record.timestamp))
        record.detections = tracked
        return record
