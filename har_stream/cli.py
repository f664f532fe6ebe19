"""The ``har-stream`` command line; each command mirrors a Python entry point."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from har_stream.log_setup import setup_logging
from har_stream.training.clip_commands import (
    harvest_clips_command,
    train_open_set_command,
    train_temporal_command,
)
from har_stream.training.commands import (
    average_weights_command,
    choose_input_size_command,
    evaluate_command,
    finetune_whole_command,
    make_ensemble_command,
    pose_ablation_command,
    quantize_classifier_command,
    train_command,
)

#: Old flat command names and their new spelling. They still run the same command (the root resolves them to the
#: new spelling after one line on stderr) but are not listed: hidden without registering a second copy of each
#: command, which would cost every ``--help`` the time to build them.
ALIASES = {
    "finetune-whole": "models fine-tune",
    "make-ensemble": "models ensemble",
    "average-weights": "models average",
    "train-open-set": "models open-set",
    "quantize-classifier": "models quantize",
    "quantize-detector": "models quantize-detector",
    "choose-input-size": "models choose-input-size",
    "pose-ablation": "models pose-ablation",
    "train": "models train",
    "evaluate": "models evaluate",
    "split-clips": "clips split",
    "harvest-clips": "clips harvest",
    "evaluate-video": "clips evaluate-video",
    "train-temporal": "clips train-temporal",
    "bench-classifiers": "bench classifiers",
}


def _note_new_spelling(old: str, new: str) -> None:
    typer.echo(f"note: 'har-stream {old}' is now 'har-stream {new}'; please use the new name", err=True)


class _RootGroup(TyperGroup):
    """The root command: lists the everyday commands apart from the groups, and runs an old flat command name as
    its new spelling, naming it on stderr."""

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        if args and args[0] in ALIASES:
            _note_new_spelling(args[0], ALIASES[args[0]])
            args = [*ALIASES[args[0]].split(), *args[1:]]
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        shown = [(name, self.get_command(ctx, name)) for name in self.list_commands(ctx)]
        shown = [(name, command) for name, command in shown if command is not None and not command.hidden]
        if not shown:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in shown)
        for title, groups in (("Commands", False), ("Command groups (har-stream GROUP --help)", True)):
            rows = [(n, c.get_short_help_str(limit)) for n, c in shown if isinstance(c, TyperGroup) == groups]
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


class _BenchGroup(TyperGroup):
    """``har-stream bench --source ...`` (the old flat pipeline benchmark) still runs ``bench pipeline``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0].startswith("-") and args[0] not in ctx.help_option_names:
            _note_new_spelling("bench", "bench pipeline")
            args = ["pipeline", *args]
        return super().parse_args(ctx, args)


_SETTINGS: dict[str, Any] = {
    "no_args_is_help": True,
    "add_completion": False,
    "pretty_exceptions_enable": False,
    "rich_markup_mode": None,
}
app = typer.Typer(name="har-stream", cls=_RootGroup, **_SETTINGS)
models_app = typer.Typer(**_SETTINGS)
clips_app = typer.Typer(**_SETTINGS)
bench_app = typer.Typer(cls=_BenchGroup, **_SETTINGS)
app.add_typer(
    models_app,
    name="models",
    help="Build and check the action classifiers: train one on a labelled image folder, fine-tune it, average or "
    "ensemble several, train the open-set head, pick the input size it is served at, make int8 copies (of a "
    "classifier or of the detector), evaluate, and measure whether pose keypoints help. Each classifier command "
    "writes or reads a model folder that classifier.model can name.",
    short_help="Train, fine-tune, combine, quantize and evaluate action classifiers (model folders).",
)
app.add_typer(
    clips_app,
    name="clips",
    help="Work with labelled video clips (a folder with labels.csv): split them into train/val/test by recording "
    "group, harvest tracks and person crops with the pipeline's own detector, score the whole pipeline on them, "
    "train the temporal model, and export the alerts operators reviewed on the dashboard as labelled clips.",
    short_help="Split, harvest, evaluate and export labelled clips; train the temporal model.",
)
app.add_typer(
    bench_app,
    name="bench",
    help="Measure speed: the whole pipeline against the naive baseline on one video, the per-crop cost of "
    "action classifiers side by side, or which detector input size a camera's footage needs.",
    short_help="Speed benchmarks: the pipeline against the naive baseline, classifiers, detector size.",
)

