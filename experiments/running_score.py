"""Design, fit and choose the kinematic running model (models/temporal_pose/running.json) on the train and val
clips' tracks.

    .venv/bin/python -m experiments.running_harvest          # tracks of the train and val clips, once
    .venv/bin/python -m experiments.running_score [--fit]    # figures; --fit also writes the model

Every harvested clip's tracks are replayed through the temporal stage's own ``TrackWindows``; each person gets
``RUNNING_FEATURES`` every second frame (as the stage scores with ``every_n_frames: 2``). A clip's score is the
highest any person reached. Figures are clip AUROC (running clips against all others) and the alerts a rule
``min_confidence`` / ``min_duration_s`` would raise, each out of fold: leave-one-group-out over the recording
groups, so no clip is scored by a model fitted on its own group. Test clips are never read here.

Window labels for fitting: every window of a running clip is positive (its people run through the frame),
every window of any other clip negative; only windows where the person moves at least ``MIN_SPEED`` are fitted
on. The walkers of quiet clips, played faster to a running speed, are extra positives, labelled synthetic and
weighted down (``SYNTHETIC_WEIGHT``); figures are on real clips only.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

from experiments.paths import REPO, RESULTS
from har_stream.temporal.running import RUNNING_FEATURES, SPEED_SPAN_S, SUSTAIN_S, RunningModel, model_inputs
from har_stream.temporal.windows import TrackWindows
from har_stream.training.background import QUIET_LABELS
from har_stream.training.harvest import ClipTracks
from har_stream.training.temporal_dataset import walking_tracks
from har_stream.video_eval.metrics import auroc

EVERY_N = 2
C = 0.3  # L2 strength of the logistic regression (inverse)
MIN_SPEED = 0.3  # windows slower than this (body heights/s) are left out of the fit: nobody runs standing still
SYNTHETIC_SPEED = 2.2  # synthetic runners: walkers played faster until their median speed is this
SYNTHETIC_WEIGHT = 0.3  # ... and each of their windows weighs this much against a real one
#: Feature sets compared (each adds one kind of evidence); CHOSEN is shipped.
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "speed": ("log_sustained_speed",),
    "speed + steadiness": ("log_sustained_speed", "height_jitter", "edge_share"),
    "speed + steadiness + cadence": ("log_sustained_speed", "height_jitter", "edge_share", "cadence"),
    "... + straightness": ("log_sustained_speed", "height_jitter", "edge_share", "cadence", "straightness"),
    "... + stride, knee lift": (
        "log_sustained_speed", "height_jitter", "edge_share", "cadence", "stride", "knee_lift",
    ),
    "... + approach speed": ("log_sustained_speed", "height_jitter", "edge_share", "cadence", "log_approach_speed"),
    "... + elbow bend": ("log_sustained_speed", "height_jitter", "edge_share", "cadence", "elbow_bend"),
}  # fmt: skip
#: The feature sets the spans and the rule are chosen jointly with (:func:`choose`): the previous release's and
#: the one adding the arms' bend.
FEATURE_CHOICES = ("speed + steadiness + cadence", "... + elbow bend")
CHOSEN = "... + elbow bend"
FIT_NOTE = (
    "train and val groups of models/cctv_split.csv and models/splits/*.csv (experiments/running_harvest.py); "
    "running clips: label running, and falls/ jogging clips"
)
RULES = ((0.5, 0.2), (0.7, 0.2), (0.7, 0.4), (0.9, 0.2))
#: The speed's span and how long it must be sustained (seconds): shipped, and the shorter ones compared (a runner
#: crossing a small or near view is in sight for about a second; the alert should come while they are).
SPANS = (SPEED_SPAN_S, SUSTAIN_S)
SPAN_CHOICES = ((0.4, 0.4), (0.4, 0.2), (0.3, 0.2), (0.3, 0.1), (0.2, 0.2))
#: A runner's pass: a track of a running clip seen at least this long (shorter ones are fragments).
MIN_PASS_S = 0.5
#: Rule durations compared with each span (min_confidence stays 0.7: the model's probability means what it says).
SPAN_RULES = ((0.7, 0.2), (0.7, 0.1), (0.7, 0.0))
#: Shipped: the spans and rule duration :func:`choose` picks (see the results file).
CHOSEN_SPANS = (0.3, 0.1)
CHOSEN_DURATION = 0.2
#: Features a walker's sped-up replay does not change (their arms are still a walker's): left unknown (NaN) in
#: the synthetic runners' rows, so the fit learns them from real runners only.
TIME_FREE_FEATURES = ("elbow_bend",)


def clip_rows(
    path: Path, time_scale: float = 1.0, only: set[int] | None = None, spans: tuple[float, float] = SPANS
) -> dict[str, np.ndarray]:
    """Replay one clip's tracks (``time_scale`` > 1: played faster; ``only``: these tracks); every second frame,
    each person's running features (speed over ``spans[0]`` s, sustained over ``spans[1]`` s)."""
    with np.load(path) as data:
        frames, times, ids = data["frame"], data["timestamp"] / time_scale, data["track_id"]
        boxes, keypoints, speed = data["box"], data["keypoints"], data["speed"] * time_scale
        width, height = (int(v) for v in data["size"])
        if only is not None:
            keep = np.isin(ids, list(only))
            frames, times, ids, boxes, keypoints, speed = (
                a[keep] for a in (frames, times, ids, boxes, keypoints, speed)
            )
    windows = TrackWindows()
    age: dict[int, int] = {}
    out: dict[str, list] = {"t": [], "track": [], "x": [], "speed": []}
    for f in np.unique(frames):
        rows = np.flatnonzero(frames == f)
        t = float(times[rows[0]])
        windows.update(t, ids[rows], boxes[rows], keypoints[rows])
        due = []
        for r in rows:
            tid = int(ids[r])
            a = age.get(tid, EVERY_N)
            if a >= EVERY_N:
                due.append(r)
                age[tid] = 1
            else:
                age[tid] = a + 1
        if due:
            x = windows.running(t, width, height, ids[due], spans)
            out["t"] += [t] * len(due)
            out["track"] += list(ids[due])
            out["x"].append(x)
            out["speed"] += list(speed[due])
    return {
        "t": np.asarray(out["t"]),
        "track": np.asarray(out["track"], dtype=int),
        "x": np.concatenate(out["x"]) if out["x"] else np.zeros((0, len(RUNNING_FEATURES)), np.float32),
        "speed": np.asarray(out["speed"]),
    }


