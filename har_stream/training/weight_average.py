"""Average the weights of fine-tuned classifiers of one lineage (a "model soup"), choosing the mix on val.

Models fine-tuned one after another from the same start (for example the rounds of ``models fine-tune``) often lie
in one basin of the loss, so the mean of their weights classifies better than either (Wortsman et al., 2022,
"Model soups"), at the cost of one model: unlike an ensemble, the result is a single network. Every ingredient
must share backbone, head, classes, input size and split; batch normalisation statistics are averaged with the
rest. Each candidate mix (and every ingredient alone, so the result is never worse on val than the best
ingredient) is scored on the val split, whole images as ``har-stream models evaluate``; the test split is scored once,
after the choice. The output is an ordinary model folder with its int8 copy and card.
"""

from __future__ import annotations

import logging
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from har_stream.training.dataset import DatasetError, load_split, split_parts

log = logging.getLogger(__name__)

#: model.json keys that must agree between ingredients.
SAME_KEYS = ("backbone", "head", "classes", "input_size")


@dataclass
class WeightAverageOptions:
    """What ``har-stream models average`` accepts."""

    models: list[Path]
    data: Path
    out: Path
    #: Candidate mixes, one weight per model each (normalised to sum to 1); empty: the uniform mean and, for two
    #: models, 0.3 / 0.7 and 0.7 / 0.3.
    mixes: list[tuple[float, ...]] = field(default_factory=list)
    int8: bool = True
    command: str = field(default_factory=lambda: shlex.join(["har-stream", *sys.argv[1:]]))


def candidate_mixes(n_models: int, given: list[tuple[float, ...]]) -> list[tuple[float, ...]]:
    """Every ingredient alone, then the given mixes (or the default ones), each normalised to sum to 1;
    a mix with the wrong length or a negative or all-zero weight is a :class:`DatasetError`."""
    alone = [tuple(float(i == j) for j in range(n_models)) for i in range(n_models)]
    if not given:
        given = [tuple([1.0] * n_models)]
        if n_models == 2:
            given += [(0.3, 0.7), (0.7, 0.3)]
    mixes = []
    for mix in given:
        if len(mix) != n_models or min(mix) < 0 or sum(mix) <= 0:
            raise DatasetError(
                f"--mix {','.join(f'{w:g}' for w in mix)}: give {n_models} weights >= 0 (one per --model) with a "
                "positive sum"
            )
        mixes.append(tuple(w / sum(mix) for w in mix))
    return list(dict.fromkeys([*alone, *mixes]))


def averaged(weight_lists: list[list[np.ndarray]], mix: tuple[float, ...]) -> list[np.ndarray]:
    """The ``mix``-weighted mean, array by array, of several networks' ``get_weights()``."""
    return [
        sum(w * np.asarray(arrays[i], dtype=np.float64) for w, arrays in zip(mix, weight_lists, strict=True)).astype(
            weight_lists[0][i].dtype
        )
        for i in range(len(weight_lists[0]))
    ]


def _check(options: WeightAverageOptions) -> list[dict[str, Any]]:
    from har_stream.action_model.ensemble import ENSEMBLE_KEY
    from har_stream.action_model.loading import read_meta

    if len(options.models) < 2:
        raise DatasetError("'har-stream models average' needs --model at least twice")
    metas = [read_meta(folder) for folder in options.models]
    first = metas[0]
    first_split = options.models[0] / "split.csv"
    shared_split = load_split(first_split) if first_split.is_file() else None
    for folder, meta in zip(options.models, metas, strict=True):
        if ENSEMBLE_KEY in meta:
            raise DatasetError(f"{folder} is an ensemble: average its members' weights, not the ensemble's")
        differs = [key for key in SAME_KEYS if meta.get(key) != first.get(key)]
        if differs:
            raise DatasetError(
                f"{folder} differs from {options.models[0]} in {', '.join(differs)}: only models of one architecture "
                "(the rounds of one lineage) can be averaged; bring them to one input size with "
                "'har-stream models choose-input-size'"
            )
        if not (folder / "split.csv").is_file():
            raise DatasetError(f"{folder} has no split.csv: the mix is chosen on the models' shared val split")
        if load_split(folder / "split.csv") != shared_split:
            raise DatasetError(
                f"{folder}/split.csv differs from {options.models[0]}'s: every model must have been trained on the "
                "same split, or test images of one are train images of another"
            )
    if options.out.resolve() in {folder.resolve() for folder in options.models}:
        raise DatasetError("--out must be a new folder, not one of the models")
    return metas


