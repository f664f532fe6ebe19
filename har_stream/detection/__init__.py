"""Person detection."""

from __future__ import annotations

from har_stream.detection.detector import DetectorError, PersonDetector
from har_stream.detection.weights import resolve_detector_weights

__all__ = ["DetectorError", "PersonDetector", "resolve_detector_weights"]