def load(harvest: Path, spans: tuple[float, float] = SPANS) -> list[dict]:
    """Every clip of clips.csv with its replayed rows (cached in harvest/running_rows[_<spans>].npz)."""
    with (harvest / "clips.csv").open(newline="") as handle:
        clips = list(csv.DictReader(handle))
    suffix = "" if spans == SPANS else f"_{spans[0]:g}_{spans[1]:g}"
    cache = harvest / f"running_rows{suffix}.npz"
    cached = dict(np.load(cache, allow_pickle=True)) if cache.is_file() else {}
    stale = [stem for stem, rows in cached.items() if rows.item()["x"].shape[1] != len(RUNNING_FEATURES)]
    for stem in stale:  # written before RUNNING_FEATURES grew
        del cached[stem]
    changed = bool(stale)
    kept = []
    for clip in clips:
        stem = Path(clip["file"]).stem
        npz = harvest / f"{stem}.npz"
        if not npz.is_file():
            continue
        clip["running"] = clip["running"] == "1"
        if stem not in cached:
            rows = clip_rows(npz, spans=spans)
            rows["synthetic"] = synthetic_runners(harvest, clip, spans)
            cached[stem] = np.array(rows, dtype=object)
            changed = True
        clip.update(cached[stem].item())
        kept.append(clip)
    if changed:
        np.savez(cache, **cached)
    return kept


def alerts(clip: dict, p: np.ndarray, threshold: float, duration: float) -> float | None:
    """Media time of the first alert a rule (``p >= threshold`` held ``duration`` s by one person) raises."""
    first = None
    for track in np.unique(clip["track"]):
        rows = np.flatnonzero(clip["track"] == track)
        t, q = clip["t"][rows], p[rows]
        start = None
        for ti, qi in zip(t, q, strict=True):
            if qi >= threshold:
                start = ti if start is None else start
                if ti - start >= duration - 1e-6:
                    first = ti if first is None else min(first, ti)
                    break
            else:
                start = None
    return first


def passes(clips: list[dict], scores: list[np.ndarray], threshold: float = 0.7, duration: float = 0.2) -> dict:
    """Per runner's pass (a track of a running clip seen ``MIN_PASS_S`` or longer): whether the rule alerts on it,
    and the seconds from its first scored frame to the alert (median over the passes caught)."""
    caught, delays = 0, []
    total = 0
    for clip, p in zip(clips, scores, strict=True):
        if not clip["running"]:
            continue
        for track in np.unique(clip["track"]):
            rows = np.flatnonzero(clip["track"] == track)
            t = clip["t"][rows]
            if t[-1] - t[0] < MIN_PASS_S:
                continue
            total += 1
            one = {"t": t, "track": clip["track"][rows]}
            first = alerts(one, p[rows], threshold, duration)
            if first is not None:
                caught += 1
                delays.append(first - t[0])
    return {
        "passes_caught": f"{caught}/{total}",
        "median_s_from_pass_start": round(float(np.median(delays)), 2) if delays else None,
    }