log = logging.getLogger("har_stream")


@app.callback()
def _root() -> None:
    """Real-time human action recognition for video surveillance.

    Detects and tracks people, classifies each person's action, applies YAML alert rules, and draws
    flagged people red and everyone else green. Operating it takes run (one source), serve (a site of
    cameras with a dashboard) and check-config; the groups below hold the tools for building models
    from labelled images and clips and for measuring speed.
    """


def _parse_overrides(items: list[str]) -> dict[str, Any]:
    import yaml

    overrides: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise typer.BadParameter(f"expected KEY=VALUE, e.g. detector.imgsz=960; got {item!r}", param_hint="--set")
        key, value = item.split("=", 1)
        try:
            overrides[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise typer.BadParameter(
                f"{key.strip()}: the value {value!r} is not valid YAML ({problem}); quote it, e.g. "
                f"--set '{key.strip()}=\"{value}\"'",
                param_hint="--set",
            ) from None
    return overrides


def _abort_loading(state: dict[str, Any]) -> NoReturn:
    """Ctrl-C while models load: say that nothing was written and exit 130 at once.

    The process ends with ``os._exit``: native model loaders (TensorFlow, ONNX Runtime) interrupted half-way can
    otherwise turn the interpreter's shutdown into a death by SIGINT instead of the documented status 130.
    """
    state["aborted"] = True
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    typer.echo("error: interrupted while loading models; nothing was written", err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(130)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@app.command()
def run(
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            "-s",
            help="Video file, folder of images, webcam index (0, 1, ...) or stream URL (rtsp://, http://). "
            "Default: source.uri from the config.",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="YAML config with zones, rules and settings (see configs/)."),
    ] = None,
    show: Annotated[bool, typer.Option("--show", help="Open a live window (press q or Esc to stop).")] = False,
    export: Annotated[
        Path | None, typer.Option("--export", "-o", help="Write the annotated video as H.264 .mp4 here.")
    ] = None,
    events: Annotated[
        Path | None,
        typer.Option("--events", "-e", help="Append alert and camera-health records to this JSONL file."),
    ] = None,
    snapshots: Annotated[
        Path | None,
        typer.Option(help="Folder for one JPEG per alert (default: <events stem>_snapshots beside --events)."),
    ] = None,
    max_frames: Annotated[int | None, typer.Option(min=1, help="Stop after this many processed frames.")] = None,
    overrides: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Override a config value, KEY=VALUE with a dotted key, e.g. --set detector.imgsz=1280 "
            "--set classifier.model=none. Repeatable.",
        ),
    ] = None,
    summary: Annotated[
        Path | None, typer.Option(help="Also write the run summary (fps, stage timings, ...) as JSON here.")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Run the pipeline on a source: detect, track, classify actions, apply rules, and write outputs.

    Ctrl-C (or SIGTERM) stops cleanly: the export is finalised and playable, open alerts get an end record.
    The last line on stdout is the run summary as JSON.
    """
    setup_logging(log_level)
    from har_stream.action_model.base import ActionModelError
    from har_stream.api import build_config
    from har_stream.config.loading import ConfigError
    from har_stream.detection.detector import DetectorError
    from har_stream.output_paths import OutputPathError, check_output_paths, local_file
    from har_stream.pipeline import Pipeline, output_paths
    from har_stream.rules.zones import ZoneError
    from har_stream.sinks import VideoExportError, WindowUnavailableError
    from har_stream.sources import SourceError
    from har_stream.weights import WeightsNotFoundError

    # Signals: while models load, Ctrl-C aborts at once (nothing to finalise). While frames are processed, the
    # first signal asks for a clean stop and a second one interrupts the current frame; once outputs are being
    # finalised, further signals are ignored so the export and event log are always completed.
    state: dict[str, Any] = {"pipeline": None, "signals": 0}

    def _on_signal(signum: int, _frame: object) -> None:
        state["signals"] += 1
        name = signal.Signals(signum).name
        running = state["pipeline"]
        if running is None:
            # Models are loading: nothing to finalise, so leave at once, without raising an exception into a
            # half-initialised native loader (TensorFlow has crashed on that).
            _abort_loading(state)
        if running.finishing:
            log.warning("%s received: still finishing outputs, one moment", name)
        elif state["signals"] == 1:
            log.warning("%s received: finishing the current frame and closing outputs", name)
            running.request_stop()
        else:
            raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    log.info("loading models (Ctrl-C aborts; nothing is written yet)")
    try:
        try:
            cfg = build_config(
                config,
                source=source,
                export=export,
                events=events,
                snapshots=snapshots,
                show=show or None,
                overrides=_parse_overrides(overrides or []),
            )
            # Refuse outputs that would overwrite the input or each other before spending time on models.
            check_output_paths({"source": local_file(cfg.source.uri)}, output_paths(cfg))
            pipeline = Pipeline(cfg)
        except OutputPathError as exc:
            raise _fail(str(exc), 2) from None
        except KeyboardInterrupt:
            _abort_loading(state)
        except Exception as exc:
            if state["signals"]:  # a signal that lands inside a native model loader surfaces as its failure
                _abort_loading(state)
            if isinstance(exc, ConfigError | WeightsNotFoundError | ActionModelError | DetectorError):
                raise _fail(str(exc), 2 if isinstance(exc, ConfigError) else 1) from None
            raise
        state["pipeline"] = pipeline
        try:
            result = pipeline.run(max_frames=max_frames, progress=progress and sys.stderr.isatty())
        except OutputPathError as exc:
            raise _fail(str(exc), 2) from None
        except (SourceError, ZoneError, VideoExportError, WindowUnavailableError, OSError) as exc:
            raise _fail(str(exc)) from None
    finally:
        if not state.get("aborted"):
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    s = result.summary
    log.info(
        "processed %d frames in %.1fs (%.2f fps), %d alerts, %d people per frame",
        s["frames"],
        s["wall_s"],
        s["fps"],
        s["alerts_started"],
        s["people_per_frame"],
    )
    for problem in result.source_problems:
        log.warning("source problem: %s", problem)
    for kind, path in result.outputs.items():
        log.info("%s: %s", kind, path)
    payload = {**s.as_json(), "outputs": result.outputs, "interrupted": result.interrupted, "error": result.error}
    if summary is not None:
        summary.parent.mkdir(parents=True, exist_ok=True)
        summary.write_text(json.dumps(payload, indent=2))
    typer.echo(json.dumps(payload))
    if result.error:
        raise _fail(result.error)


@app.command("check-config")
def check_config(
    config: Annotated[Path, typer.Argument(help="YAML config to validate.")],
) -> None:
    """Validate a config file and print every problem with its field path, or 'ok'."""
    from har_stream.config.loading import ConfigError, load_config

    try:
        cfg = load_config(config)
    except ConfigError as exc:
        raise _fail(str(exc), 2) from None
    typer.echo(f"ok: camera {cfg.camera!r}, {len(cfg.zones)} zones, {len(cfg.lines)} lines, {len(cfg.rules)} rules")


@app.command()
def serve(
    config: Annotated[
        Path,
        typer.Option(
            "--config",
            "-c",
            help="Site config YAML: cameras (each a per-camera config with a name), server, media, store, "
            "notify (see configs/site.yaml). ${ENV_VAR} references are read from the environment.",
        ),
    ],
    host: Annotated[
        str | None,
        typer.Option(
            help="Address to bind (default: server.host, 127.0.0.1). Any non-loopback address needs server.token."
        ),
    ] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port (default: server.port, 8080).")] = None,
    media: Annotated[
        Path | None,
        typer.Option(help="Folder for snapshots, clips and the default events.db (default: media.folder)."),
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Validate the site config, print a summary and exit without serving.")
    ] = False,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Run every camera of a site and serve the live dashboard, events page and JSON API.

    Open http://HOST:PORT/ for live annotated views, camera health and alerts as they happen; /events to
    search stored alerts; /docs for the API. Alerts are also POSTed to notify.webhooks and published to
    notify.mqtt. Ctrl-C (or SIGTERM) stops cleanly: open alerts get an end record and are delivered.
    """
    setup_logging(log_level)
    from har_stream.config.loading import ConfigError
    from har_stream.config.site import load_site

    try:
        site = load_site(config)
    except ConfigError as exc:
        raise _fail(str(exc), 2) from None
    changes: dict[str, Any] = {}
    if host is not None or port is not None:
        server = site.server.model_dump()
        server.update({k: v for k, v in (("host", host), ("port", port)) if v is not None})
        changes["server"] = server
    if media is not None:
        changes["media"] = site.media.model_copy(update={"folder": media})
    if changes:
        from pydantic import ValidationError

        from har_stream.config.site import ServerConfig, is_loopback

        try:
            server_config = ServerConfig.model_validate(changes.get("server", site.server.model_dump()))
        except ValidationError as exc:
            raise _fail(f"invalid --host/--port: {exc.errors()[0]['msg']}", 2) from None
        if not server_config.access_tokens and not is_loopback(server_config.host):
            raise _fail(f"--host {server_config.host} is not a loopback address: set server.token in the config", 2)
        changes["server"] = server_config
        site = site.model_copy(update=changes)
    from har_stream.output_paths import OutputPathError, check_site_paths

    try:
        check_site_paths(site)
    except OutputPathError as exc:
        raise _fail(str(exc), 2) from None
    names = ", ".join(c.camera for c in site.cameras)
    if check:
        typer.echo(f"ok: {len(site.cameras)} cameras ({names}); dashboard on {site.server.base_url}")
        return
    try:
        from har_stream.serve.server import SiteServerError
        from har_stream.serve.server import serve as serve_site
    except ImportError as exc:
        raise _fail(f"har-stream serve needs the 'serve' extra ({exc}): pip install -e '.[serve]'") from None
    from har_stream.store import StoreError

    log.info("starting %d cameras (%s); dashboard on %s", len(site.cameras), names, site.server.base_url)
    try:
        serve_site(site)
    except (SiteServerError, StoreError, OSError) as exc:
        raise _fail(str(exc)) from None


@bench_app.command("pipeline")
def bench(
    source: Annotated[Path, typer.Option("--source", "-s", help="Video file to benchmark on.")],
    frames: Annotated[int, typer.Option(min=1, help="Frames har-stream processes.")] = 150,
    baseline_frames: Annotated[
        int | None, typer.Option(min=1, help="Frames the (slow) naive baseline processes (default: --frames).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Config for har-stream (default: built-in defaults).")
    ] = None,
    live: Annotated[
        bool,
        typer.Option(help="Replay the video in real time as a live camera: measures frame age and dropped frames."),
    ] = False,
    baseline_imgsz: Annotated[
        int, typer.Option(min=32, help="Detector input size of the naive baseline (its definition uses 640).")
    ] = 640,
    overrides: Annotated[
        list[str] | None, typer.Option("--set", help="Override a har-stream config value, KEY=VALUE. Repeatable.")
    ] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Also write the result JSON here.")] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Benchmark har-stream against the naive pipeline on the same video, side by side in one process.

    The naive pipeline runs ultralytics track() on every frame at 640 and the VGG16 seed classifier on every
    person crop of every frame, one at a time. Prints one JSON object as the last line: fps, baseline_fps,
    speedup, frames, per-stage mean/p95 ms, people and classifier calls per frame, frame age, peak RSS.
    """
    setup_logging(log_level)
    from har_stream.api import build_config
    from har_stream.bench.runner import run_benchmark
    from har_stream.config.loading import ConfigError

    try:
        cfg = build_config(config, overrides=_parse_overrides(overrides or []))
    except ConfigError as exc:
        raise _fail(str(exc), 2) from None
    if not source.is_file():
        raise _fail(f"video file not found: {source}")
    result = run_benchmark(
        source, frames=frames, baseline_frames=baseline_frames, config=cfg, live=live, baseline_imgsz=baseline_imgsz
    )
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(result, indent=2))
    typer.echo(json.dumps(result))


@bench_app.command("classifiers")
def bench_classifiers(
    source: Annotated[Path, typer.Option("--source", "-s", help="Video whose detected people are the crops.")],
    models: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            "-m",
            help="classifier.model setting (a name in models/ or a path). Repeatable; "
            "ratios are to the first. Default: default and vgg16_improved.",
        ),
    ] = None,
    runtime: Annotated[str, typer.Option(help="classifier.runtime: auto, onnx-int8 or keras.")] = "auto",
    rounds: Annotated[int, typer.Option(min=3, help="Timed rounds per model and batch size.")] = 15,
    json_path: Annotated[Path | None, typer.Option("--json", help="Also write the result JSON here.")] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "warning",
) -> None:
    """Cost per person crop of action classifiers, side by side in one process (ms per crop at batch 1 and 8).

    Each model runs as the pipeline runs it (int8 ONNX when the model has it, unless --runtime keras), on the
    same real person crops, in interleaved rounds. Prints one JSON object.
    """
    setup_logging(log_level)
    from har_stream.action_model.base import ActionModelError
    from har_stream.bench.classifier_cost import classifier_cost
    from har_stream.sources import SourceError

    if not source.is_file():
        raise _fail(f"video file not found: {source}")
    try:
        result = classifier_cost(source, models or ["default", "vgg16_improved"], runtime, rounds)
    except (ActionModelError, SourceError, ValueError) as exc:
        raise _fail(str(exc)) from None
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(result, indent=2))
    typer.echo(json.dumps(result))


@bench_app.command("detector-size")
def bench_detector_size(
    source: Annotated[
        str,
        typer.Option(
            "--source",
            "-s",
            help="A recording from the camera with people in it, or the live camera itself (a stream URL or a "
            "webcam index).",
        ),
    ],
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="The camera's config (its detector and source settings are used)."),
    ] = None,
    overrides: Annotated[
        list[str] | None, typer.Option("--set", help="Override a config value, KEY=VALUE. Repeatable.")
    ] = None,
    sizes: Annotated[
        list[int] | None,
        typer.Option("--size", min=32, help="An input size to try. Repeatable. Default: 640, 960 and 1280."),
    ] = None,
    frames: Annotated[
        int, typer.Option(min=1, help="Frames measured: spread over the whole recording, or taken live.")
    ] = 40,
    every_s: Annotated[
        float, typer.Option(min=0.0, help="Live cameras: seconds between the frames taken (40 frames: 40 s).")
    ] = 1.0,
    min_recall: Annotated[
        float,
        typer.Option(min=0.01, max=1.0, help="Share of the largest size's people a size must find to be enough."),
    ] = 0.9,
    json_path: Annotated[Path | None, typer.Option("--json", help="Also write the figures as JSON here.")] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "warning",
) -> None:
    """Which detector input size a camera needs: people found and CPU cost at each size, on its own footage.

    The largest size is the reference: each size is scored by the share of the people the reference finds
    (confidence 0.5 or more) that it finds too; no labels are needed. Recommends the smallest size that finds
    at least --min-recall of them: 640 for people a hundred pixels tall or more, larger for small or distant
    people (each step costs about twice the detector's time). A live camera is watched for --frames frames,
    one every --every-s seconds: measure it while people are in view.
    """
    setup_logging(log_level)
    from pydantic import ValidationError

    from har_stream.api import build_config
    from har_stream.bench.input_size import (
        CAMERA_SIZES,
        is_live,
        live_frames,
        measure_input_sizes,
        recommend_input_size,
        size_report,
    )
    from har_stream.config.loading import ConfigError
    from har_stream.sources import SourceError, redact
    from har_stream.weights import WeightsNotFoundError

    try:
        cfg = build_config(config, overrides=_parse_overrides(overrides or []))
    except ConfigError as exc:
        raise _fail(str(exc), 2) from None
    live = is_live(source)
    if not live and not Path(source).is_file():
        raise _fail(f"video file not found: {source}")
    tried = sorted(set(sizes or CAMERA_SIZES))
    for size in tried:  # the same checks as detector.imgsz in a config
        try:
            type(cfg.detector).model_validate(cfg.detector.model_dump() | {"imgsz": size})
        except ValidationError as exc:
            raise _fail(f"--size {size}: {exc.errors()[0]['msg']}", 2) from None
    try:
        images = live_frames(source, frames, every_s, cfg.source) if live else None
        name = redact(source) if live else Path(source)
        result = measure_input_sizes(name, tried, frames=frames, step=None, detector=cfg.detector, images=images)
    except (SourceError, WeightsNotFoundError) as exc:
        raise _fail(str(exc)) from None
    recommended = recommend_input_size(result, min_recall)
    result["min_recall"] = min_recall
    result["recommended"] = recommended
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(result, indent=2))
    typer.echo(size_report(result, recommended, min_recall))


def quantize_detector_command(
    calibration: Annotated[
        list[Path],
        typer.Option(help="Videos and/or image folders to calibrate on (real footage like yours). Repeatable."),
    ],
    model: Annotated[str, typer.Option(help="Detector weights to quantize (name or path).")] = "yolo11n-pose.pt",
    out: Annotated[Path | None, typer.Option(help="Output .onnx (default: models/<weights stem>-int8.onnx).")] = None,
    per_source: Annotated[int, typer.Option(min=1, help="Frames or images taken from each calibration source.")] = 60,
    sizes: Annotated[list[int] | None, typer.Option("--size", help="Input sizes to calibrate at. Repeatable.")] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Make the int8 detector the pipeline uses by default (detector.int8), calibrated on real images.

    Frames are spread evenly over each video; images are drawn from each folder with a fixed seed.
    """
    setup_logging(log_level)
    from har_stream.detection.calibration import load_calibration_images
    from har_stream.detection.quantize import int8_name, quantize_detector
    from har_stream.detection.weights import resolve_detector_weights
    from har_stream.weights import MODELS_DIR, WeightsNotFoundError

    try:
        weights = resolve_detector_weights(model)
        images = load_calibration_images(calibration, per_source)
    except (WeightsNotFoundError, FileNotFoundError, ValueError) as exc:
        raise _fail(str(exc)) from None
    target = out or MODELS_DIR / int8_name(weights.name)
    sources = ", ".join(f"{p.name} ({per_source})" for p in calibration)
    quantize_detector(weights, images, target, sizes or [640, 1280], sources)
    typer.echo(str(target))


def evaluate_video_command(
    clips: Annotated[
        list[Path],
        typer.Option(
            help="Folder of clips with labels.csv (file,label[,group][,start_s]), e.g. ../shared/videos/cctv. A "
            "clip is positive for an action when its label is that action; every other label is a negative. "
            "Repeatable: the folders are scored together."
        ),
    ],
    config: Annotated[
        Path,
        typer.Option(
            "--config",
            "-c",
            help="Config whose rules name the actions to score (their thresholds decide the alerts), e.g. "
            "configs/cctv.yaml.",
        ),
    ],
    json_path: Annotated[Path | None, typer.Option("--json", help="Also write results.json here.")] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Folder for results.json, roc_<action>.png and contact_sheet.jpg "
            "(default: out/eval-video/<config stem> under the current directory)."
        ),
    ] = None,
    max_frames: Annotated[
        int | None, typer.Option(min=1, help="Process at most this many frames of each clip (default: all).")
    ] = None,
    overrides: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Override a config value, KEY=VALUE with a dotted key, e.g. --set classifier.model=vgg16_improved "
            "--set detector.imgsz=960. Repeatable.",
        ),
    ] = None,
    split: Annotated[
        list[Path] | None,
        typer.Option(
            help="Clip split CSV (file,...,part) from 'clips split'; needs --part. Clips it does not list are left "
            "out. Repeatable (one per --clips folder)."
        ),
    ] = None,
    part: Annotated[str | None, typer.Option(help="train, val or test: evaluate only that part of --split.")] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar over the clips.")] = True,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "warning",
) -> None:
    """Run the whole pipeline over labelled clips and score each action the config's rules flag.

    A clip's score for an action is the highest evidence for that action (its column of the smoothed per-person
    scores, the value rules compare with min_confidence) that any tracked person reached on any frame. From the
    scores: AUROC per action; from the alerts the rules raise: alert recall (share of the action's clips with an
    alert of it), false-alarm rate (share of all other clips with one; also on clips labelled none) and the
    median media time of the first alert. Outputs (export, events, window) are off whatever the config says.

    Writes results.json, roc_<action>.png and contact_sheet.jpg (worst misses and false alarms, each clip's
    peak frame with the overlay) to --out and prints a summary table. A clip that cannot be read is reported
    in results.json with an "error" and left out of the figures.
    """
    setup_logging(log_level)
    from har_stream.action_model.base import ActionModelError
    from har_stream.api import build_config
    from har_stream.clips import ClipLabelError, read_clip_labels
    from har_stream.config.loading import ConfigError
    from har_stream.detection.detector import DetectorError
    from har_stream.video_eval.evaluation import evaluate_video
    from har_stream.video_eval.results import summary_table
    from har_stream.video_eval.runner import build_pipeline
    from har_stream.video_eval.selection import ClipSelectionError, flagged_actions, select_split_part
    from har_stream.weights import WeightsNotFoundError

    split = split or None
    if (split is None) != (part is None):
        raise _fail("--split and --part go together: pass both (e.g. --split models/cctv_split.csv --part val)", 2)
    try:
        cfg = build_config(config, overrides=_parse_overrides(overrides or []))
    except ConfigError as exc:
        raise _fail(str(exc), 2) from None
    actions = flagged_actions(cfg)
    if not actions:
        raise _fail(f"{config}: no rule names an action to score ('*' and 'unknown' do not count)", 2)
    try:
        labelled = [clip for folder in clips for clip in read_clip_labels(folder)]
        if split is not None and part is not None:
            labelled = select_split_part(labelled, split, part)
    except (ClipLabelError, ClipSelectionError) as exc:
        raise _fail(str(exc)) from None
    log.info("evaluating %d clips for %s", len(labelled), ", ".join(actions))
    try:
        pipeline = build_pipeline(cfg)
    except (WeightsNotFoundError, ActionModelError, DetectorError) as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        raise _fail("interrupted while loading models; nothing was written", 130) from None
    out = out or Path("out") / "eval-video" / config.stem
    folders = ", ".join(map(str, clips))
    details = {
        "clips_folder": folders,
        "split": ", ".join(map(str, split)) if split else None,
        "part": part,
    }
    try:
        result = evaluate_video(
            cfg, labelled, out, config_name=str(config), json_path=json_path, max_frames=max_frames,
            pipeline=pipeline, progress=progress, details=details,
        )  # fmt: skip
    except OSError as exc:
        raise _fail(str(exc)) from None
    clip_run = result.run
    evaluated = len(clip_run.clips) - len(clip_run.skipped)
    typer.echo(f"{result.document['model']} on {evaluated} clips of {folders}" + (f" ({part})" if part else ""))
    typer.echo(summary_table(result.summary))
    for path in [*result.json_paths, *result.roc_pngs.values(), result.contact_sheet]:
        typer.echo(f"wrote {path}")
    if clip_run.skipped:
        typer.echo(f"{len(clip_run.skipped)} clips could not be read: {', '.join(clip_run.skipped)}", err=True)
    if clip_run.interrupted:
        raise _fail("interrupted: the figures cover the clips finished before Ctrl-C", 130)
    if evaluated == 0:
        raise _fail("no clip could be evaluated")


