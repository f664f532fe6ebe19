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

#: A person who fell and stays down: judged from pose and motion over time (har_stream.temporal.falls), never by an
#: image model.
FALLEN = "fallen"

#: Actions that come from how people move alone, not from any classifier.
POSE_ACTIONS: tuple[str, ...] = (FALLEN,)

#: Clip labels (labels.csv) that show an action under another name: a clip labelled ``falling`` shows someone fall
#: and end up on the floor, which is what the ``fallen`` action flags.
CLIP_LABELS_OF: dict[str, tuple[str, ...]] = {FALLEN: ("falling", FALLEN)}

#: Every action a rule may name.
RULE_ACTIONS: tuple[str, ...] = ALL_ACTIONS + POSE_ACTIONS

#: Label given to a person the classifier has not (yet) judged, or when no model is loaded.
UNKNOWN_ACTION = "unknown"