def average_weights(options: WeightAverageOptions) -> dict[str, Any]:
    """Score every candidate mix on val, keep the best, write the model folder; return the figures."""
    from har_stream.action_model.loading import load_action_model, save_model_folder
    from har_stream.training.metrics import log_loss
    from har_stream.training.reports import write_card
    from har_stream.training.whole_finetune import figures_as_saved, finish_model_folder, scored

    metas = _check(options)
    mixes = candidate_mixes(len(options.models), options.mixes)
    parts = split_parts(options.models[0] / "split.csv", options.data, ("val", "test"))
    models = [load_action_model(folder, "keras") for folder in options.models]
    weight_lists = [model.keras_model.get_weights() for model in models]
    target = models[0]
    by_mix: list[dict[str, Any]] = []
    best_index, best_key = 0, (-1.0, 0.0)
    for index, mix in enumerate(mixes):
        target.keras_model.set_weights(averaged(weight_lists, mix))
        y, probs = scored(target, parts["val"])
        accuracy, loss = float((probs.argmax(1) == y).mean()), log_loss(y, probs)
        by_mix.append({"mix": [round(w, 4) for w in mix], "val_accuracy": round(accuracy, 4), "val_log_loss": loss})
        log.info("mix %s: val accuracy %.4f, log loss %.4f", by_mix[-1]["mix"], accuracy, loss)
        if (accuracy, -loss) > best_key:  # ties on accuracy go to the lower log loss
            best_index, best_key = index, (accuracy, -loss)
    chosen = mixes[best_index]
    target.keras_model.set_weights(averaged(weight_lists, chosen))

    names = [folder.name for folder in options.models]
    recipe_mix = " + ".join(f"{w:.2f} × `{n}`" for w, n in zip(chosen, names, strict=True))
    step = (
        f"Weights averaged with `{options.command}`: {recipe_mix}, chosen on whole val images among "
        f"{len(mixes)} mixes (each model alone included): "
        + "; ".join(f"{row['mix']} {row['val_accuracy']:.4f}" for row in by_mix)
        + "."
    )
    meta = dict(metas[int(np.argmax(chosen))])
    recipe = dict(meta.get("recipe", {"name": "", "steps": []}))
    recipe["steps"] = [*recipe.get("steps", []), step]
    meta.update(
        name=options.out.name,
        recipe=recipe,
        command=options.command,
        weight_average={"models": names, "chosen": [round(w, 4) for w in chosen], "by_mix": by_mix},
    )
    for key in ("trained_layers", "saved", "int8", "latency_ms_per_crop", "format", "input_size_choice"):
        meta.pop(key, None)
    net = target.keras_model
    # Layers no ingredient trained are the backbone's own weights in every one (and so in the mean): they stay
    # resolved from the backbone's source, as in the ingredients, rather than saved again.
    any_trained = {name for m in metas for name in m.get("trained_layers", [])}
    trained = [layer.name for layer in net.layers if layer.weights and layer.name in any_trained]
    save_model_folder(options.out, net, meta, trained, {name for name in trained if not name.startswith("head_")})
    shutil.copyfile(options.models[0] / "split.csv", options.out / "split.csv")
    figures = figures_as_saved(options.out, parts, tuple(metas[0]["classes"]))
    full = finish_model_folder(options.out, options.data, figures, options.int8)
    write_card(options.out, full, figures)
    return {"chosen": list(chosen), "by_mix": by_mix, **full["figures"]}
