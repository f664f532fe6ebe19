"""``evaluate_video``: score labelled clips through the real pipeline, then write results.json, ROC curves and
the contact sheet."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from har_stream.clips import LabelledClip
from har_stream.config.schema import HarStreamConfig
from har_stream.pipeline import Pipeline
from har_stream.video_eval.metrics import summarize
from har_stream.video_eval.report import contact_sheet, plot_roc
from har_stream.video_eval.results import results_document, write_json
from har_stream.video_eval.runner import ClipRun, evaluate_clips


@dataclass
class VideoEvaluation:
    """The results document and the files written."""

    document: dict[str, Any]
    run: ClipRun
    json_paths: list[Path] = field(default_factory=list)
    roc_pngs: dict[str, Path] = field(default_factory=dict)
    contact_sheet: Path | None = None

    @property
    def summary(self) -> dict[str, dict[str, Any]]:
        """``{action: figures}``."""
        return self.document["summary"]


def evaluate_video(
    config: HarStreamConfig,
    clips: Sequence[LabelledClip],
    out: Path,
    *,
    config_name: str,
    json_path: Path | None = None,
    max_frames: int | None = None,
    pipeline: Pipeline | None = None,
    progress: bool = True,
    details: dict[str, Any] | None = None,
) -> VideoEvaluation:
    """Evaluate ``clips`` with ``config``; write ``out``/results.json (and ``json_path``), ``out``/roc_<action>.png
    and ``out``/contact_sheet.jpg. ``details`` (clips folder, split, ...) are added to the document."""
    run = evaluate_clips(config, clips, max_frames=max_frames, pipeline=pipeline, progress=progress)
    summary = summarize(run.clips, run.actions)
    document = results_document(run, summary, config_name, max_frames=max_frames, **(details or {}))
    result = VideoEvaluation(document, run)
    out.mkdir(parents=True, exist_ok=True)
    result.json_paths.append(write_json(document, out / "results.json"))
    if json_path is not None and json_path.resolve() != (out / "results.json").resolve():
        result.json_paths.append(write_json(document, json_path))
    title = Path(config_name).stem
    for action in run.actions:
        result.roc_pngs[action] = plot_roc(run.clips, action, out / f"roc_{action}.png", title=title)
    result.contact_sheet = contact_sheet(run.clips, run.actions, out / "contact_sheet.jpg")
    return result
