"""Apprise delivery against a real HTTP server on 127.0.0.1, reached through Apprise's own json:// service."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import pytest

from har_stream.config.site import AppriseConfig, ConfigError, validate_site
from har_stream.notify import AppriseNotifier
from har_stream.rules.events import AlertEvent
from tests.serve.conftest import gate_alert_message as message
from tests.serve.netutil import HookReceiver

SECRET = "apprise-path-secret-4711"


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    path = tmp_path / "snapshots" / "gate" / "abc123.jpg"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\xff\xd8\xff\xe0fake-jpeg-body\xff\xd9")
    return path


def apprise_url(receiver: HookReceiver) -> str:
    return f"json://127.0.0.1:{receiver.port}/{SECRET}/hook"


def test_alert_with_snapshot_arrives_through_apprise(receiver: HookReceiver, tmp_path: Path, snapshot: Path) -> None:
    config = AppriseConfig.model_validate({"url": apprise_url(receiver)})
    notifier = AppriseNotifier(config, tmp_path, name="apprise[0]")
    assert notifier.submit(message(snapshot="snapshots/gate/abc123.jpg"))
    assert not notifier.submit(message(kind="alert_end"))  # starts only, by default
    (got,) = receiver.wait_for(1)
    notifier.close()
    assert got.path == f"/{SECRET}/hook"
    assert got.body["title"] == "HIGH: running on gate (door)"
    assert "person 3: running (90%)" in got.body["message"]
    assert "http://127.0.0.1:8080/api/events/abc123" in got.body["message"]
    assert got.body["type"] == "failure"  # severity high
    (attachment,) = got.body["attachments"]
    assert attachment["filename"] == "abc123.jpg" and attachment["mimetype"] == "image/jpeg"
    assert base64.b64decode(attachment["base64"]) == snapshot.read_bytes()
    assert notifier.health() == {
        "name": "apprise[0]",
        "target": "json://<hidden>",
        "delivered": 1,
        "failed": 0,
        "dropped": 0,
        "pending": 0,
        "attempts": 1,
        "last_error": None,
    }


def test_failed_attempts_are_retried_and_the_alert_arrives_once(
    receiver: HookReceiver, tmp_path: Path, snapshot: Path, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.statuses = [500, 500]
    config = AppriseConfig.model_validate(
        {"url": apprise_url(receiver), "events": ["alert_start", "alert_end"], "backoff_initial_s": 0.1}
    )
    with caplog.at_level(logging.DEBUG):
        notifier = AppriseNotifier(config, tmp_path, name="apprise[0]")
        notifier.submit(message(snapshot="snapshots/gate/abc123.jpg"))
        notifier.submit(message(kind="alert_end"))
        receiver.wait_for(2, status=200)
        notifier.close()
    assert [(r.body["title"].split(":")[0], r.status) for r in receiver.received] == [
        ("HIGH", 500),
        ("HIGH", 500),
        ("HIGH", 200),
        ("Ended", 200),
    ]
    assert all(len(r.body["attachments"]) == 1 for r in receiver.received[:3])
    assert receiver.received[3].body["attachments"] == []  # an end has no snapshot
    assert (notifier.stats.delivered, notifier.stats.failed, notifier.stats.attempts) == (2, 0, 4)
    assert notifier.stats.last_error is not None and "500" in notifier.stats.last_error
    outcomes = [h["outcome"] for h in notifier.stats.history]
    assert outcomes[2:] == ["delivered", "delivered"] and all("500" in o for o in outcomes[:2])
    assert "retry in" in caplog.text
    assert SECRET not in caplog.text and SECRET not in str(notifier.health())


def test_gives_up_after_max_attempts(receiver: HookReceiver, tmp_path: Path) -> None:
    receiver.statuses = [503, 503, 503]
    config = AppriseConfig.model_validate({"url": apprise_url(receiver), "max_attempts": 2, "backoff_initial_s": 0.05})
    notifier = AppriseNotifier(config, tmp_path)
    notifier.submit(message("first"))
    notifier.submit(message("second"))
    receiver.wait_for(3)
    receiver.wait_for(1, status=200)
    notifier.close()
    assert [r.status for r in receiver.received] == [503, 503, 503, 200]
    assert (notifier.stats.delivered, notifier.stats.failed, notifier.stats.attempts) == (1, 1, 4)


def test_config_takes_bare_urls_and_names_bad_ones_without_showing_them() -> None:
    base = {"cameras": [{"name": "a", "source": {"uri": "a.mp4"}}]}
    site = validate_site(
        {**base, "notify": {"apprise": ["json://127.0.0.1:9/${HOOK}", {"url": "ntfy://ntfy.sh/x", "max_attempts": 2}]}},
        env={"HOOK": SECRET},
    )
    first, second = site.notify.apprise
    assert first.url.get_secret_value() == f"json://127.0.0.1:9/{SECRET}" and first.events == ["alert_start"]
    assert second.max_attempts == 2
    assert SECRET not in repr(site) and SECRET not in str(site.notify.model_dump())
    bad = ["unknownservice://host/" + SECRET, SECRET, {"url": "json://127.0.0.1/x", "timeout_s": 0}, {"uri": "x"}]
    with pytest.raises(ConfigError) as error:
        validate_site({**base, "notify": {"apprise": bad}}, env={})
    text = str(error.value)
    assert "notify.apprise[0].url: Apprise cannot use this unknownservice:// URL" in text
    assert "notify.apprise[1].url: not an Apprise URL" in text
    assert "notify.apprise[2].timeout_s" in text
    assert "notify.apprise[3].url: Field required" in text and "notify.apprise[3].uri" in text
    assert SECRET not in text


def test_a_site_delivers_through_apprise_and_counts_it_in_health_and_metrics(
    receiver: HookReceiver, tmp_path: Path
) -> None:
    """The real runtime: an alert through the hub reaches the Apprise URL; health and /metrics count the retry."""
    from prometheus_client import generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from har_stream.serve.metrics import metrics_registry
    from har_stream.serve.runtime import SiteRuntime

    receiver.statuses = [500]
    site = validate_site(
        {
            "cameras": [{"name": "gate", "source": {"uri": str(tmp_path / "gate.mp4")}}],
            "media": {"folder": str(tmp_path / "media")},
            "notify": {"apprise": [{"url": "json://127.0.0.1:${PORT}/${HOOK}", "backoff_initial_s": 0.1}]},
        },
        env={"PORT": str(receiver.port), "HOOK": SECRET},
    )
    runtime = SiteRuntime(site)
    try:
        relative = "snapshots/gate/abc123.jpg"
        (runtime.media_root / relative).parent.mkdir(parents=True, exist_ok=True)
        (runtime.media_root / relative).write_bytes(b"\xff\xd8jpeg\xff\xd9")
        event = AlertEvent("alert_start", "abc123", "gate", "run", "medium", 3, "running", 0.8, None, 1.0, 1e9, 5, [])
        runtime.hub.publish_alert(event, relative)
        receiver.wait_for(1, status=200)
        runtime.shutdown()
        (health,) = runtime.notify_health()["apprise"]
        text = generate_latest(metrics_registry(runtime)).decode()
    finally:
        runtime.stop()
    assert [r.status for r in receiver.received] == [500, 200]
    assert base64.b64decode(receiver.received[1].body["attachments"][0]["base64"]) == b"\xff\xd8jpeg\xff\xd9"
    assert health["target"] == "json://<hidden>" and (health["delivered"], health["attempts"]) == (1, 2)
    samples = {  # by config entry too: two URLs of one service share a target, never a name
        (s.name, s.labels.get("target")): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if family.name.startswith("har_stream_apprise")
    }
    assert samples[("har_stream_apprise_delivered_total", "json://<hidden>")] == 1
    assert samples[("har_stream_apprise_attempts_total", "json://<hidden>")] == 2
    assert samples[("har_stream_apprise_failed_total", "json://<hidden>")] == 0
    families = text_string_to_metric_families(text)
    names = {s.labels.get("name") for f in families for s in f.samples if s.name.startswith("har_stream_apprise")}
    assert names == {"apprise[0]"}
    assert SECRET not in text and SECRET not in str(runtime.notify_health())
