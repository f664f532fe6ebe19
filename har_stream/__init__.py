"""har-stream: real-time human action recognition for video surveillance."""

from __future__ import annotations

__version__ = "0.1.0"
