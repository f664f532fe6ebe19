"""Webhook delivery against a real HTTP server on 127.0.0.1: retries with backoff, never blocking the caller."""

from __future__ import annotations

import base64
import itertools
import logging
import time
from pathlib import Path

from pydantic import SecretStr

from har_stream.config.site import WebhookConfig
from har_stream.notify import WebhookNotifier
from tests.serve.conftest import gate_alert_message as message
from tests.serve.netutil import HookReceiver, free_port

SECRET = "hook-secret-987654"


def test_failed_attempts_are_retried_with_exponential_backoff(receiver: HookReceiver, caplog) -> None:
    receiver.statuses = [503, 500, 429]
    hook = WebhookNotifier(
        WebhookConfig(
            url=receiver.url,
            headers={"Authorization": SecretStr(f"Bearer {SECRET}")},
            backoff_initial_s=0.2,
            backoff_max_s=5,
        ),
        Path("."),
    )
    with caplog.at_level(logging.DEBUG):
        assert hook.submit(message())
        got = receiver.wait_for(4, timeout=10)
        hook.close()
    assert [r.status for r in got] == [503, 500, 429, 200]
    gaps = [b.at - a.at for a, b in itertools.pairwise(got)]
    # 0.2 s, 0.4 s, 0.8 s: doubling from backoff_initial_s.
    for gap, expected in zip(gaps, (0.2, 0.4, 0.8), strict=True):
        assert expected * 0.9 <= gap <= expected + 0.5, gaps
    body = got[-1].body
    assert body["type"] == "alert_start" and body["alert_id"] == "abc123" and body["camera"] == "gate"
    assert body["event_url"] == "http://127.0.0.1:8080/api/events/abc123"
    assert got[-1].headers["Authorization"] == f"Bearer {SECRET}"
    assert [r.headers["X-Attempt"] for r in got] == ["1", "2", "3", "4"]
    assert all(r.headers["X-Har-Stream-Delivery"] == "abc123:alert_start" for r in got)  # to deduplicate retries
    assert (hook.stats.delivered, hook.stats.failed, hook.stats.attempts) == (1, 0, 4)
    assert "retry in" in caplog.text and SECRET not in caplog.text


def test_gives_up_after_max_attempts_and_on_client_errors(receiver: HookReceiver) -> None:
    receiver.statuses = [500, 500, 400]
    hook = WebhookNotifier(WebhookConfig(url=receiver.url, max_attempts=2, backoff_initial_s=0.05), Path("."))
    hook.submit(message("first"))
    hook.submit(message("second"))  # 400 is not retried
    receiver.wait_for(3)
    hook.close()
    assert [(r.body["alert_id"], r.status) for r in receiver.received] == [
        ("first", 500),
        ("first", 500),
        ("second", 400),
    ]
    assert (hook.stats.delivered, hook.stats.failed) == (0, 2)


def test_unreachable_url_never_blocks_submit() -> None:
    port = free_port()  # nothing listens here: every attempt is refused
    hook = WebhookNotifier(
        WebhookConfig(url=f"http://127.0.0.1:{port}/x", max_attempts=3, backoff_initial_s=0.05, queue_size=5),
        Path("."),
    )
    start = time.perf_counter()
    for i in range(20):
        hook.submit(message(f"a{i}"))
    assert time.perf_counter() - start < 0.05  # the caller (the video pipeline) never waits
    assert hook.stats.dropped >= 14  # the queue keeps at most 5 (+1 being sent); the oldest are dropped
    hook.close(timeout=0.5)
    assert hook.stats.last_error == "ConnectError"


def test_slow_receiver_does_not_block_and_inline_image_is_sent(receiver: HookReceiver, tmp_path: Path) -> None:
    receiver.delay_s = 0.5
    snapshot = tmp_path / "snapshots" / "gate" / "a.jpg"
    snapshot.parent.mkdir(parents=True)
    snapshot.write_bytes(b"\xff\xd8fake-jpeg\xff\xd9")
    hook = WebhookNotifier(WebhookConfig(url=receiver.url, image="inline", events=["alert_start"]), tmp_path)
    start = time.perf_counter()
    assert hook.submit(message(snapshot="snapshots/gate/a.jpg"))
    assert not hook.submit(message(kind="alert_end"))  # not subscribed to ends
    assert time.perf_counter() - start < 0.05
    (got,) = receiver.wait_for(1)
    hook.close()
    assert base64.b64decode(got.body["snapshot_jpeg"]) == snapshot.read_bytes()
    assert "snapshot_url" not in got.body and got.body["snapshot_path"] == "snapshots/gate/a.jpg"