def summary(clips: list[dict], scores: list[np.ndarray], threshold: float = 0.7, duration: float = 0.2) -> dict:
    """Clip AUROC, runners alerted and other clips alerted for per-row scores."""
    clip_scores = [float(s.max()) if len(s) else 0.0 for s in scores]
    positive = [c["running"] for c in clips]
    fired = [alerts(c, s, threshold, duration) is not None for c, s in zip(clips, scores, strict=True)]
    pos = [f for f, y in zip(fired, positive, strict=True) if y]
    neg = [f for f, y in zip(fired, positive, strict=True) if not y]
    return {
        "auroc": round(auroc(clip_scores, positive) or 0.0, 3),
        "runners_alerted": f"{sum(pos)}/{len(pos)}",
        "others_alerted": f"{sum(neg)}/{len(neg)}",
        "false_alarms": sorted(c["file"] for c, f, y in zip(clips, fired, positive, strict=True) if f and not y),
    } | passes(clips, scores, threshold, duration)


def span_key(features: str, spans: tuple[float, float]) -> str:
    """The results file's key for one feature set at one pair of spans."""
    return f"{features}; speed over {spans[0]:g} s, sustained {spans[1]:g} s"


def choose(spans_report: dict[str, dict[str, dict]]) -> tuple[str, str]:
    """The (features and spans, rule) whose out-of-fold figures alert on the most running clips, then on the
    fewest other clips, then catch the most runner passes, then alert soonest after a pass begins (the same
    order as the rule was chosen in before: runners first); a tie goes to the higher clip AUROC."""

    def key(item: tuple[str, str]) -> tuple[float, float, float, float, float]:
        f = spans_report[item[0]][item[1]]
        caught, total = (int(v) for v in f["passes_caught"].split("/"))
        delay = f["median_s_from_pass_start"]
        return (
            _share(f["runners_alerted"]), -_share(f["others_alerted"]), caught / max(total, 1),
            -(delay if delay is not None else np.inf), f["auroc"],
        )  # fmt: skip

    return max(((k, r) for k, rules in spans_report.items() for r in rules), key=key)


def _share(fraction: str) -> float:
    """``"2/3"`` as 0.667."""
    a, b = (int(v) for v in fraction.split("/"))
    return a / max(b, 1)


def fit(clips: list[dict], features: tuple[str, ...], c: float = C) -> RunningModel:
    """Logistic regression on the windows of ``clips`` where the person moves (``MIN_SPEED``), plus the synthetic
    runners of those clips at weight ``SYNTHETIC_WEIGHT``; unweighted otherwise, so the probability keeps the real
    share of running among moving people and a rule's min_confidence reads as a probability."""
    from sklearn.linear_model import LogisticRegression

    xs, ys, ws = [], [], []
    for clip in clips:
        for x, positive, weight in [(clip["x"], clip["running"], 1.0)] + [
            (rows["x"], True, SYNTHETIC_WEIGHT) for rows in clip.get("synthetic", [])
        ]:
            moving = np.nan_to_num(x[:, 0], nan=-1.0) >= MIN_SPEED
            xs.append(x[moving])
            ys.append(np.full(int(moving.sum()), positive))
            ws.append(np.full(int(moving.sum()), weight))
    inputs = model_inputs(np.concatenate(xs), features)
    mean = np.nanmean(inputs, axis=0)
    scale = np.nanstd(inputs, axis=0) + 1e-6
    z = np.clip(np.nan_to_num((inputs - mean) / scale, nan=0.0), -4, 4)
    model = LogisticRegression(C=c, max_iter=3000).fit(z, np.concatenate(ys), sample_weight=np.concatenate(ws))
    return RunningModel(features, mean, scale, model.coef_[0], float(model.intercept_[0]))


def synthetic_runners(harvest: Path, clip: dict, spans: tuple[float, float] = SPANS) -> list[dict[str, np.ndarray]]:
    """The walkers of a quiet clip played faster, each until their median speed is ``SYNTHETIC_SPEED`` body
    heights per second (1.5x to 4x): extra positives, labelled synthetic (their gait is a walk's, faster; the
    ``TIME_FREE_FEATURES`` a replay cannot speed up are left unknown)."""
    if clip["running"] or clip["label"] not in QUIET_LABELS:
        return []
    path = harvest / f"{Path(clip['file']).stem}.npz"
    tracks = ClipTracks.load(path)
    rows = []
    for track in sorted(walking_tracks(tracks)):
        median = float(np.median(tracks.speed[tracks.track_id == track]))
        scale = float(np.clip(SYNTHETIC_SPEED / max(median, 1e-3), 1.5, 4.0))
        replay = clip_rows(path, scale, {track}, spans)
        replay["x"][:, [RUNNING_FEATURES.index(name) for name in TIME_FREE_FEATURES]] = np.nan
        rows.append(replay)
    return rows


