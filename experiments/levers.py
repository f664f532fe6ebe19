#!/usr/bin/env python3
"""Before/after figures for each performance lever: har-stream's defaults against one lever turned back.

    .venv/bin/python -m experiments.levers [--video sample_videos/light_scene_720p.mp4] [--frames 150] [--rounds 2]
        [--set detector.imgsz=1280 ...] [--only VARIANT ...] [--out out/bench/levers.json]

Every variant runs the real pipeline (file source, export and events on) on the same frames, in one process,
in interleaved rounds (default, variant 1, ..., default, variant 1, ...), so machine noise hits all alike. For
each variant it prints fps (median over rounds), the ratio to the defaults, and per-stage mean milliseconds;
the whole result goes to out/bench/levers.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

import yaml

from experiments.paths import CROWD_VIDEO, REPO

#: A variant key (not a config field): run with a copy of the default temporal model without running.json.
WITHOUT_RUNNING_JSON = "_without_running_json"

#: Each lever as the override that turns it back (the "before"); "defaults" has them all on.
VARIANTS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "detector float32 (no int8)": {"detector.int8": False},
    "detector on PyTorch (ultralytics predict)": {"detector.backend": "torch"},
    "detector on OpenVINO (int8)": {"detector.backend": "openvino"},
    "detector not pipelined (same thread)": {"detector.pipelined": False},
    "classifier on Keras (no int8 ONNX)": {"classifier.runtime": "keras"},
    "classify every person every frame": {"classifier.every_n_frames": 1, "classifier.max_per_frame": 256},
    "export preset veryfast": {"output.video_preset": "veryfast"},
    "temporal model off": {"temporal.model": "none"},
    # the previous release's running evidence: the temporal trees' running output at weight 0.25 (the model folder
    # without running.json), against the kinematic running model
    "running from the temporal trees": {"temporal.action_weights": {"running": 0.25}, WITHOUT_RUNNING_JSON: True},
    # the previous release: running speed against the frame, no camera-motion estimate
    "camera motion not compensated": {"temporal.compensate_camera_motion": False},
}


def run_variant(video: Path, frames: int, overrides: dict[str, Any], work: Path) -> dict[str, Any]:
    from har_stream.api import build_config
    from har_stream.pipeline import Pipeline

    overrides = dict(overrides)
    if overrides.pop(WITHOUT_RUNNING_JSON, False):
        import shutil

        from har_stream.temporal.model import DEFAULT_TEMPORAL_MODEL
        from har_stream.weights import MODELS_DIR

        trees = work / "temporal_trees"
        if not trees.exists():
            shutil.copytree(MODELS_DIR / DEFAULT_TEMPORAL_MODEL, trees, ignore=shutil.ignore_patterns("running.json"))
        overrides["temporal.model"] = str(trees)
    config = build_config(
        None, source=str(video), export=work / "out.mp4", events=work / "events.jsonl", overrides=overrides
    )
    pipeline = Pipeline(config)
    result = pipeline.run(max_frames=frames)
    summary = result.summary
    return {
        "fps": summary["fps"],
        "stages_ms": {k: v["mean"] for k, v in summary["stages_ms"].items()},
        "people_per_frame": summary["people_per_frame"],
        "classifier_calls_per_frame": summary["classifier_calls_per_frame"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, default=REPO / "sample_videos" / "light_scene_720p.mp4")
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", nargs="*", default=None, help="Variant names to run (besides the defaults).")
    parser.add_argument("--out", type=Path, default=REPO / "out" / "bench" / "levers.json")
    parser.add_argument("--set", dest="base", action="append", default=[], help="KEY=VALUE for every variant.")
    args = parser.parse_args()
    base = {key: yaml.safe_load(value) for key, value in (item.split("=", 1) for item in args.base)}
    import har_stream.action_model  # noqa: F401  (TensorFlow next to PyTorch, safely)

    if not args.video.is_file():
        from har_stream.bench.scenes import make_light_scene

        make_light_scene(CROWD_VIDEO, args.video)
    names = ["defaults", *[n for n in VARIANTS if n != "defaults" and (args.only is None or n in args.only)]]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory(prefix="har-levers-") as tmp:
        for round_index in range(args.rounds):
            for name in names:
                result = run_variant(args.video, args.frames, {**base, **VARIANTS[name]}, Path(tmp))
                runs[name].append(result)
                print(json.dumps({"round": round_index + 1, "variant": name, "fps": result["fps"]}), flush=True)
    base_fps = statistics.median(r["fps"] for r in runs["defaults"])
    table = {}
    for name, results in runs.items():
        fps = statistics.median(r["fps"] for r in results)
        stages = {k: round(statistics.mean(r["stages_ms"][k] for r in results), 2) for k in results[0]["stages_ms"]}
        table[name] = {
            "overrides": VARIANTS[name],
            "fps": round(fps, 2),
            "fps_rounds": [r["fps"] for r in results],
            "defaults_speedup": round(base_fps / fps, 2) if fps else None,
            "stages_ms_mean": stages,
            "classifier_calls_per_frame": results[0]["classifier_calls_per_frame"],
            "people_per_frame": results[0]["people_per_frame"],
        }
    from har_stream.bench.runner import machine_description

    output = {"video": str(args.video), "frames": args.frames, "rounds": args.rounds, "base": base, "variants": table,
              "machine": machine_description()}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(output, indent=2))
    for name, row in table.items():
        print(f"{name:45s} {row['fps']:7.2f} fps   defaults are {row['defaults_speedup']}x   {row['stages_ms_mean']}")


if __name__ == "__main__":
    main()
