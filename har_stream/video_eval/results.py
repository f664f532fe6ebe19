"""The results document of a video evaluation (results.json) and its summary table for the terminal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from har_stream.video_eval.runner import ClipRun


def results_document(run: ClipRun, summary: dict[str, dict[str, Any]], config: str, **extra: Any) -> dict[str, Any]:
    """``{"config", "model", "actions", "clips": [...], "summary": {action: figures}, ...extra}``."""
    return {
        "config": config,
        "model": run.model,
        "actions": list(run.actions),
        **extra,
        "interrupted": run.interrupted,
        "skipped": list(run.skipped),
        "clips": [clip.to_json() for clip in run.clips],
        "summary": summary,
    }


def write_json(document: dict[str, Any], path: Path) -> Path:
    """Write ``document`` as indented JSON, making the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def _figure(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:.0%}" if percent else f"{value:.3f}"


def _with_interval(value: str, interval: list[float] | None, percent: bool = False) -> str:
    if interval is None or value == "-":
        return value
    low, high = (_figure(v, percent) for v in interval)
    return f"{value} [{low}-{high}]"


def summary_table(summary: dict[str, dict[str, Any]]) -> str:
    """One line per action: AUROC, alert recall, false alarms (all negatives and ``none`` clips), clip counts;
    95% intervals in brackets where the summary has them."""
    header = ("action", "AUROC", "recall", "false alarms", "on none", "n_pos", "n_neg", "s to alert")
    rows = [header]
    for action, f in summary.items():
        rows.append(
            (
                action,
                _with_interval(_figure(f["auroc"]), f.get("auroc_ci95")),
                _with_interval(_figure(f["alert_recall"], percent=True), f.get("alert_recall_ci95"), True),
                _figure(f["false_alarm_rate"], percent=True),
                _with_interval(
                    _figure(f["false_alarm_rate_none"], percent=True), f.get("false_alarm_rate_none_ci95"), True
                ),
                str(f["n_pos"]),
                str(f["n_neg"]),
                "-" if f["median_s_to_alert"] is None else f"{f['median_s_to_alert']:.1f}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(_line(row, widths) for row in rows)


def _line(cells: tuple[str, ...], widths: list[int]) -> str:
    """The first cell left-aligned, the figures right-aligned."""
    padded = [cells[0].ljust(widths[0])] + [cell.rjust(w) for cell, w in zip(cells[1:], widths[1:], strict=True)]
    return "  ".join(padded).rstrip()
