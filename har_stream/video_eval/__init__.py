"""Video evaluation: run the whole pipeline over labelled clips and score each flagged action per clip."""

from har_stream.video_eval.clip_result import ClipResult
from har_stream.video_eval.evaluation import VideoEvaluation, evaluate_video
from har_stream.video_eval.metrics import action_summary, auroc, summarize
from har_stream.video_eval.runner import ClipRun, evaluate_clips
from har_stream.video_eval.selection import ClipSelectionError, flagged_actions, select_split_part

__all__ = [
    "ClipResult",
    "ClipRun",
    "ClipSelectionError",
    "VideoEvaluation",
    "action_summary",
    "auroc",
    "evaluate_clips",
    "evaluate_video",
    "flagged_actions",
    "select_split_part",
    "summarize",
]
