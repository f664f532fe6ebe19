"""Build an ensemble model folder from trained members: weights chosen on val, figures on test, a card.

Every member is scored as the ensemble serves it (the crop cut at the largest member's size, shrunk to each
member's own), on the val and test splits its folders share. The members' weights are chosen on val accuracy (the
figure the ensemble is built for; log loss breaks ties) over a grid on the simplex (steps of 0.05 for two members,
0.1 for more): log loss alone would favour whichever member is best calibrated, not the most accurate mix. Test is
scored once, after the choice.
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
    """What ``har-stream make-ensemble`` accepts."""

    members: list[Path]
    data: Path
    out: Path
    runtime: str = "auto"
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


class MemberAsServed:
    """A member fed the ensemble's crop (largest member size), shrunk as the ensemble shrinks it."""

    def __init__(self, ensemble: Any, index: int) -> None:
        self.ensemble, self.index = ensemble, index
        member = ensemble.members[index]
        self.name, self.classes, self.input_size = member.name, member.classes, ensemble.input_size

    def predict(self, crops: np.ndarray) -> np.ndarray:
        from har_stream.action_model.ensemble import fit_crops

        member = self.ensemble.members[self.index]
        return member.predict(fit_crops(crops, member.input_size))


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
    from har_stream.training.metrics import classification_report, headline_figures, log_loss
    from har_stream.training.reports import plot_confusion
    from har_stream.training.trainer import measure_latency
    from har_stream.training.whole_finetune import scored

    if len(options.members) < 2:
        raise DatasetError("an ensemble needs at least two --member folders")
    if options.out.resolve() in {m.resolve() for m in options.members}:
        raise DatasetError("--out must be a new folder, not one of the members")
    parts = _parts(options)
    members = [load_action_model(m, options.runtime) for m in options.members]
    whole = EnsembleActionModel(members, [1.0] * len(members), {"name": options.out.name}, options.out)
    probs: dict[str, list[np.ndarray]] = {}
    y: dict[str, np.ndarray] = {}
    for part, rows in parts.items():
        for index in range(len(members)):
            y[part], p = scored(MemberAsServed(whole, index), rows)
            probs.setdefault(part, []).append(p.astype(np.float64))
    grid = weight_grid(len(members))
    mix = lambda part, w: sum(wi * p for wi, p in zip(w, probs[part], strict=True))  # noqa: E731

    def val_order(w: tuple[float, ...]) -> tuple[float, float]:
        p = mix("val", w)
        return -float((p.argmax(1) == y["val"]).mean()), log_loss(y["val"], p)

    chosen = min(grid, key=val_order)
    classes = tuple(whole.classes)
    figures = {part: classification_report(y[part], mix(part, chosen), classes) for part in parts}
    alone = {
        m.name: {part: round(float((probs[part][i].argmax(1) == y[part]).mean()), 4) for part in parts}
        for i, m in enumerate(options.members)
    }

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
    return {"weights": dict(zip(names, chosen, strict=True)), "alone": alone, **meta["figures"]}


def write_ensemble_card(folder: Path, meta: dict[str, Any]) -> Path:
    """``card.md`` of an ensemble folder, from its ``model.json``."""
    from har_stream.action_model.ensemble import ENSEMBLE_KEY
    from har_stream.training.reports import card_notes

    spec = meta[ENSEMBLE_KEY]
    lines = [
        f"# Action model `{meta['name']}` (ensemble)",
        "",
        f"Built {meta['saved']} with `{meta['command']}`. It holds no network of its own: the pipeline runs each "
        "member (its int8 copy under `classifier.runtime: auto`) on the person crop, shrunk to the member's input "
        f"size, and averages their probabilities with the weights below. Crops are cut at {meta['input_size']} px.",
        "",
        "## Members",
        "| member | weight | val accuracy alone | test accuracy alone |",
        "|---|---|---|---|",
    ]
    for entry in spec["members"]:
        name = Path(entry["model"]).name
        alone = spec["members_alone_accuracy"].get(name, {})
        val, test = alone.get("val", "–"), alone.get("test", "–")
        lines.append(f"| `{entry['model']}` | {entry['weight']:.2f} | {val} | {test} |")
    lines += [
        "",
        f"Weights chosen on the val split by {spec['weights_chosen_on']} (a grid on the simplex); the test split was "
        "scored once, after the choice. The members share one split (`split.csv` of each).",
        "",
        "## Figures (whole images, as `har-stream evaluate` feeds them)",
        "",
        "| split | images | top-1 accuracy | log loss | balanced accuracy | macro F1 |",
        "|---|---|---|---|---|---|",
    ]
    for part, f in meta["figures"].items():
        lines.append(
            f"| {part} | {f['n_images']} | {f['accuracy']:.3f} | {f['log_loss']:.3f} | "
            f"{f['balanced_accuracy']:.3f} | {f['macro_f1']:.3f} |"
        )
    for runtime, lat in meta.get("latency_ms_per_crop", {}).items():
        lines += ["", f"Latency per crop ({runtime}, {lat['machine']}): batch 1 {lat['batch1']:.1f} ms, batch 8 "
                  f"{lat['batch8']:.1f} ms: the members' costs added up."]  # fmt: skip
    lines += [
        "",
        f"Classes (output order): {', '.join(meta['classes'])}.",
        "",
        "Files: `model.json`, `split.csv` (the members'), `metrics.json`, `confusion.png`, `card.md`.",
    ]
    lines += card_notes(meta)
    path = folder / "card.md"
    path.write_text("\n".join(lines) + "\n")
    return path
