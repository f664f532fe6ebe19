"""Choose the fusion weight and the cctv.yaml thresholds by cross-validation over the train and val groups.

    .venv/bin/python -m experiments.fusion_cv [--folds 5] [--base models/efficientnet_lite2_whole]
        [--work out/fusion_cv/<base>] [--json experiments/results/fusion_cv.json] [--cctv-weight 1] [--fold K]

A fold whose ``classifier`` folder exists keeps it (the open-set head does not depend on the temporal model):
to measure a new temporal model, delete the folds' ``traces.npz`` and ``temporal`` and run again.

For each fold of recording groups (the test groups of models/cctv_split.csv are never touched): train the
open-set classifier's head and the temporal model without the fold's groups, run the real pipeline over the
fold's clips, and keep every person's image score and motion score per frame. Then, over all folds' clips, score
each fusion weight (clip AUROC) and each rule threshold / duration, for one person and for two people at once
(``min_people``): alert recall and false alarms on none clips, and the most sensitive rule under 10% of them.

Each fold's temporal model also carries fighting trees of the other sizes in ``FIGHT_VARIANTS`` (saved beside
the shipped ones as extra motion actions, so the same pipeline pass scores them all); their fused figures are
under ``fighting_tree_variants``. ``nested_selection`` then cross-validates the choice itself (trees, weight and
rule chosen on four folds' clips, scored on the fifth), an honest estimate of what the chosen rule gives on new
recordings.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from experiments.paths import CCTV_SPLIT, HAR_DATA, REPO, VIDEOS
from har_stream.api import build_config
from har_stream.clips import load_clip_split, read_clip_labels
from har_stream.frame import ACTION_SCORES, MOTION_SCORES
from har_stream.training.open_set import OpenSetOptions, train_open_set
from har_stream.training.temporal_training import (
    ACTION_TREES,
    TreeSettings,
    build_windows,
    export_onnx,
    fit_action,
    train_temporal,
)
from har_stream.video_eval.metrics import auroc
from har_stream.video_eval.runner import build_pipeline

ACTIONS = ("fighting", "running")
RULE_GRID = list(itertools.product((0.5, 0.6, 0.7, 0.8, 0.9), (0.2, 0.4, 0.8)))  # (min_confidence, min_duration_s)
FIGHT_VARIANTS: dict[str, TreeSettings] = {  # beside the shipped 100 rounds: tree_lever.py's other best, and 200
    "100 rounds, 7 leaves": TreeSettings(max_iter=100, max_leaf_nodes=7),
    "7 leaves, learning rate 0.025": TreeSettings(max_leaf_nodes=7, learning_rate=0.025),
    "200 rounds (the previous trees)": TreeSettings(),
}
WEIGHTS = (0.0, 0.25, 0.5, 0.6, 0.7, 0.85, 1.0)
log = logging.getLogger("fusion_cv")

#: How a trace's rows become per-row evidence: (rows, weight, image column, motion column) -> scores.
Fuse = Callable[[np.ndarray, float, int, int], np.ndarray]


def linear_fuse(rows: np.ndarray, w: float, image_col: int, motion_col: int) -> np.ndarray:
    """The temporal stage's fusion: ``w * motion + (1 - w) * image`` (motion 0 until a person is scored)."""
    return w * rows[:, motion_col] + (1 - w) * rows[:, image_col]