def split_clips_command(
    clips: Annotated[Path, typer.Option(help="Folder of clips with labels.csv (file,label[,group]).")],
    out: Annotated[Path, typer.Option(help="Split CSV to write (file,label,group,part).")],
    seed: Annotated[int, typer.Option(help="Seed of the order in which groups are shared out.")] = 0,
    pins: Annotated[
        list[str] | None,
        typer.Option("--pin", help="Put a recording group in a part, GROUP=PART (train, val or test). Repeatable."),
    ] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "warning",
) -> None:
    """Split labelled clips into train / val / test by recording group (every clip of a group in one part).

    Each part gets about its share (60/15/25 %) of every label. Prints the clips per part and label.
    """
    setup_logging(log_level)
    from collections import Counter

    from har_stream.clips import ClipLabelError, read_clip_labels, save_clip_split, split_clips_by_group
    from har_stream.clips.split import PARTS

    pinned: dict[str, str] = {}
    for item in pins or []:
        group, sep, part = item.partition("=")
        if not sep or not group.strip() or not part.strip():
            raise _fail(f"--pin expects GROUP=PART, e.g. surv_video_03=test; got {item!r}", 2)
        pinned[group.strip()] = part.strip()
    try:
        labelled = read_clip_labels(clips)
        split = split_clips_by_group(labelled, seed=seed, pinned=pinned)
    except ClipLabelError as exc:
        raise _fail(str(exc)) from None
    except ValueError as exc:
        raise _fail(str(exc), 2) from None
    try:
        save_clip_split(out, labelled, split)
    except OSError as exc:
        raise _fail(str(exc)) from None
    counts = Counter((split[clip.file], clip.label) for clip in labelled)
    for part_name in PARTS:
        per_label = ", ".join(f"{label} {n}" for (p, label), n in sorted(counts.items()) if p == part_name)
        total = sum(n for (p, _), n in counts.items() if p == part_name)
        typer.echo(f"{part_name}: {total} clips ({per_label or 'none'})")
    typer.echo(f"wrote {out}")


