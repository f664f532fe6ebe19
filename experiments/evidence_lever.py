"""How a person's fighting evidence is formed from the image and motion scores, measured by the cross-validation
of ``experiments/fusion_cv.py`` (the same 5 folds of recording groups over the train and val groups, the same
out-of-fold traces; the test groups are never read).

Four changes to the evidence the rules judge, alone and together, each at every fusion weight:

* **log-linear**: ``motion^w x image^(1 - w)`` in place of ``w x motion + (1 - w) x image`` (a weighted geometric
  mean: both cues must agree, where the linear mean lets one confident cue carry the other).
* **image until scored**: until the temporal model has scored a person (its first frames, and every frame of a
  track too short to score), the evidence is the image score, not ``(1 - w) x image``: missing motion is not
  evidence against fighting.
* **smoothed**: each person's evidence is the mean of its fused score over the last ``tau`` seconds (one spiky
  frame counts less; the rule's ``min_duration_s`` still applies on top).
* **settled**: a person tracked for less than ``age`` seconds has no evidence yet (short tracks are often the
  tracker's fragments in a scuffle, and its false starts in a crowd).

For each variant: the clip AUROC at each weight and the most sensitive one-person rule under 10% false alarms
(chosen and scored on the same clips, so optimistic), and the choice procedure cross-validated
(``nested_selection``: weight and rule chosen on four folds, scored on the fifth). The last entry lets the
nested procedure choose the variant too, which is what adopting the best one would cost in selection noise.

    .venv/bin/python -m experiments.fusion_cv          # first: the folds' traces (out/fusion_cv/<base>)
    .venv/bin/python -m experiments.evidence_lever [--json experiments/results/evidence_lever.json]
"""

from __future__ import annotations

import itertools
import json

import numpy as np

from experiments.fusion_cv import Fuse, cv_setup, linear_fuse, load_traces, nested_selection, score_fusion

SMOOTHING_S = (0.0, 0.4, 0.8)
SETTLE_S = (0.0, 0.4)


def log_linear_fuse(rows: np.ndarray, w: float, image_col: int, motion_col: int) -> np.ndarray:
    """The weighted geometric mean ``motion^w x image^(1 - w)`` (0 until a person is scored, as the linear one's
    motion part)."""
    return rows[:, motion_col] ** w * rows[:, image_col] ** (1 - w)


def image_until_scored(base: Fuse) -> Fuse:
    """``base`` where the temporal model has scored the person, the image score where it has not (a trace stores
    a missing motion score as 0)."""

    def fuse(rows: np.ndarray, w: float, image_col: int, motion_col: int) -> np.ndarray:
        return np.where(rows[:, motion_col] > 0, base(rows, w, image_col, motion_col), rows[:, image_col])

    return fuse


def per_track_mean(rows: np.ndarray, score: np.ndarray, tau: float) -> np.ndarray:
    """Each row's score averaged with the same track's rows of the last ``tau`` seconds (rows in time order)."""
    out = score.copy()
    for tid in np.unique(rows[:, 1]):
        sel = np.flatnonzero(rows[:, 1] == tid)
        t, v = rows[sel, 0], score[sel]
        total = np.r_[0.0, np.cumsum(v)]
        first = np.searchsorted(t, t - tau, side="right")
        last = np.arange(1, len(t) + 1)
        out[sel] = (total[last] - total[first]) / (last - first)
    return out


def settled_only(rows: np.ndarray, score: np.ndarray, age: float) -> np.ndarray:
    """``score`` with the rows of people tracked for less than ``age`` seconds set to 0."""
    out = score.copy()
    for tid in np.unique(rows[:, 1]):
        sel = rows[:, 1] == tid
        t = rows[sel, 0]
        out[sel] = np.where(t - t.min() >= age, score[sel], 0.0)
    return out


def variant(log_linear: bool, until_scored: bool, tau: float, age: float) -> Fuse:
    """The evidence function of one combination of the four changes."""
    base = log_linear_fuse if log_linear else linear_fuse
    base = image_until_scored(base) if until_scored else base

    def fuse(rows: np.ndarray, w: float, image_col: int, motion_col: int) -> np.ndarray:
        score = base(rows, w, image_col, motion_col)
        if tau > 0:
            score = per_track_mean(rows, score, tau)
        if age > 0:
            score = settled_only(rows, score, age)
        return score

    return fuse


def name_of(log_linear: bool, until_scored: bool, tau: float, age: float) -> str:
    """A variant's name in the JSON ("shipped" for none of the changes)."""
    parts = (["log-linear"] if log_linear else []) + (["image until scored"] if until_scored else [])
    parts += [f"smoothed {tau:g} s"] if tau else []
    parts += [f"settled {age:g} s"] if age else []
    return ", ".join(parts) or "shipped"


def main() -> None:
    """Score every variant on the folds' traces, then the nested procedure for each and over all."""
    args, _clips, _split, pool, folds = cv_setup(__doc__)
    traces = load_traces(args.work)
    if len(traces) < len(pool):
        raise SystemExit(f"{args.work} has traces of {len(traces)} of {len(pool)} clips: run fusion_cv.py first")
    labels = {f: lab for f, (lab, _) in traces.items()}
    fuses = {
        name_of(*combo): variant(*combo)
        for combo in itertools.product((False, True), (False, True), SMOOTHING_S, SETTLE_S)
    }
    result: dict = {"clips": len(traces), "folds": args.folds, "variants": {}}
    for name, fuse in fuses.items():
        weights, _rules = score_fusion(traces, labels, "fighting", 2, 4, fuse)
        nested = nested_selection(traces, pool, folds, {"shipped": 4}, {name: fuse})
        result["variants"][name] = {"weights": weights, "nested_selection": nested}
        best = max((v["auroc"], w) for w, v in weights.items() if float(w) > 0)
        print(
            f"{name:45s} best fused AUROC {best[0]:.3f} at w={best[1]}; nested: AUROC {nested['auroc']:.3f}, "
            f"{nested['recall']:.0%} caught, {nested['false_alarms_none']:.0%} of no-fight clips alerted",
            flush=True,
        )
    result["nested_selection_over_all_variants"] = nested_selection(traces, pool, folds, {"shipped": 4}, fuses)
    print("nested over all variants:", result["nested_selection_over_all_variants"], flush=True)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
