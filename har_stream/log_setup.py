"""Logging for every command line: one format on stderr, chatty libraries kept at warnings."""

from __future__ import annotations

import logging
import sys


def setup_logging(level: str) -> None:
    """Log at ``level`` (debug, info, warning, error) to stderr with time, level and logger name."""
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    for noisy in ("ultralytics", "h5py", "absl", "tensorflow"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
