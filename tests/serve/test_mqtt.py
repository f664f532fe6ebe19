"""MQTT delivery to a real mosquitto broker (started here), checked by a real subscriber."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading

import pytest
from pydantic import SecretStr

from har_stream.config.site import MqttConfig
from har_stream.notify import MqttNotifier, alert_message
from har_stream.rules.events import AlertEvent
from tests.conftest import REPO
from tests.serve.netutil import Broker, Subscriber, start_mosquitto


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory):
    broker = start_mosquitto(tmp_path_factory.mktemp("mosquitto"))
    yield broker
    broker.stop()


def config(broker: Broker, **extra) -> MqttConfig:
    return MqttConfig(
        host="127.0.0.1", port=broker.port, username=broker.username, password=SecretStr(broker.password), **extra
    )


def event(kind: str, camera: str = "front door") -> AlertEvent:
    return AlertEvent(kind, "id42", camera, "running", "high", 3, "running", 0.9, None, 1.0, 1000.0, 25, [1, 2, 3, 4])


def test_alerts_and_availability_reach_a_subscriber(broker: Broker) -> None:
    subscriber = Subscriber(broker, "site1/#")
    notifier = MqttNotifier(config(broker, topic_prefix="site1"), ["front door", "yard"])
    try:
        assert notifier.connected.wait(10), notifier.last_error
        subscriber.wait_for(lambda t, p: t == "site1/available" and p == "online")
        subscriber.wait_for(lambda t, p: t == "site1/front_door/availability" and p == "offline")
        notifier.publish_health("front door", {"status": "connected", "fps_in": 25.0})
        subscriber.wait_for(lambda t, p: t == "site1/front_door/availability" and p == "online")
        (status,) = subscriber.wait_for(lambda t, p: t == "site1/front_door/status")
        assert json.loads(status[1])["status"] == "connected"
        notifier.publish_alert(alert_message(event("alert_start"), "snapshots/x.jpg", "http://127.0.0.1:8080"))
        notifier.publish_alert(alert_message(event("alert_end"), None, "http://127.0.0.1:8080"))
        found = subscriber.wait_for(lambda t, p: t == "site1/front_door/events" and '"alert_end"' in p)
        events = [json.loads(p) for t, p, _ in subscriber.messages if t == "site1/front_door/events"]
        assert [e["type"] for e in events] == ["alert_start", "alert_end"]
        assert events[0]["snapshot_url"] == "http://127.0.0.1:8080/media/snapshots/x.jpg"
        assert not found[0][2]  # events are not retained
    finally:
        notifier.close()
    subscriber.wait_for(lambda t, p: t == "site1/available" and p == "offline")
    subscriber.wait_for(lambda t, p: t == "site1/yard/availability" and p == "offline")
    subscriber.close()
    # Availability is retained: a late subscriber learns the current state at once.
    late = Subscriber(broker, "site1/+/availability")
    late.wait_for(lambda t, p: t == "site1/front_door/availability" and p == "offline")
    late.close()


def test_last_will_marks_a_crashed_server_offline(broker: Broker) -> None:
    subscriber = Subscriber(broker, "crash/available")
    script = textwrap.dedent(
        f"""
        import os, time
        from pydantic import SecretStr
        from har_stream.config.site import MqttConfig
        from har_stream.notify.mqtt import MqttNotifier
        n = MqttNotifier(MqttConfig(host="127.0.0.1", port={broker.port}, username="{broker.username}",
                                    password=SecretStr(os.environ["PW"]), topic_prefix="crash"), ["cam"])
        assert n.connected.wait(10)
        time.sleep(0.3)
        os._exit(0)  # no goodbye: the broker must publish the last will
        """
    )
    env = {"PW": broker.password, "PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, cwd=REPO, timeout=60)
    subscriber.wait_for(lambda t, p: p == "offline")
    assert [p for _, p, _ in subscriber.messages] == ["online", "offline"]  # the will, sent by the broker
    subscriber.close()


def test_wrong_password_is_reported_not_logged(broker: Broker, caplog: pytest.LogCaptureFixture) -> None:
    notifier = MqttNotifier(
        MqttConfig(host="127.0.0.1", port=broker.port, username=broker.username, password=SecretStr("wrong-pw-555")),
        ["cam"],
    )
    try:
        deadline_ok = notifier.connected.wait(2)
        assert not deadline_ok
        assert notifier.last_error is not None and "refused" in notifier.last_error
        notifier.publish_alert({"camera": "cam", "type": "alert_start"})  # queued, does not raise or block
    finally:
        notifier.close()
    assert "wrong-pw-555" not in caplog.text


def test_an_unreachable_broker_is_reported_once_per_outage(caplog: pytest.LogCaptureFixture) -> None:
    """Nothing listens on the port: the log says so once and health carries the reason, while paho retries."""
    from tests.serve.netutil import free_port

    port = free_port()
    with caplog.at_level("WARNING", logger="har_stream.notify.mqtt"):
        notifier = MqttNotifier(
            MqttConfig(host="127.0.0.1", port=port, username="u", password=SecretStr("pw-77")), ["cam"]
        )
        try:
            for _ in range(100):  # paho tries at once, then after 1 s and 2 s
                if notifier.last_error is not None:
                    break
                threading.Event().wait(0.1)
            assert notifier.last_error is not None and "cannot reach the broker" in notifier.last_error
            assert "refused" in notifier.last_error.lower()
            threading.Event().wait(3.5)  # more attempts fail meanwhile
            notifier.publish_alert({"camera": "cam", "type": "alert_start"})  # queued, does not raise or block
        finally:
            notifier.close()
    warnings = [r for r in caplog.records if "cannot reach the broker" in r.getMessage()]
    assert len(warnings) == 1 and f"127.0.0.1:{port}" in warnings[0].getMessage()
    assert notifier.outages == 1 and not notifier.connected.is_set()
