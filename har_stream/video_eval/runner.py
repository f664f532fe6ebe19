"""Run one pipeline (models loaded once) over labelled clips and collect each clip's scores and alerts."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from tqdm import tqdm

from har_stream.clips import LabelledClip
from har_stream.config.schema import HarStreamConfig, OutputConfig
from har_stream.pipeline import Pipeline
from har_stream.sources import SourceError
from har_stream.video_eval.clip_result import ClipResult
from har_stream.video_eval.collector import THUMBNAIL_WIDTH, ScoreCollector
from har_stream.video_eval.selection import flagged_actions

log = logging.getLogger(__name__)


@dataclass
class ClipRun:
    """Every clip's result, the actions scored, the classifier used, and whether Ctrl-C cut the run short."""

    clips: list[ClipResult]
    actions: list[str]
    model: str
    interrupted: bool = False
    skipped: list[str] = field(default_factory=list)


def evaluation_config(config: HarStreamConfig) -> HarStreamConfig:
    """``config`` with every output off (no export, event log, snapshots or window) and files read once, in full."""
    source = config.source.model_copy(update={"uri": None, "loop": False, "realtime": False})
    return config.model_copy(update={"output": OutputConfig(), "source": source})


def build_pipeline(config: HarStreamConfig) -> Pipeline:
    """One pipeline for the whole evaluation (loads the detector and the classifier)."""
    return Pipeline(evaluation_config(config))


def model_name(pipeline: Pipeline) -> str:
    """The classifier's name, or "none" when people are not classified."""
    model = pipeline.action_model
    return getattr(model, "name", "none") if model is not None else "none"


def evaluate_clip(
    pipeline: Pipeline, clip: LabelledClip, actions: Sequence[str], max_frames: int | None = None
) -> tuple[ClipResult, bool]:
    """Run ``clip`` through ``pipeline``; return its result and whether the run was interrupted."""
    result = ClipResult(clip.file, clip.label, clip.group, start_s=clip.start_s)
    collector = ScoreCollector(result, actions, THUMBNAIL_WIDTH)
    try:
        run = pipeline.run(source=str(clip.path), max_frames=max_frames, on_frame=collector)
    except SourceError as exc:
        result.error = str(exc)
        return result, False
    result.problems = list(run.source_problems)
    if run.error is not None and result.frames == 0:
        result.error = run.error
    elif result.frames == 0 and not run.interrupted:
        result.error = f"no frame of {clip.file} could be decoded"
    elif run.error is not None:
        result.problems.append(run.error)
    return result, run.interrupted


def evaluate_clips(
    config: HarStreamConfig,
    clips: Sequence[LabelledClip],
    max_frames: int | None = None,
    pipeline: Pipeline | None = None,
    progress: bool = True,
) -> ClipRun:
    """Score every clip with one pipeline; a clip that cannot be read is logged, kept with its error, and skipped.

    Ctrl-C stops after the current clip, which is left out; the clips done so far are returned.
    """
    pipeline = pipeline or build_pipeline(config)
    actions = flagged_actions(config)
    run = ClipRun(clips=[], actions=actions, model=model_name(pipeline))
    bar = tqdm(clips, unit="clip", disable=not progress, dynamic_ncols=True)
    for clip in bar:
        bar.set_description(clip.file[:32])
        result, interrupted = evaluate_clip(pipeline, clip, actions, max_frames)
        if interrupted:
            run.interrupted = True
            log.warning("interrupted during %s: it is left out, %d clips were evaluated", clip.file, len(run.clips))
            break
        if result.error is not None:
            log.error("skipping %s: %s", clip.file, result.error)
            run.skipped.append(clip.file)
        for problem in result.problems:
            log.warning("%s: %s", clip.file, problem)
        run.clips.append(result)
    bar.close()
    return run
