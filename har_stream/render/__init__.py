"""Overlay rendering, and the one label each person is shown with."""

from __future__ import annotations

from har_stream.render.labels import PersonLabeler, display_labels
from har_stream.render.overlay import OverlayRenderer, person_labels

__all__ = ["OverlayRenderer", "PersonLabeler", "display_labels", "person_labels"]