def traces_of(clips, classifier: Path, temporal: Path) -> dict[str, tuple[str, np.ndarray]]:
    """Per clip: label and rows (time, track, image fighting, image running, then the motion score of each of
    the temporal model's actions: fighting, running and any ``FIGHT_VARIANTS`` it carries)."""
    overrides = {
        "classifier.model": str(classifier),
        "classifier.runtime": "keras",
        "temporal.model": str(temporal),
        "temporal.weight": 0.0,
        "temporal.action_weights": {},  # every action's image score unfused: the weights are scored afterwards
    }
    pipeline = build_pipeline(build_config(REPO / "configs" / "cctv.yaml", overrides=overrides))
    width = 4 + len(json.loads((temporal / "model.json").read_text())["actions"])
    out = {}
    for clip in clips:
        rows: list[tuple[float, ...]] = []

        def keep(record, rows=rows) -> None:
            det = record.detections
            if not len(det) or ACTION_SCORES not in det.data:
                return
            image = det.data[ACTION_SCORES]
            motion = det.data.get(MOTION_SCORES)
            cols = [record.action_classes.index(a) for a in ACTIONS]
            for i, tid in enumerate(det.tracker_id):
                m = motion[i] if motion is not None else np.full(width - 4, np.nan)
                rows.append((record.timestamp, int(tid), *image[i, cols], *np.nan_to_num(m)))

        pipeline.run(source=str(clip.path), on_frame=keep)
        out[clip.file] = (clip.label, np.array(rows, dtype=np.float64).reshape(-1, width))
    return out


def group_folds(pool, n: int) -> list[set[str]]:
    """The cross-validation folds: recording groups shuffled with seed 0 and dealt round-robin."""
    groups = sorted({c.group for c in pool})
    order = list(np.random.default_rng(0).permutation(groups))
    return [set(order[k::n]) for k in range(n)]


def load_traces(work: Path) -> dict[str, tuple[str, np.ndarray]]:
    """Every fold's cached traces (written by this script), keyed by clip file."""
    traces: dict[str, tuple[str, np.ndarray]] = {}
    for cached in sorted(work.glob("fold*/traces.npz")):
        with np.load(cached, allow_pickle=True) as stored:
            traces.update(stored["traces"].item())
    return traces


def image_baseline(work: Path, pool: list) -> tuple[dict, dict[str, float], Callable[[dict[str, float]], float]]:
    """For the lever scripts: the folds' traces, each pool clip's out-of-fold image fighting score (its highest
    over people and frames) and a function giving the clip AUROC of any per-clip scores (missing clips: 0)."""
    traces = load_traces(work)
    if len(traces) < len(pool):
        raise SystemExit(f"{work} has traces of {len(traces)} of {len(pool)} clips: run fusion_cv.py first")
    image = {Path(f).stem: float(r[:, 2].max()) if len(r) else 0.0 for f, (_, r) in traces.items()}
    return traces, image, clip_scorer(pool)


def clip_scorer(pool: list) -> Callable[[dict[str, float]], float]:
    """The fighting clip AUROC over ``pool`` of any per-clip scores keyed by file stem (missing clips: 0)."""
    stems = [Path(c.file).stem for c in pool]
    positive = np.array([c.label == "fighting" for c in pool])
    return lambda scores: round(auroc(np.array([scores.get(s, 0.0) for s in stems]), positive), 3)


def image_or_motion(work: Path, pool: list) -> tuple[dict[str, float] | None, Callable[[dict[str, float]], float]]:
    """``image_baseline``'s out-of-fold image scores and clip AUROC, or (None, :func:`clip_scorer`) when the fold
    cache ``work`` has no traces yet (the lever scripts then report motion alone)."""
    try:
        _traces, image, clip_auroc = image_baseline(work, pool)
    except SystemExit as missing:
        print(missing, "- reporting motion alone", flush=True)
        return None, clip_scorer(pool)
    return image, clip_auroc


def lever_figures(
    scores: dict[str, float],
    image: dict[str, float] | None,
    stems: list[str],
    clip_auroc: Callable[[dict[str, float]], float],
    weights: tuple[float, ...],
) -> dict[str, float]:
    """Clip AUROC of per-clip motion ``scores`` alone and, with image scores, fused with them at each weight."""
    entry = {"motion_alone": clip_auroc(scores)}
    for w in weights if image is not None else ():
        entry[f"fused_w{w}"] = clip_auroc({s: w * scores.get(s, 0.0) + (1 - w) * image[s] for s in stems})
    return entry