def export_reviewed_command(
    out: Annotated[Path, typer.Option(help="Folder to write the clips and labels.csv (file,label,group,start_s) to.")],
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="Site config that served the alerts: gives the store, media folder and clip_pre_s."
        ),
    ] = None,
    store: Annotated[Path | None, typer.Option(help="Event database (default: the site config's store).")] = None,
    media: Annotated[
        Path | None, typer.Option(help="Media folder holding the clips (default: the site config's).")
    ] = None,
    pre_s: Annotated[
        float | None,
        typer.Option(min=0, help="Seconds each clip starts before its first alert (default: media.clip_pre_s)."),
    ] = None,
    group_by: Annotated[
        str, typer.Option(help="Recording group of each clip: camera, or camera-day (camera and UTC date).")
    ] = "camera",
    overwrite: Annotated[bool, typer.Option(help="Replace an existing labels.csv in --out.")] = False,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "warning",
) -> None:
    """Write every reviewed alert's clip into --out with labels.csv, for training and 'clips evaluate-video'.

    A confirmed alert is labelled with its action, a false alarm 'none'; the group is the camera (or camera and
    day); start_s is where the alert starts in its clip. Alerts whose clip file is missing are skipped (warned and
    counted). Pass --config, or --store and --media.
    """
    setup_logging(log_level)
    from collections import Counter
    from typing import cast

    from har_stream.store import EventStore, StoreError
    from har_stream.store.export import ExportError, GroupBy, export_reviewed

    if group_by not in ("camera", "camera-day"):
        raise _fail(f"--group-by is camera or camera-day; got {group_by!r}", 2)
    if config is not None:
        from har_stream.config.loading import ConfigError
        from har_stream.config.site import load_site

        try:
            site = load_site(config)
        except ConfigError as exc:
            raise _fail(str(exc), 2) from None
        store = store or site.store_path
        media = media or site.media.folder
        pre_s = site.media.clip_pre_s if pre_s is None else pre_s
    if store is None or media is None:
        raise _fail("pass --config (a site config), or both --store and --media", 2)
    if not store.is_file():
        raise _fail(f"no event database at {store}")
    try:
        events = EventStore(store)
    except StoreError as exc:
        raise _fail(str(exc)) from None
    try:
        summary = export_reviewed(
            events.reviewed(),
            media,
            out,
            lookup=events.get,
            pre_s=pre_s,
            group_by=cast(GroupBy, group_by),
            overwrite=overwrite,
        )
    except ExportError as exc:
        raise _fail(str(exc)) from None
    finally:
        events.close()
    labels = Counter(row["label"] for row in summary.rows)
    typer.echo(f"exported {len(summary.rows)} clips ({', '.join(f'{k} {n}' for k, n in sorted(labels.items()))})")
    if summary.skipped:
        typer.echo(f"skipped {len(summary.skipped)} reviewed alerts without a clip file", err=True)
    typer.echo(f"wrote {summary.labels}")


models_app.command("train")(train_command)
models_app.command("fine-tune")(finetune_whole_command)
models_app.command("ensemble")(make_ensemble_command)
models_app.command("average")(average_weights_command)
models_app.command("open-set")(train_open_set_command)
models_app.command("choose-input-size")(choose_input_size_command)
models_app.command("quantize")(quantize_classifier_command)
models_app.command("quantize-detector")(quantize_detector_command)
models_app.command("evaluate")(evaluate_command)
models_app.command("pose-ablation")(pose_ablation_command)
clips_app.command("split")(split_clips_command)
clips_app.command("harvest")(harvest_clips_command)
clips_app.command("evaluate-video")(evaluate_video_command)
clips_app.command("export-reviewed")(export_reviewed_command)
clips_app.command("train-temporal")(train_temporal_command)


def main() -> None:
    """Console-script entry point (Click turns a Ctrl-C outside ``run``'s own handling into "Aborted!")."""
    app()


if __name__ == "__main__":
    main()
