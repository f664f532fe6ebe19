"""What a site gets from the review loop: ``har-stream serve`` raises alerts on real footage, an operator reviews
every alert that has a clip through the API, ``clips export-reviewed`` turns the reviews into a labelled clip
folder, and ``clips evaluate-video`` reads that folder back.

    .venv/bin/python -m experiments.review_loop [--fights 6 --others 6] [--json experiments/results/review_loop.json]

The cameras: the first ``--fights`` fight clips and the first ``--others`` no-fight surveillance clips
(``surv_nofi*``, by file name) of the CCTV test groups, each run once with ``configs/cctv.yaml``'s rules, and the
concourse crowd at detector input 1280 with the same rules (there, every alert is on people walking). The
"operator" judges an alert by the clip's own label: confirmed when the alert's action is what the clip shows, a
false alarm otherwise (every concourse alert is one). The figures say how many labelled clips a site gets per
alert raised, and what evaluate-video reports on them.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

from experiments.paths import CCTV_SPLIT, CONFIGS, CROWD_VIDEO, OUT, REPO, VIDEOS

TOKEN_ENV = "REVIEW_LOOP_TOKEN"
CONCOURSE = "concourse"


def cameras(fights: int, others: int) -> dict[str, tuple[Path, str]]:
    """Camera name -> (clip, the clip's label): CCTV test clips, then the concourse (label ``none``)."""
    split = {r["file"]: r for r in csv.DictReader(CCTV_SPLIT.open()) if r["part"] == "test"}
    chosen = sorted(f for f, r in split.items() if r["label"] == "fighting")[:fights]
    chosen += sorted(f for f in split if f.startswith("surv_nofi"))[:others]  # the fights' no-fight twins
    out = {re.sub(r"[^A-Za-z0-9_-]", "_", Path(f).stem): (VIDEOS / "cctv" / f, split[f]["label"]) for f in chosen}
    out[CONCOURSE] = (CROWD_VIDEO, "none")
    return out


def site_config(chosen: dict[str, tuple[Path, str]], port: int, media: Path) -> dict:
    """A site: one camera per clip, cctv.yaml's settings and rules; the concourse at detector input 1280."""
    camera = yaml.safe_load((CONFIGS / "cctv.yaml").read_text())
    camera.pop("camera", None)
    entries = []
    for name, (clip, _) in chosen.items():
        entry = {"name": name, "source": {"uri": str(clip)}}
        if name == CONCOURSE:
            entry["detector"] = {"imgsz": 1280}
        entries.append(entry)
    return {
        "defaults": camera,
        "cameras": entries,
        "server": {"port": port, "tokens": [{"name": "reviewer", "token": f"${{{TOKEN_ENV}}}", "role": "operator"}]},
        "media": {"folder": str(media)},
    }


def call(base: str, path: str, token: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    request = urllib.request.Request(base + path, data=data, headers=headers, method="POST" if body else "GET")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def wait_until_finished(base: str, token: str, process: subprocess.Popen, log: Path) -> None:
    """Every camera's file has been read to its end, and the last alert's clip has had time to be written."""
    while True:
        if process.poll() is not None:
            raise SystemExit(f"serve exited early:\n{log.read_text()[-3000:]}")
        try:
            states = [c["status"] for c in call(base, "/api/cameras", token)]
            if states and all(s == "finished" for s in states):
                break
        except OSError:
            pass
        time.sleep(2)
    time.sleep(8)  # clip_post_s of footage after the last alert, then the clip is written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fights", type=int, default=6)
    parser.add_argument("--others", type=int, default=6)
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument("--work", type=Path, default=OUT / "review_loop")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    chosen = cameras(args.fights, args.others)
    config = args.work / "site.yaml"
    config.write_text(yaml.safe_dump(site_config(chosen, args.port, args.work / "media"), sort_keys=False))
    token = secrets.token_urlsafe(24)
    env = {**os.environ, TOKEN_ENV: token}
    log = args.work / "serve.log"
    base = f"http://127.0.0.1:{args.port}"
    cli = [sys.executable, "-m", "har_stream.cli"]
    with log.open("w") as handle:
        process = subprocess.Popen([*cli, "serve", "--config", str(config)], cwd=REPO, env=env, stdout=handle,
                                   stderr=subprocess.STDOUT)  # fmt: skip
    try:
        wait_until_finished(base, token, process, log)
        alerts = call(base, "/api/events?limit=500", token)["items"]
        verdicts = {"confirmed": 0, "false_alarm": 0}
        for alert in alerts:
            if not alert["clip_url"]:
                continue
            _, label = chosen[alert["camera"]]
            verdict = "confirmed" if alert["action"] == label else "false_alarm"
            call(base, f"/api/events/{alert['alert_id']}/review", token, {"verdict": verdict})
            verdicts[verdict] += 1
    finally:
        process.terminate()
        process.wait(90)
    exported = Path(tempfile.mkdtemp(prefix="reviewed-", dir=args.work))
    export = subprocess.run([*cli, "clips", "export-reviewed", "--config", str(config), "--out", str(exported)],
                            cwd=REPO, env=env, capture_output=True, text=True, check=True)  # fmt: skip
    evaluation = args.work / "eval"
    subprocess.run([*cli, "clips", "evaluate-video", "--clips", str(exported), "--config", str(CONFIGS / "cctv.yaml"),
                    "--out", str(evaluation), "--no-progress"], cwd=REPO, env=env, check=True)  # fmt: skip
    summary = json.loads((evaluation / "results.json").read_text())["summary"]
    labels = [r["label"] for r in csv.DictReader((exported / "labels.csv").open())]
    result = {
        "cameras": {name: label for name, (_, label) in chosen.items()},
        "alerts_raised": len(alerts),
        "alerts_reviewed": verdicts,
        "export": export.stdout.strip().splitlines()[-1:],
        "exported_labels": {label: labels.count(label) for label in sorted(set(labels))},
        "evaluate_video_on_the_export": summary,
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