def fires(rows: np.ndarray, score: np.ndarray, threshold: float, duration: float, min_people: int = 1) -> bool:
    """Whether a rule (score >= threshold held for duration, per track, by at least ``min_people`` people on the
    same frame, as the rule engine's ``min_people``) starts an alert. ``rows`` are in time order."""
    above = score >= threshold
    if min_people > 1:
        _, frame_of = np.unique(rows[:, 0], return_inverse=True)
        above &= np.bincount(frame_of, weights=above)[frame_of] >= min_people
    if not above.any():
        return False
    order = np.lexsort((np.arange(len(rows)), rows[:, 1]))  # by track, then time
    t, track, held = rows[order, 0], rows[order, 1], above[order]
    new_track = np.r_[True, track[1:] != track[:-1]]
    starts = held & (new_track | ~np.r_[False, held[:-1]])  # first row of each run of rows above the threshold
    index = np.arange(len(t))
    since = t[np.maximum.accumulate(np.where(starts, index, 0))]  # for a row above: when its run began
    return bool(np.any(held & (t - since >= duration)))


def most_sensitive(grid: dict[str, dict], max_false_alarms: float = 0.10) -> str | None:
    """The rule of ``grid`` with the highest recall among those alerting on at most ``max_false_alarms`` of the
    no-fight clips (ties: fewer false alarms), or None."""
    allowed = [(v["recall"], -v["false_alarms_none"], k) for k, v in grid.items() if v["recall"] is not None]
    allowed = [a for a in allowed if -a[1] <= max_false_alarms]
    return max(allowed)[2] if allowed else None


def cv_setup(description: str | None) -> tuple[argparse.Namespace, list, dict[str, str], list, list[set[str]]]:
    """The cross-validation scripts' shared arguments and data: args, every clip, the split, the train/val pool
    and its folds of recording groups."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=Path, default=VIDEOS / "cctv")
    parser.add_argument("--harvest", type=Path, default=REPO / "out" / "harvest")
    parser.add_argument(
        "--work", type=Path, default=None, help="fold cache (default: out/fusion_cv/<base name>); delete it to rerun"
    )
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--base",
        type=Path,
        default=REPO / "models" / "efficientnet_lite2_whole",
        help="model folder whose backbone each fold's open-set classifier keeps (as models open-set --base)",
    )
    parser.add_argument(
        "--cctv-weight",
        type=float,
        default=1.0,
        help="weight of CCTV crops against photos in each fold's open-set head (as models open-set --cctv-weight)",
    )
    parser.add_argument(
        "--fold",
        type=int,
        default=None,
        help="fusion_cv.py: compute only this fold's traces and stop (to run folds side by side); a later run "
        "without it finds them cached",
    )
    args = parser.parse_args()
    suffix = "" if args.cctv_weight == 1.0 else f"_cctv{args.cctv_weight:g}"
    args.work = args.work or REPO / "out" / "fusion_cv" / f"{args.base.name}{suffix}"
    logging.basicConfig(level=logging.WARNING)
    clips = read_clip_labels(args.clips)
    split = load_clip_split(CCTV_SPLIT)
    pool = [c for c in clips if split.get(c.file) in ("train", "val")]
    return args, clips, split, pool, group_folds(pool, args.folds)


def add_fight_variants(pool: list, harvest: Path, fold_split: dict[str, str], temporal: Path) -> None:
    """Fit the fighting trees of each ``FIGHT_VARIANTS`` setting on the fold's train groups and save them into
    the fold's temporal model as extra actions (``fighting_v0``, ...), scored by the same pipeline pass."""
    windows = build_windows(pool, harvest, fold_split, ("train", "val"))
    meta = json.loads((temporal / "model.json").read_text())
    for j, tree in enumerate(FIGHT_VARIANTS.values()):
        export_onnx(fit_action(windows, "fighting", ("train",), tree), temporal / f"fighting_v{j}.onnx")
        meta["actions"].append(f"fighting_v{j}")
    (temporal / "model.json").write_text(json.dumps(meta, indent=2) + "\n")


