"""Home Assistant MQTT discovery: each camera a device, each rule a binary sensor, the people count a sensor.

Discovery configs go to ``<discovery_prefix>/<component>/<node_id>/<object_id>/config`` (retained), as Home
Assistant's MQTT integration expects; the states live under har-stream's own prefix (retained too, so Home
Assistant knows them after its own restart):

- ``<prefix>/<camera>/rules/<rule>/state``: ``ON`` while an alert of that rule is active for anyone on the
  camera, ``OFF`` once the last one ended.
- ``<prefix>/<camera>/people``: the number of people the camera tracks now.

An entity is available while both ``<prefix>/available`` (the server, with its last will) and
``<prefix>/<camera>/availability`` (the camera) say ``online``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from har_stream import __version__
from har_stream.notify.message import topic_name

ON, OFF = "ON", "OFF"


def object_id(name: str) -> str:
    """A name as a discovery topic level and id part: letters, digits, ``_`` and ``-`` only."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)


@dataclass
class Discovery:
    """The discovery configs and state topics of one site (``prefix`` is the MQTT topic prefix)."""

    prefix: str
    discovery_prefix: str
    #: Camera -> its rules' names.
    rules: dict[str, list[str]]

    def node_id(self, camera: str) -> str:
        """The discovery node id (and device identifier) of a camera."""
        return object_id(f"{self.prefix}_{camera}")

    def camera_topic(self, camera: str, *levels: str) -> str:
        """``<prefix>/<camera>/<levels...>`` (the camera as one topic level, as for the other topics)."""
        return "/".join([self.prefix, topic_name(camera), *levels])

    def rule_topic(self, camera: str, rule: str) -> str:
        """Where a rule's binary sensor state is published."""
        return self.camera_topic(camera, "rules", topic_name(rule), "state")

    def people_topic(self, camera: str) -> str:
        """Where a camera's people count is published."""
        return self.camera_topic(camera, "people")

    def _common(self, camera: str) -> dict[str, Any]:
        return {
            "availability": [
                {"topic": f"{self.prefix}/available"},
                {"topic": self.camera_topic(camera, "availability")},
            ],
            "availability_mode": "all",
            "payload_available": "online",
            "payload_not_available": "offline",
            "device": {
                "identifiers": [self.node_id(camera)],
                "name": camera,
                "manufacturer": "har-stream",
                "model": "Action recognition camera",
                "sw_version": __version__,
            },
            "origin": {"name": "har-stream", "sw_version": __version__},
        }

    def configs(self, camera: str) -> list[tuple[str, dict[str, Any]]]:
        """(topic, config) of every entity of ``camera``: one binary sensor per rule, one people sensor."""
        node = self.node_id(camera)
        out: list[tuple[str, dict[str, Any]]] = []
        for rule in self.rules.get(camera, []):
            oid = f"rule_{object_id(rule)}"
            out.append(
                (
                    f"{self.discovery_prefix}/binary_sensor/{node}/{oid}/config",
                    {
                        "name": rule,
                        "unique_id": f"{node}_{oid}",
                        "state_topic": self.rule_topic(camera, rule),
                        "payload_on": ON,
                        "payload_off": OFF,
                        "icon": "mdi:alert",
                        **self._common(camera),
                    },
                )
            )
        out.append(
            (
                f"{self.discovery_prefix}/sensor/{node}/people/config",
                {
                    "name": "People",
                    "unique_id": f"{node}_people",
                    "state_topic": self.people_topic(camera),
                    "unit_of_measurement": "people",
                    "state_class": "measurement",
                    "icon": "mdi:account-group",
                    **self._common(camera),
                },
            )
        )
        return out


@dataclass
class RuleStates:
    """Which alerts are active per (camera, rule); says when a rule's binary sensor turns on or off."""

    active: dict[tuple[str, str], set[str]] = field(default_factory=dict)

    def update(self, message: dict[str, Any]) -> str | None:
        """Take an alert start or end message; the sensor's new state if it changed (an end always says OFF
        when nothing is left active, so an end whose start was missed still clears the sensor)."""
        key = (str(message.get("camera")), str(message.get("rule")))
        alerts = self.active.setdefault(key, set())
        alert_id = str(message.get("alert_id"))
        if message.get("type") == "alert_start":
            was_on = bool(alerts)
            alerts.add(alert_id)
            return None if was_on else ON
        if message.get("type") == "alert_end":
            alerts.discard(alert_id)
            return None if alerts else OFF
        return None

    def state(self, camera: str, rule: str) -> str:
        """ON while an alert of ``rule`` is active on ``camera``."""
        return ON if self.active.get((camera, rule)) else OFF
