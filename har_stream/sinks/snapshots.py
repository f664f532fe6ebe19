"""A JPEG of the annotated frame for every alert that starts."""

from __future__ import annotations

from pathlib import Path

import cv2

from har_stream.frame import FrameRecord
from har_stream.rules.events import ALERT_START


class SnapshotSink:
    """Saves ``<folder>/<camera>_<alert id>_<rule>_track<id>.jpg`` and records the path in the start event.

    Run it before the event log so the event line carries the snapshot path.
    """

    def __init__(self, folder: str | Path, quality: int = 90) -> None:
        self.folder = Path(folder)
        self.quality = quality
        self.saved = 0

    def write(self, record: FrameRecord) -> None:
        """Save a snapshot for each alert that starts on this frame."""
        for event in record.alerts:
            if event.type != ALERT_START:
                continue
            name = f"{event.camera}_{event.alert_id}_{event.rule}_track{event.track_id}.jpg".replace(" ", "_")
            path = self.folder / name
            self.folder.mkdir(parents=True, exist_ok=True)  # only once there is something to save
            if cv2.imwrite(str(path), record.image, [cv2.IMWRITE_JPEG_QUALITY, self.quality]):
                event.snapshot = str(path)
                self.saved += 1

    def close(self) -> None:
        """Nothing to release."""
