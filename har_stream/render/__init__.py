"""Overlay rendering."""

from __future__ import annotations

from har_stream.render.overlay import OverlayRenderer, person_labels

__all__ = ["OverlayRenderer", "person_labels"]
