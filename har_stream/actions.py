"""The fifteen actions of the HAR image dataset, in the order every model uses, and the background classes."""

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

#: Ordinary people, learned from real CCTV person crops: the "none of these" classes of open-set models. They
#: follow the fifteen actions in such a model's outputs; rules may name them, but they mean "nothing to flag".
BACKGROUND_ACTIONS: tuple[str, ...] = ("walking", "standing", "other")

#: Every label a model may output.
ALL_ACTIONS: tuple[str, ...] = ACTIONS + BACKGROUND_ACTIONS

#: Label given to a person the classifier has not (yet) judged, or when no model is loaded.
UNKNOWN_ACTION = "unknown"
