"""Build an ensemble model folder from trained members: weights chosen on val, figures on test, a card.

Every member is scored as the ensemble serves it (the crop cut at the largest member's size, shrunk to each
member's own), on the val and test splits its folders share. The members' weights are chosen on val accuracy (the
figure the ensemble is built for; log loss breaks ties) over a grid on the simplex (steps of 0.05 for two members,
0.1 for more): log loss alone would favour whichever member is best calibrated, not the most accurate mix. With
``flip`` on or auto each member is also scored on the mirrored images, and the test-time flip (every member averages
the crop and its mirror; twice the cost) is one more choice made on val (auto: with and without, the cheaper wins a
tie). Test is scored once, after the choice.
"""

from __future__ import annotations

import itertools
import json
import os
import shlex
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from har_stream.training.dataset import DatasetError, LabelledImage, split_parts


@dataclass
class EnsembleOptions:
    """What ``har-stream models ensemble`` accepts."""

    members: list[Path]
    data: Path
    out: Path
    runtime: str = "auto"
    flip: str = "off"
    command: str = field(default_factory=lambda: shlex.join(["har-stream", *sys.argv[1:]]))


def weight_grid(n: int) -> list[tuple[float, ...]]:
    """Weight vectors on the simplex (sum 1, each >= 0) for ``n`` members."""
    if n == 1:
        return [(1.0,)]
    steps = 20 if n == 2 else 10
    return [
        tuple(c / steps for c in (*combo, steps - sum(combo)))
        for combo in itertools.product(range(steps + 1), repeat=n - 1)
        if sum(combo) <= steps
    ]


#: The values of ``EnsembleOptions.flip``: never, always, or chosen on val.
FLIP_CHOICES = ("off", "on", "auto")


class MemberAsServed:
    """A member fed the ensemble's crop (largest member size), shrunk as the ensemble shrinks it; ``mirror``: the
    crop flipped left to right (one view of the test-time flip)."""

    def __init__(self, ensemble: Any, index: int, mirror: bool = False) -> None:
        self.ensemble, self.index, self.mirror = ensemble, index, mirror
        member = ensemble.members[index]
        self.name, self.classes, self.input_size = member.name, member.classes, ensemble.input_size

    def predict(self, crops: np.ndarray) -> np.ndarray:
        from har_stream.action_model.ensemble import fit_crops, mirrored

        member = self.ensemble.members[self.index]
        fitted = fit_crops(crops, member.input_size)
        return member.predict(mirrored(fitted) if self.mirror else fitted)


def _parts(options: EnsembleOptions) -> dict[str, list[LabelledImage]]:
    splits = {m: (m / "split.csv") for m in options.members}
    missing = [str(m) for m, s in splits.items() if not s.is_file()]
    if missing:
        raise DatasetError(f"no split.csv in {', '.join(missing)}: members must carry the split they were tested on")
    if len({s.read_text() for s in splits.values()}) != 1:
        raise DatasetError("the members were not trained on the same split (their split.csv differ)")
    return split_parts(splits[options.members[0]], options.data, ("val", "test"))


