"""The fifteen actions of the HAR image dataset, in the order every model uses."""

from __future__ import annotations

ACTIONS: tuple[str, ...] = (
    "calling",
    "clapping",
    "cycling",
    "dancing",
    "drinking",
    "eating",
    "fighting",
    "hugging",
    "laughing",
    "listening_to_music",
    "running",
    "sitting",
    "sleeping",
    "texting",
    "using_laptop",
)

#: Label given to a person the classifier has not (yet) judged, or when no model is loaded.
UNKNOWN_ACTION = "unknown"
