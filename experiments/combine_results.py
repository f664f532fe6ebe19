"""Pool the clips of several ``clips evaluate-video`` results files and recompute the figures, optionally leaving
clips out (e.g. runners filmed by a panning camera, when the figure is for fixed cameras).

    .venv/bin/python -m experiments.combine_results RESULTS.json [RESULTS.json ...] [--drop FILE ...] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from har_stream.video_eval.clip_result import ClipResult
from har_stream.video_eval.metrics import summarize
from har_stream.video_eval.results import summary_table


def load_clips(paths: list[Path], drop: set[str]) -> tuple[list[ClipResult], list[str]]:
    """Every clip of the results files (less ``drop``), and the actions they were scored for."""
    clips, actions = [], []
    for path in paths:
        document = json.loads(path.read_text())
        actions += [a for a in document["summary"] if a not in actions]
        for entry in document["clips"]:
            if entry["file"] in drop:
                continue
            clip = ClipResult(entry["file"], entry["label"], entry["group"], frames=entry.get("frames", 0))
            clip.scores, clip.alerts = dict(entry["scores"]), list(entry["alerts"])
            clip.first_alert_s, clip.start_s = dict(entry["first_alert_s"]), entry.get("start_s")
            clip.error = entry.get("error")
            clips.append(clip)
    return clips, actions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=Path)
    parser.add_argument("--drop", nargs="*", default=[], help="clip files to leave out")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    clips, actions = load_clips(args.results, set(args.drop))
    summary = summarize(clips, actions)
    print(f"{len(clips)} clips from {', '.join(map(str, args.results))}" + (f", less {args.drop}" if args.drop else ""))
    print(summary_table(summary))
    if args.json:
        args.json.write_text(json.dumps({"results": [str(p) for p in args.results], "dropped": args.drop,
                                         "summary": summary}, indent=1) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
