"""Home Assistant MQTT discovery against a real mosquitto broker, read back by a real subscriber.

Alerts come from the real rule engine and go through the site's real hub and MQTT notifier.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from har_stream import __version__
from har_stream.config.site import ConfigError, MqttConfig, validate_site
from har_stream.notify import MqttNotifier
from har_stream.serve.health import CameraHealth
from har_stream.serve.runtime import SiteRuntime
from tests.conftest import SHARED, require, write_clip
from tests.serve.netutil import Broker, Subscriber, start_mosquitto
from tests.serve.test_alert_contract import raise_alert

CLASSROOM = SHARED / "videos" / "cctv" / "saumyajha_classroom_cctv.mp4"


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    broker = start_mosquitto(tmp_path_factory.mktemp("mosquitto"))
    yield broker
    broker.stop()


def site_config(folder: Path, broker: Broker, prefix: str, **home_assistant: object) -> dict:
    """Two cameras: gate (rule "run") and hall (no rules); MQTT with Home Assistant discovery."""
    return {
        "cameras": [
            {
                "name": "gate",
                "source": {"uri": str(folder / "gate.mp4")},
                "rules": [{"name": "run", "actions": ["running"]}],
            },
            {"name": "hall", "source": {"uri": str(folder / "hall.mp4")}},
        ],
        "media": {"folder": str(folder / "media")},
        "notify": {
            "mqtt": {
                "host": "127.0.0.1",
                "port": broker.port,
                "username": broker.username,
                "password": "${MQTT_PW}",
                "topic_prefix": prefix,
                "home_assistant": {"enabled": True, **home_assistant},
            }
        },
    }


def health(camera: str, people: int) -> CameraHealth:
    return CameraHealth.starting(camera, None).model_copy(
        update={"status": "connected", "connected": True, "people": people}
    )


def test_cameras_rules_and_people_appear_in_home_assistant(broker: Broker, tmp_path: Path) -> None:
    subscriber = Subscriber(broker, "#")
    site = validate_site(site_config(tmp_path, broker, "ha1"), env={"MQTT_PW": broker.password})
    runtime = SiteRuntime(site)
    try:
        assert runtime.mqtt is not None and runtime.mqtt.connected.wait(10), runtime.mqtt and runtime.mqtt.last_error
        state_topic = "ha1/gate/rules/run/state"
        subscriber.wait_for(lambda t, p: t == state_topic and p == "OFF")  # announced at connection
        start, end = raise_alert()  # the real rule engine: person 4 runs in the door zone, then leaves
        other_start = dataclasses.replace(start, alert_id="second", track_id=5)
        other_end = dataclasses.replace(end, alert_id="second", track_id=5)
        runtime.hub.publish_health("gate", health("gate", 2))
        runtime.hub.publish_alert(start)
        runtime.hub.publish_alert(other_start)  # a second person: the sensor stays on ...
        runtime.hub.publish_alert(end)  # ... until the last of them ends
        subscriber.wait_for(lambda t, p: t == "ha1/gate/events" and f'"{end.alert_id}"' in p and "alert_end" in p)
        runtime.hub.publish_alert(other_end)
        subscriber.wait_for(lambda t, p: t == "ha1/gate/events" and '"second"' in p and "alert_end" in p)
        subscriber.wait_for(lambda t, p: t == "ha1/gate/people" and p == "2")
        runtime.shutdown()
        subscriber.wait_for(lambda t, p: t == "ha1/gate/availability" and p == "offline")
    finally:
        runtime.stop()
        subscriber.close()
    messages = list(subscriber.messages)
    assert [p for t, p, _ in messages if t == state_topic] == ["OFF", "ON", "OFF"]
    configs = {t: json.loads(p) for t, p, _ in messages if t.startswith("homeassistant/")}
    assert set(configs) == {
        "homeassistant/binary_sensor/ha1_gate/rule_run/config",
        "homeassistant/sensor/ha1_gate/people/config",
        "homeassistant/sensor/ha1_hall/people/config",
    }
    # Configs and states are retained: Home Assistant, restarted, learns them at once.
    late = Subscriber(broker, "#")
    for topic in configs:
        (got,) = late.wait_for(lambda t, p, topic=topic: t == topic)
        assert json.loads(got[1]) == configs[topic] and got[2]
    assert late.wait_for(lambda t, p: t == state_topic)[0][1:] == ("OFF", True)
    assert late.wait_for(lambda t, p: t == "ha1/gate/people")[0][1:] == ("2", True)
    late.close()
    availability = [{"topic": "ha1/available"}, {"topic": "ha1/gate/availability"}]
    device = {
        "identifiers": ["ha1_gate"],
        "name": "gate",
        "manufacturer": "har-stream",
        "model": "Action recognition camera",
        "sw_version": __version__,
    }
    rule = configs["homeassistant/binary_sensor/ha1_gate/rule_run/config"]
    assert rule["name"] == "run" and rule["unique_id"] == "ha1_gate_rule_run"
    assert rule["state_topic"] == state_topic and (rule["payload_on"], rule["payload_off"]) == ("ON", "OFF")
    assert rule["device"] == device and rule["availability"] == availability
    assert rule["availability_mode"] == "all" and rule["payload_available"] == "online"
    people = configs["homeassistant/sensor/ha1_gate/people/config"]
    assert people["state_topic"] == "ha1/gate/people" and people["unique_id"] == "ha1_gate_people"
    assert (people["unit_of_measurement"], people["state_class"]) == ("people", "measurement")
    assert people["device"] == device
    hall = configs["homeassistant/sensor/ha1_hall/people/config"]
    assert hall["device"]["identifiers"] == ["ha1_hall"] and hall["device"]["name"] == "hall"
    assert hall["availability"][1] == {"topic": "ha1/hall/availability"}


def test_people_count_is_sent_when_it_changes_at_most_once_per_interval(broker: Broker) -> None:
    subscriber = Subscriber(broker, "ha2/+/people")
    config = MqttConfig.model_validate(
        {
            "host": "127.0.0.1",
            "port": broker.port,
            "username": broker.username,
            "password": broker.password,
            "topic_prefix": "ha2",
            "home_assistant": {"enabled": True, "people_interval_s": 2},
        }
    )
    notifier = MqttNotifier(config, ["cam"], {"cam": []})
    try:
        assert notifier.connected.wait(10), notifier.last_error
        notifier.publish_people("cam", 1)
        notifier.publish_people("cam", 2)  # within the interval: held back ...
        notifier.publish_people("cam", 3)  # ... and replaced by the newer count
        notifier.publish_people("cam", None)  # unknown: nothing is sent
        pause = threading.Event()
        for _ in range(600):  # as the hub does once a second: the held count goes out after the interval
            notifier.publish_people("cam", 3)
            if any(p == "3" for _, p, _ in subscriber.messages):
                break
            pause.wait(0.05)  # a short pause between calls
        notifier.publish_people("cam", 3)  # unchanged: not sent again
    finally:
        notifier.close()
    late = Subscriber(broker, "ha2/cam/people")  # retained: a restarted Home Assistant learns the count at once
    late.wait_for(lambda t, p: p == "3")
    late.close()
    subscriber.close()
    assert [p for _, p, _ in subscriber.messages] == ["1", "3"]


def test_home_assistant_settings_are_validated_by_name(broker: Broker, tmp_path: Path) -> None:
    bad = {"discovery_prefix": "home#assistant", "people_interval_s": 0, "enable": True}
    with pytest.raises(ConfigError) as error:
        validate_site(site_config(tmp_path, broker, "ha3", **bad), env={"MQTT_PW": "x"})
    text = str(error.value)
    assert "notify.mqtt.home_assistant.discovery_prefix" in text
    assert "notify.mqtt.home_assistant.people_interval_s" in text
    assert "notify.mqtt.home_assistant.enable" in text
    site = validate_site(site_config(tmp_path, broker, "ha3"), env={"MQTT_PW": "x"})
    assert site.notify.mqtt is not None and site.notify.mqtt.home_assistant.discovery_prefix == "homeassistant"


def test_a_real_clip_turns_the_rule_on_and_off_and_counts_people(broker: Broker, tmp_path: Path) -> None:
    """The whole path: 60 real classroom frames through the real pipeline (detector, tracker, rules), the hub,
    the MQTT notifier and the broker; Home Assistant's topics read back by a real subscriber."""
    clip = write_clip(require(CLASSROOM), tmp_path / "classroom60.mp4", frames=60)
    config = site_config(tmp_path, broker, "ha4")
    config["defaults"] = {"classifier": {"model": "none"}, "temporal": {"model": "none"}, "detector": {"imgsz": 640}}
    config["cameras"] = [
        {
            "name": "gate",
            "source": {"uri": str(clip)},
            "rules": [{"name": "anyone", "actions": ["*"], "min_confidence": 0, "min_duration_s": 0}],
        }
    ]
    config["media"]["clips"] = False
    subscriber = Subscriber(broker, "ha4/#")
    runtime = SiteRuntime(validate_site(config, env={"MQTT_PW": broker.password}))
    state_topic = "ha4/gate/rules/anyone/state"
    try:
        runtime.start()
        gate = runtime.cameras["gate"]
        subscriber.wait_for(lambda t, p: t == state_topic and p == "ON", timeout=300)
        subscriber.wait_for(lambda t, p: t == "ha4/gate/people" and int(p) > 0, timeout=60)
        for _ in range(3000):  # the clip ends: the pipeline ends every open alert
            if gate.health().status == "finished":
                break
            threading.Event().wait(0.1)
        runtime.stop()  # the hub hands over every end before the notifier says goodbye
        subscriber.wait_for(lambda t, p: t == "ha4/gate/availability" and p == "offline")  # sent after them
    finally:
        runtime.stop()
        subscriber.close()
    states = [p for t, p, _ in subscriber.messages if t == state_topic]
    assert states[0] == "OFF" and "ON" in states and states[-1] == "OFF", states
    assert all(a != b for a, b in itertools.pairwise(states)), states  # only changes are published
