"""``har-stream clips harvest``, ``models open-set`` and ``clips train-temporal``: training on real labelled
footage."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from har_stream.log_setup import setup_logging

CLIPS_HELP = "Folder of clips with labels.csv (file,label,group), e.g. ../shared/videos/cctv."
SPLIT_HELP = (
    "Clip split CSV written by 'har-stream clips split' (file,...,part), e.g. models/cctv_split.csv for "
    "../shared/videos/cctv; test-part clips are never trained on."
)
HARVEST_HELP = "Folder written by 'har-stream clips harvest' (its --out), e.g. out/harvest."


def harvest_clips_command(
    clips: Annotated[Path, typer.Option(help=CLIPS_HELP)],
    split: Annotated[Path, typer.Option(help=SPLIT_HELP)],
    out: Annotated[
        Path,
        typer.Option(
            help="Folder for tracks/*.npz, crops/ and crops.csv, e.g. out/harvest; give the same folder again to "
            "resume."
        ),
    ],
    config: Annotated[
        Path,
        typer.Option(
            "--config",
            "-c",
            help="Config whose detector, tracker and crop settings are used: the config of the cameras the models "
            "will serve, e.g. configs/cctv.yaml.",
        ),
    ],
    crop_every: Annotated[int, typer.Option(min=1, help="Cut each person's crop every N frames.")] = 3,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "warning",
) -> None:
    """Run the pipeline's own detector and tracker over every clip: tracks (boxes, keypoints, speed, appearance
    patches, optical flow) of all clips, person crops of the train and val parts only. Resumes where it stopped;
    tracks harvested by an older version get their optical flow added without detecting again."""
    setup_logging(log_level)
    from har_stream.clips import ClipLabelError, load_clip_split, read_clip_labels
    from har_stream.config.loading import ConfigError, load_config
    from har_stream.training.harvest import harvest_clips

    try:
        labelled = read_clip_labels(clips)
        parts = load_clip_split(split)
        cfg = load_config(config)
    except (ClipLabelError, ConfigError, FileNotFoundError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    order = {"train": 0, "val": 1, "test": 2}
    labelled = sorted(labelled, key=lambda c: order.get(parts.get(c.file, ""), 3))
    harvest_clips(labelled, cfg, out, {"train": True, "val": True}, parts, crop_every=crop_every)
    typer.echo(f"harvested {len(labelled)} clips into {out}")


def train_open_set_command(
    data: Annotated[Path, typer.Option(help="HAR image folder (labels.csv + images/), e.g. ../shared/data/har.")],
    harvest: Annotated[Path, typer.Option(help=HARVEST_HELP)],
    base: Annotated[
        Path,
        typer.Option(help="Model folder whose backbone is kept, e.g. models/efficientnet_lite2_whole."),
    ],
    out: Annotated[Path, typer.Option(help="Model folder to write, e.g. models/efficientnet_lite2_open.")],
    cctv_weight: Annotated[float, typer.Option(min=0.0, help="Weight of CCTV crops against photos.")] = 1.0,
    seed: Annotated[int, typer.Option()] = 0,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Train the open-set classifier as served (15 actions + walking, standing, other), calibrate it by
    temperature scaling, make its int8 copy and card."""
    setup_logging(log_level)
    from har_stream.training.open_set import OpenSetOptions, train_open_set
    from har_stream.training.open_set_card import add_int8_and_card

    options = OpenSetOptions(
        base=base,
        data=data,
        harvest=harvest,
        out=out,
        seed=seed,
        cctv_weight=cctv_weight,
        command="har-stream " + " ".join(sys.argv[1:]),
    )
    figures = train_open_set(options)
    figures.pop("history", None)
    figures.update(add_int8_and_card(out, data, harvest, seed))
    typer.echo(json.dumps(figures, indent=2))


def train_temporal_command(
    clips: Annotated[Path, typer.Option(help=CLIPS_HELP)],
    split: Annotated[Path, typer.Option(help=SPLIT_HELP)],
    harvest: Annotated[Path, typer.Option(help=HARVEST_HELP)],
    out: Annotated[Path, typer.Option(help="Model folder to write, e.g. models/temporal_pose.")],
    seed: Annotated[int, typer.Option()] = 0,
    fit_on: Annotated[
        str,
        typer.Option(
            help="Parts the saved model is fitted on: train,val (the shipped model) or train (keeps the val "
            "groups held out, to tune thresholds with 'clips evaluate-video' on them)."
        ),
    ] = "train,val",
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Train the temporal model (gradient-boosted trees over one-second windows of pose and motion, one per
    motion action) on the train groups, report the val groups, refit on both and export ONNX models."""
    setup_logging(log_level)
    from har_stream.clips import load_clip_split, read_clip_labels
    from har_stream.training.temporal_card import write_temporal_card
    from har_stream.training.temporal_training import train_temporal

    figures = train_temporal(
        read_clip_labels(clips),
        harvest,
        load_clip_split(split),
        out,
        seed=seed,
        command="har-stream " + " ".join(sys.argv[1:]),
        final_parts=tuple(p.strip() for p in fit_on.split(",")),
    )
    write_temporal_card(out)
    typer.echo(json.dumps(figures, indent=2))