def score_fusion(
    traces: dict[str, tuple[str, np.ndarray]],
    labels: dict[str, str],
    action: str,
    image_col: int,
    motion_col: int,
    fuse: Fuse = linear_fuse,
) -> tuple[dict, dict]:
    """Per fusion weight: the clip AUROC of ``action`` (image column fused with motion column by ``fuse``) and
    the most sensitive rule under 10% false alarms, for one and two people; and the whole rule grid per weight."""
    positive = np.array([labels[f] == action for f in traces])
    if action == "running" and not positive.any():
        positive = None
    none = np.array([labels[f] == "none" for f in traces])
    weights: dict = {}
    rules: dict = {}
    for w in WEIGHTS:
        fused = {f: fuse(r, w, image_col, motion_col) for f, (_, r) in traces.items()}
        best = np.array([float(v.max()) if len(v) else 0.0 for v in fused.values()])
        entry = weights[str(w)] = {"auroc": auroc(best, positive) if positive is not None else None}
        grid = {}
        for (threshold, duration), people in itertools.product(RULE_GRID, (1, 2)):
            alerts = np.array([fires(r, fused[f], threshold, duration, people) for f, (_, r) in traces.items()])
            # "0.8/0.2" is a rule for anyone; "0.8/0.2/2p" needs two people meeting it on the same frame
            grid[f"{threshold}/{duration}" + ("" if people == 1 else f"/{people}p")] = {
                "recall": float(alerts[positive].mean()) if positive is not None else None,
                "false_alarms_none": float(alerts[none].mean()),
                "false_alarms_all_negatives": float(alerts[~positive].mean())
                if positive is not None
                else float(alerts.mean()),
            }
        rules[str(w)] = grid
        if positive is not None:
            for people in (1, 2):
                sub = {k: v for k, v in grid.items() if k.endswith("p") == (people > 1)}
                chosen = most_sensitive(sub)
                entry[f"most_sensitive_rule_{people}p"] = chosen and {chosen: sub[chosen]}
    return weights, rules


def nested_selection(
    traces: dict[str, tuple[str, np.ndarray]],
    pool: list,
    folds: list[set[str]],
    columns: dict[str, int],
    fuses: dict[str, Fuse] | None = None,
) -> dict:
    """The choice procedure itself, cross-validated: for each fold, the fighting trees (one of ``columns``, the
    motion columns of the traces), the evidence function (one of ``fuses``; default: the linear fusion alone),
    the weight (> 0) and the most sensitive one-person rule under 10% false alarms are chosen on the other folds'
    clips alone, then applied to the fold's clips. The pooled recall, false alarms and clip AUROC are what the
    procedure can be expected to give on recordings it did not choose on (the plain grid chooses and scores on
    the same clips, so its figure is optimistic)."""
    fuses = fuses or {"linear": linear_fuse}
    labels = {f: lab for f, (lab, _) in traces.items()}
    group = {c.file: c.group for c in pool}
    alerts: dict[str, bool] = {}
    peaks: dict[str, float] = {}
    chosen = []
    for held in folds:
        inner = {f: t for f, t in traces.items() if group[f] not in held}
        outer = {f: t for f, t in traces.items() if group[f] in held}
        best = None
        for (name, col), (how, fuse) in itertools.product(columns.items(), fuses.items()):
            weights, rules = score_fusion(inner, labels, "fighting", 2, col, fuse)
            for w, entry in weights.items():
                if float(w) > 0 and (best is None or entry["auroc"] > best[0]):
                    best = (entry["auroc"], name, col, how, float(w), rules[w])
        _, name, col, how, w, grid = best
        rule = most_sensitive({k: v for k, v in grid.items() if not k.endswith("p")})
        chosen.append({"trees": name, "evidence": how, "weight": w, "rule": rule})
        threshold, duration = (float(x) for x in rule.split("/")) if rule else (np.inf, 0.0)
        for f, (_, r) in outer.items():  # a clip with nobody tracked has 0 rows and raises nothing
            score = fuses[how](r, w, 2, col)
            alerts[f] = fires(r, score, threshold, duration)
            peaks[f] = float(score.max()) if len(r) else 0.0
    fight = [alerts[f] for f in alerts if labels[f] == "fighting"]
    none = [alerts[f] for f in alerts if labels[f] == "none"]
    return {
        "what": "choice procedure cross-validated: trees, weight and rule chosen on 4 folds, scored on the 5th",
        "per_fold_choice": chosen,
        "recall": float(np.mean(fight)),
        "false_alarms_none": float(np.mean(none)),
        "auroc": auroc(np.array(list(peaks.values())), np.array([labels[f] == "fighting" for f in peaks])),
        "clips": {"fighting": len(fight), "none": len(none)},
    }


