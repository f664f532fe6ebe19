"""``card.md`` of a temporal model folder, from its ``model.json``."""

from __future__ import annotations

import json
from pathlib import Path

from har_stream.model_card import ModelCard, Section
from har_stream.temporal.features import ALL_FEATURE_NAMES
from har_stream.temporal.running import SPEED_SPAN_S, SUSTAIN_S


def write_temporal_card(folder: Path) -> Path:
    """Write ``folder/card.md``: data, split, targets, features, model, figures, cost."""
    meta = json.loads((folder / "model.json").read_text())
    val = meta.get("validation", {})
    data = meta.get("data", {})
    card = ModelCard(
        f"Temporal model `{meta['name']}`",
        [
            f"Evidence for {', '.join(meta['actions'])} from a person's last {meta['window_s']:g} s of pose and "
            f"motion. Trained {meta.get('saved', '')} with `{meta.get('command', '')}`."
        ],
    )
    card.add(
        "Data and split",
        f"- {data.get('clips', '')}; windows: {data.get('windows', {})}.",
        "- Groups (the recording a clip was cut from) never straddle train/val/test; the test groups are used "
        "only by `har-stream clips evaluate-video --split models/cctv_split.csv --part test`.",
        "- Per-track targets from per-clip labels (see `har_stream/training/temporal_dataset.py`): in a fight clip, "
        "people touching another person's box on at least half their frames are fighting, bystanders are left out; "
        "every person in a none/walking clip is a negative. Negatives are re-weighted so that as large a share of them "
        "stands close to someone as of the positives (closeness alone must not decide). Running positives are "
        "synthetic: walkers of train clips replayed 2x and 3x faster; negatives: everyone at real speed and "
        "walkers whose translation is stretched 4x (what an overhead view does to box-height speeds). Where the "
        "folder has `running.json`, running comes from that kinematic model instead (below).",
        f"- Targets: {data.get('targets', {})}.",
    )
    card.add(
        "Features",
        "Per window, normalised by box height and time (see `har_stream/temporal/features.py`): "
        + ", ".join(f"`{n}`" for n in ALL_FEATURE_NAMES)
        + ".",
        "Keypoints below confidence 0.3 count as missing and their features are NaN (the trees learned a branch "
        "for missing values); people under 40 px tall get no limb or flow features. The `flow_*` features are "
        "dense optical flow (Farneback) in and beside the person's box between consecutive frames, with the "
        "region's median flow (the body's translation) taken out (see `har_stream/temporal/flow.py`).",
    )
    card.add(
        "Model",
        f"- {meta['model']}, exported to ONNX (`<action>.onnx`), run on ONNX Runtime in the pipeline.",
        f"- ONNX vs scikit-learn max difference on training windows: {val.get('onnx_max_abs_diff', 'n/a')}.",
    )
    card.add(
        "Figures on the val groups (model fitted on train groups only)",
        f"- Fighting, clip-level AUROC (highest smoothed track score): {val.get('fighting_clip_auroc')} "
        f"on {val.get('fighting_clips')}.",
        f"- Running, window AUROC of synthetic 2-3x walkers against real-speed windows: "
        f"{val.get('running_window_auroc_synthetic')} on {val.get('running_windows')}.",
        "",
    )
    running = _running_section(folder)
    if running is not None:
        card.sections.append(running)
    cv = meta.get("cross_validation")
    if cv:
        card.add(
            "Cross-validation over the train and val groups (docs/research/actions.md)",
            f"- {cv['what']}: fighting clip AUROC motion alone {cv['motion_alone']}, image classifier alone "
            f"{cv['image_alone']}, fused with weight {cv['weight']} {cv['fused']} ({cv['clips']} clips).",
        )
    test = meta.get("held_out_test")
    if test:
        card.add(
            "Held-out test groups (har-stream clips evaluate-video --split models/cctv_split.csv --part test)",
            *[f"- {line}" for line in test],
        )
    tried = meta.get("levers_tried")
    if tried:
        card.add(
            "Levers tried, one adopted (cross-validation over the train and val groups; docs/research/actions.md)",
            *[f"- {line}" for line in tried],
        )
    cost = meta.get("cost")
    if cost:
        card.add("Cost", *[f"- {line}" for line in cost])
    if not test:
        card.add(None, "Held-out test figures (evaluate-video on the test groups) are in docs/research/actions.md.")
    return card.write(folder)


#: How the card names each running measurement (``{span}``, ``{sustain}``: the model's spans in seconds).
_RUNNING_PROSE = {
    "sustained_speed": "the speed of the box's bottom centre in body heights per second over {span:g} s, its "
    "lowest value over the last {sustain:g} s (sustained), the body height taken from the torso where the box is cut",
    "height_jitter": "the box height's jitter",
    "edge_share": "the share of frames touching the frame edge",
    "cadence": "the ankles' cadence",
    "elbow_bend": "the bend at the elbows (runners carry their arms bent)",
    "approach_speed": "the speed towards or away from the camera",
    "straightness": "the straightness of the path",
    "stride": "the stride",
    "knee_lift": "the knee lift",
}


def _running_section(folder: Path) -> Section | None:
    """The kinematic running model's part of the card (None when the folder has no ``running.json``)."""
    path = folder / "running.json"
    if not path.is_file():
        return None
    running = json.loads(path.read_text())
    weights = ", ".join(f"`{f}` {w:+.2f}" for f, w in zip(running["features"], running["weights"], strict=True))
    span, sustain = running.get("speed_span_s", SPEED_SPAN_S), running.get("sustain_s", SUSTAIN_S)
    measured = "; ".join(
        _RUNNING_PROSE.get(f.removeprefix("log_"), f).format(span=span, sustain=sustain) for f in running["features"]
    )
    section = Section(
        "Running: the kinematic model (`running.json`)",
        [
            "- Running's evidence is a logistic model over how the person moves in their last second "
            f"(`har_stream/temporal/running.py`): {measured}. "
            f"Standardised weights: {weights}; bias {running['bias']:+.2f}.",
            f"- Fitted on {running.get('fitted_on', 'n/a')} ({running.get('clips', '?')} clips): every window "
            "where the person moves at least 0.3 body heights a second; windows of running clips positive, all "
            "others negative, unweighted (so the probability keeps the real share of running among moving people), "
            "plus walkers of quiet clips played at a running speed as extra positives, labelled synthetic and "
            "weighted 0.3.",
        ],
    )
    figures = running.get("leave_one_group_out")
    if figures:
        section.body.append(f"- Leave-one-group-out over those clips (docs/research/actions.md): {figures}.")
    return section