def predict(model: RunningModel, x: np.ndarray) -> np.ndarray:
    """As the stage: no probability for a window without a speed."""
    if len(x) == 0:
        return np.zeros(0)
    p = model.predict(x).astype(np.float64)
    p[np.isnan(x[:, 0])] = 0.0
    return p


def out_of_fold(clips: list[dict], features: tuple[str, ...], c: float = C) -> list[np.ndarray]:
    """Each clip scored by a model fitted without its recording group."""
    scores: list[np.ndarray] = [np.zeros(0)] * len(clips)
    for group in sorted({cl["group"] for cl in clips}):
        model = fit([cl for cl in clips if cl["group"] != group], features, c)
        for i, cl in enumerate(clips):
            if cl["group"] == group:
                scores[i] = predict(model, cl["x"])
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--harvest", type=Path, default=REPO / "out" / "running_harvest")
    parser.add_argument("--fit", action="store_true", help="Fit the chosen features on all clips and write it.")
    parser.add_argument("--json", type=Path, default=RESULTS / "running_score.json")
    parser.add_argument("--model", type=Path, default=REPO / "models" / "temporal_pose")
    args = parser.parse_args()
    clips = load(args.harvest)
    print(f"{len(clips)} clips, {sum(c['running'] for c in clips)} running")
    report: dict[str, object] = {}

    # The quantity: the tracker's speed, min over 0.4 s, max over the clip; and our sustained speed.
    def rolling_min_speed(c: dict) -> np.ndarray:
        out = np.zeros(len(c["t"]))
        for track in np.unique(c["track"]):
            rows = np.flatnonzero(c["track"] == track)
            t, s = c["t"][rows], c["speed"][rows]
            out[rows] = [s[(t >= ti - 0.4) & (t <= ti)].min() if ti - t[0] >= 0.4 else 0 for ti in t]
        return out

    baselines = {
        "tracker_speed_min_0.4s": [rolling_min_speed(c) for c in clips],
        "sustained_speed": [np.nan_to_num(c["x"][:, 0]) for c in clips],
    }
    for name, s in baselines.items():
        clip_scores = [float(v.max()) if len(v) else 0.0 for v in s]
        report[name] = {"auroc": round(auroc(clip_scores, [c["running"] for c in clips]) or 0, 3)}
        print(name, report[name])
    for name, feats in FEATURE_SETS.items():
        s = out_of_fold(clips, feats)
        report[name] = {"features": list(feats)}
        for thr, dur in RULES:
            report[name][f"rule_{thr}_{dur}s"] = summary(clips, s, thr, dur)
        print(
            f"{name:32s}", json.dumps({k: v for k, v in report[name]["rule_0.7_0.2s"].items() if k != "false_alarms"})
        )
    # The features, how long the speed is measured and sustained (shorter spans answer sooner on a short pass)
    # and the rule's duration, chosen together.
    report["spans"] = {}
    for spans in SPAN_CHOICES:
        rows = load(args.harvest, spans)
        for features in FEATURE_CHOICES:
            s = out_of_fold(rows, FEATURE_SETS[features])
            key = span_key(features, spans)
            report["spans"][key] = {f"rule_{thr}_{dur}s": summary(rows, s, thr, dur) for thr, dur in SPAN_RULES}
            for rule, figures in report["spans"][key].items():
                shown = {k: v for k, v in figures.items() if k != "false_alarms"}
                print(f"{key:68s} {rule:14s}", json.dumps(shown))
    report["chosen"] = CHOSEN
    best_spans, best_rule = choose(report["spans"])
    report["chosen_spans"] = {"spans": best_spans, "rule": best_rule}
    shipped = span_key(CHOSEN, CHOSEN_SPANS)
    print(f"chosen: {best_spans}, {best_rule} (shipped: {shipped}, duration {CHOSEN_DURATION} s)")
    if args.fit:
        clips = load(args.harvest, CHOSEN_SPANS)
        model = fit(clips, FEATURE_SETS[CHOSEN])
        model.speed_span_s, model.sustain_s = CHOSEN_SPANS
        target = args.model / "running.json"
        figures = report["spans"][shipped][f"rule_0.7_{CHOSEN_DURATION}s"]
        rule = f"0.7 held {CHOSEN_DURATION:g} s"
        held = {k: v for k, v in figures.items() if k != "false_alarms"} | {"rule": rule}
        extra = {"fitted_on": FIT_NOTE, "clips": len(clips), "leave_one_group_out": held}
        target.write_text(json.dumps(model.to_json() | extra, indent=1) + "\n")
        print(f"wrote {target}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