def main() -> None:
    """Run the folds and the grids."""
    args, clips, split, pool, folds = cv_setup(__doc__)
    traces: dict[str, tuple[str, np.ndarray]] = {}
    for k, held in enumerate(folds):
        if args.fold is not None and k != args.fold:
            continue
        work = args.work / f"fold{k}"
        cached = work / "traces.npz"
        if cached.is_file():
            with np.load(cached, allow_pickle=True) as stored:
                traces.update(stored["traces"].item())
            continue
        fold_split = {c.file: ("test" if c.group in held else "train") if c.file in split else "" for c in clips}
        fold_split = {f: p for f, p in fold_split.items() if split.get(f) in ("train", "val")}
        if (work / "classifier" / "model.json").is_file():
            log.info("fold %d: keeping its classifier in %s (delete it to retrain)", k, work / "classifier")
        else:
            train_open_set(
                OpenSetOptions(
                    base=args.base,
                    data=HAR_DATA,
                    harvest=args.harvest,
                    out=work / "classifier",
                    exclude_groups=frozenset(held),
                    cctv_all_train=True,
                    cctv_weight=args.cctv_weight,
                )
            )
        train_temporal(pool, args.harvest, fold_split, work / "temporal", final_parts=("train",))
        add_fight_variants(pool, args.harvest, fold_split, work / "temporal")
        fold_traces = traces_of([c for c in pool if c.group in held], work / "classifier", work / "temporal")
        np.savez(cached, traces=np.array(fold_traces, dtype=object))
        traces.update(fold_traces)
    if args.fold is not None:
        print(f"fold {args.fold}: traces of {len(traces)} clips in {args.work / f'fold{args.fold}'}")
        return
    labels = {f: lab for f, (lab, _) in traces.items()}
    result: dict = {"clips": len(traces), "folds": args.folds, "weights": {}, "rules": {}}
    for a, action in enumerate(ACTIONS):
        result["weights"][action], result["rules"][action] = score_fusion(traces, labels, action, 2 + a, 4 + a)
        print(action, {w: v["auroc"] for w, v in result["weights"][action].items()})
    result["fighting_tree_variants"] = {"shipped": ACTION_TREES["fighting"].__dict__}
    widths = {r.shape[1] for _, r in traces.values() if len(r)}
    for j, (name, tree) in enumerate(FIGHT_VARIANTS.items()):
        if min(widths) <= 6 + j:
            continue  # traces cached before this variant existed
        weights, _rules = score_fusion(traces, labels, "fighting", 2, 6 + j)
        result["fighting_tree_variants"][name] = {"trees": tree.__dict__, "weights": weights}
        print("fighting,", name, {w: v["auroc"] for w, v in weights.items()})
    columns = {"shipped": 4} | {name: 6 + j for j, name in enumerate(FIGHT_VARIANTS) if min(widths) > 6 + j}
    result["nested_selection"] = nested_selection(traces, pool, folds, columns)
    print("nested selection:", result["nested_selection"])
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
