"""Labelled video clips (``labels.csv`` + files) and their recording-group splits."""

from har_stream.clips.labels import ClipLabelError, LabelledClip, read_clip_labels
from har_stream.clips.split import load_clip_split, save_clip_split, split_clips_by_group

__all__ = [
    "ClipLabelError",
    "LabelledClip",
    "load_clip_split",
    "read_clip_labels",
    "save_clip_split",
    "split_clips_by_group",
]