def build_ensemble(options: EnsembleOptions) -> dict[str, Any]:
    """Score the members, choose the weights on val, write the ensemble folder; return its figures."""
    from har_stream.action_model.ensemble import ENSEMBLE_KEY, EnsembleActionModel
    from har_stream.action_model.loading import load_action_model
    from har_stream.training.latency import measure_latency
    from har_stream.training.metrics import classification_report, headline_figures, log_loss
    from har_stream.training.reports import plot_confusion
    from har_stream.training.whole_finetune import scored

    if options.flip not in FLIP_CHOICES:
        raise DatasetError(f"--flip must be one of {', '.join(FLIP_CHOICES)}, not {options.flip!r}")
    if len(options.members) < 2:
        raise DatasetError("an ensemble needs at least two --member folders")
    if options.out.resolve() in {m.resolve() for m in options.members}:
        raise DatasetError("--out must be a new folder, not one of the members")
    parts = _parts(options)
    members = [load_action_model(m, options.runtime) for m in options.members]
    whole = EnsembleActionModel(members, [1.0] * len(members), {"name": options.out.name}, options.out)
    flips = {"off": (False,), "on": (True,), "auto": (False, True)}[options.flip]
    # probs[flip][part][member]: each member's probabilities, plain or averaged with the mirrored view
    probs: dict[bool, dict[str, list[np.ndarray]]] = {flip: {} for flip in flips}
    y: dict[str, np.ndarray] = {}
    for part, rows in parts.items():
        for index in range(len(members)):
            y[part], plain = scored(MemberAsServed(whole, index), rows)
            views = {False: plain.astype(np.float64)}
            if True in flips:
                _, mirror = scored(MemberAsServed(whole, index, mirror=True), rows)
                views[True] = (views[False] + mirror) / 2
            for flip in flips:
                probs[flip].setdefault(part, []).append(views[flip])
    grid = [(flip, w) for flip in flips for w in weight_grid(len(members))]

    def mix(part: str, choice: tuple[bool, tuple[float, ...]]) -> np.ndarray:
        flip, w = choice
        return sum(wi * p for wi, p in zip(w, probs[flip][part], strict=True))

    def val_order(choice: tuple[bool, tuple[float, ...]]) -> tuple[float, float]:
        p = mix("val", choice)
        return -float((p.argmax(1) == y["val"]).mean()), log_loss(y["val"], p)

    val_orders = {choice: val_order(choice) for choice in grid}
    flip_chosen, chosen = min(grid, key=val_orders.__getitem__)  # min keeps the first of ties: no flip before flip
    classes = tuple(whole.classes)
    figures = {part: classification_report(y[part], mix(part, (flip_chosen, chosen)), classes) for part in parts}
    alone = {
        m.name: {part: round(float((probs[flips[0]][part][i].argmax(1) == y[part]).mean()), 4) for part in parts}
        for i, m in enumerate(options.members)
    }
    flip_figures = {}  # the best mix on val with and without the flip, for the card
    for flip in flips:
        best = min((choice for choice in grid if choice[0] == flip), key=val_orders.__getitem__)
        flip_figures[str(flip).lower()] = {"val_accuracy": round(-val_orders[best][0], 4), "weights": list(best[1])}

    folder = options.out
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(options.members[0] / "split.csv", folder / "split.csv")  # evaluate finds the held-out split
    entries = [
        {"model": os.path.relpath(m.resolve(), folder.resolve()), "weight": w}
        for m, w in zip(options.members, chosen, strict=True)
    ]
    meta = {
        "name": folder.name,
        ENSEMBLE_KEY: {
            "members": entries,
            "weights_chosen_on": "val accuracy, ties by val log loss",
            "test_time_flip": flip_chosen,
            "best_on_val_by_flip": flip_figures,
            "members_alone_accuracy": alone,
        },
        "classes": list(classes),
        "input_size": whole.input_size,
        "data": {"path": str(options.data), "images": sum(len(r) for r in parts.values())},
        "command": options.command,
        "saved": time.strftime("%Y-%m-%d"),
        "figures": headline_figures(figures),
    }
    (folder / "model.json").write_text(json.dumps(meta, indent=2) + "\n")
    meta["latency_ms_per_crop"] = {options.runtime: measure_latency(load_action_model(folder, options.runtime))}
    (folder / "model.json").write_text(json.dumps(meta, indent=2) + "\n")
    (folder / "metrics.json").write_text(json.dumps(figures, indent=2) + "\n")
    title = f"{folder.name}: test split, accuracy {figures['test']['accuracy']:.3f}"
    plot_confusion(np.array(figures["test"]["confusion_matrix"]), list(classes), folder / "confusion.png", title)
    write_ensemble_card(folder, meta)
    names = [m.name for m in options.members]
    return {
        "weights": dict(zip(names, chosen, strict=True)),
        "test_time_flip": flip_chosen,
        "best_on_val_by_flip": flip_figures,
        "alone": alone,
        **meta["figures"],
    }


def write_ensemble_card(folder: Path, meta: dict[str, Any]) -> Path:
    """``card.md`` of an ensemble folder, from its ``model.json``."""
    from har_stream.action_model.ensemble import ENSEMBLE_KEY
    from har_stream.model_card import ModelCard, Table
    from har_stream.training.reports import figures_table

    spec = meta[ENSEMBLE_KEY]
    card = ModelCard(
        f"Action model `{meta['name']}` (ensemble)",
        [
            f"Built {meta['saved']} with `{meta['command']}`. It holds no network of its own: the pipeline runs each "
            "member (its int8 copy under `classifier.runtime: auto`) on the person crop, shrunk to the member's input "
            f"size, and averages their probabilities with the weights below. Crops are cut at {meta['input_size']} px."
        ],
    )
    members = Table(["member", "weight", "val accuracy alone", "test accuracy alone"])
    for entry in spec["members"]:
        alone = spec["members_alone_accuracy"].get(Path(entry["model"]).name, {})
        members.rows.append(
            [f"`{entry['model']}`", f"{entry['weight']:.2f}", str(alone.get("val", "–")), str(alone.get("test", "–"))]
        )
    flip = spec.get("test_time_flip", False)
    card.add(
        "Members",
        members,
        "",
        f"Weights chosen on the val split by {spec['weights_chosen_on']} (a grid on the simplex); the test split was "
        "scored once, after the choice. The members share one split (`split.csv` of each). Test-time flip: "
        + (
            "on (every member averages the crop and its mirror image; twice the cost)"
            if flip
            else "off (each member sees the crop once)"
        )
        + _flip_choice_text(spec)
        + ".",
    )
    figures = card.add("Figures (whole images, as `har-stream models evaluate` feeds them)")
    figures.body += ["", figures_table(meta["figures"])]
    for runtime, lat in meta.get("latency_ms_per_crop", {}).items():
        figures.body += ["", f"Latency per crop ({runtime}, {lat['machine']}): batch 1 {lat['batch1']:.1f} ms, batch 8 "
                         f"{lat['batch8']:.1f} ms: the members' costs added up."]  # fmt: skip
    figures.body += [
        "",
        f"Classes (output order): {', '.join(meta['classes'])}.",
        "",
        "Files: `model.json`, `split.csv` (the members'), `metrics.json`, `confusion.png`, `card.md`.",
    ]
    card.add_notes(meta.get("notes"))
    return card.write(folder)


def _flip_choice_text(spec: dict[str, Any]) -> str:
    """How val chose the test-time flip, when it was a choice (``--flip auto`` scored both ways)."""
    by_flip = spec.get("best_on_val_by_flip", {})
    if len(by_flip) < 2:
        return ""
    return (
        f", chosen on val: best val accuracy {by_flip['false']['val_accuracy']:.4f} without, "
        f"{by_flip['true']['val_accuracy']:.4f} with"
    )
