"""Events JSONL: one JSON object per line, flushed line by line so a hard kill loses at most one line."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from har_stream.frame import FrameRecord


class EventLogSink:
    """Appends alert records (and camera health records) to a JSONL file."""

    def __init__(self, path: str | Path, fsync: bool = False) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self.lines_written = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", encoding="utf-8")

    def append(self, entry: dict[str, Any]) -> None:
        """Write one JSON line and flush it to the OS."""
        self._file.write(json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n")
        self._file.flush()
        if self.fsync:
            os.fsync(self._file.fileno())
        self.lines_written += 1

    def write(self, record: FrameRecord) -> None:
        """Append the alert events of ``record``."""
        for event in record.alerts:
            self.append(event.to_json())

    def close(self) -> None:
        """Close the file."""
        if not self._file.closed:
            self._file.close()
