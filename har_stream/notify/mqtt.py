"""MQTT delivery: alert start/end and camera availability, published by paho-mqtt's network thread.

Topics (``<prefix>`` is ``notify.mqtt.topic_prefix``, ``har_stream`` by default):

- ``<prefix>/available``: ``online`` / ``offline``, retained; the broker publishes ``offline`` (last will) if
  har-stream dies without saying goodbye.
- ``<prefix>/<camera>/availability``: ``online`` while the camera delivers frames, else ``offline``; retained.
- ``<prefix>/<camera>/status``: the camera's health as JSON (status, fps, dropped frames), retained.
- ``<prefix>/<camera>/events``: one JSON message per alert start and end.

With ``home_assistant.enabled``, Home Assistant discovery configs and sensor states as well
(:mod:`har_stream.notify.homeassistant`).

Publishing only hands the message to paho's queue (bounded), so the pipeline never waits for the broker;
while disconnected, paho reconnects with backoff and QoS 1/2 messages wait in the queue.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import uuid
from typing import Any

import paho.mqtt.client as mqtt

from har_stream.config.site import MqttConfig
from har_stream.notify.homeassistant import Discovery, RuleStates
from har_stream.notify.message import topic_name

log = logging.getLogger(__name__)

MAX_QUEUED = 1000


def _reach_error(host: str, port: int) -> str:
    """Why a TCP connection to ``host:port`` fails (paho's callback is not told)."""
    try:
        with socket.create_connection((host, port), timeout=2):
            return "the connection failed"
    except OSError as exc:
        return exc.strerror or str(exc) or type(exc).__name__


class MqttNotifier:
    """One connection to the broker for the whole site. ``rules``: each camera's rules, for Home Assistant."""

    def __init__(self, config: MqttConfig, cameras: list[str], rules: dict[str, list[str]] | None = None) -> None:
        self.config = config
        self.prefix = config.topic_prefix.rstrip("/")
        self.connected = threading.Event()
        self.published = 0
        self.last_error: str | None = None
        #: Times the broker became unreachable (an outage counts once, however many attempts it takes).
        self.outages = 0
        self._failing = False
        self._lock = threading.Lock()
        self._availability: dict[str, str] = {camera: "offline" for camera in cameras}
        self._status: dict[str, str] = {}
        ha = config.home_assistant
        self.discovery: Discovery | None = None
        if ha.enabled:
            every = {camera: list((rules or {}).get(camera, [])) for camera in cameras}
            self.discovery = Discovery(self.prefix, ha.discovery_prefix.rstrip("/"), every)
        self._rule_states = RuleStates()
        self._people: dict[str, int] = {}  # as last published
        self._people_at: dict[str, float] = {}  # time.monotonic() of that
        client_id = config.client_id or f"har-stream-{uuid.uuid4().hex[:8]}"
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        if config.username is not None:
            password = config.password.get_secret_value() if config.password is not None else None
            self._client.username_pw_set(config.username, password)
        self._client.max_queued_messages_set(MAX_QUEUED)
        self._client.reconnect_delay_set(1, 30)
        self._client.will_set(self.topic("available"), "offline", qos=1, retain=True)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_connect_fail = self._on_connect_fail
        self._client.connect_async(config.host, config.port, keepalive=config.keepalive_s)
        self._client.loop_start()

    def topic(self, *levels: str) -> str:
        """``<prefix>/<levels...>``."""
        return "/".join([self.prefix, *levels])

    # -- callbacks on paho's thread -----------------------------------------------------------------
    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            self.last_error = f"connection refused: {reason}"
            log.warning("mqtt %s:%s: %s", self.config.host, self.config.port, self.last_error)
            return
        log.info("mqtt: connected to %s:%s", self.config.host, self.config.port)
        self._failing = False
        client.publish(self.topic("available"), "online", qos=1, retain=True)
        with self._lock:
            availability = dict(self._availability)
            statuses = dict(self._status)
        for camera, state in availability.items():
            client.publish(self.topic(topic_name(camera), "availability"), state, qos=1, retain=True)
        for camera, status in statuses.items():
            client.publish(self.topic(topic_name(camera), "status"), status, qos=1, retain=True)
        if self.discovery is not None:
            self._announce(client, self.discovery)
        self.connected.set()

    def _announce(self, client: mqtt.Client, discovery: Discovery) -> None:
        """Home Assistant discovery configs and the current states (all retained), at every connection."""
        for camera, rules in discovery.rules.items():
            for topic, config in discovery.configs(camera):
                client.publish(topic, json.dumps(config, separators=(",", ":")), qos=1, retain=True)
            with self._lock:  # states and their changes go out in order (publish_alert takes the lock too)
                for rule in rules:
                    state = self._rule_states.state(camera, rule)
                    client.publish(discovery.rule_topic(camera, rule), state, qos=1, retain=True)
                if camera in self._people:
                    client.publish(discovery.people_topic(camera), str(self._people[camera]), qos=1, retain=True)

    def _on_connect_fail(self, _client: mqtt.Client, _userdata: Any) -> None:
        """The broker could not be reached (paho retries with backoff): say so once per outage."""
        if self._failing:
            return
        self._failing = True
        self.outages += 1
        self.last_error = f"cannot reach the broker: {_reach_error(self.config.host, self.config.port)}"
        log.warning("mqtt %s:%s: %s; retrying with backoff", self.config.host, self.config.port, self.last_error)

    def _on_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        was_connected = self.connected.is_set()
        self.connected.clear()
        if was_connected and reason.is_failure:  # a refused connection was reported by _on_connect
            self._failing = True
            self.outages += 1
            self.last_error = f"disconnected: {reason}"
            log.warning("mqtt %s:%s: %s; reconnecting", self.config.host, self.config.port, self.last_error)

    # -- publishing ----------------------------------------------------------------------------------
    def _publish(self, topic: str, payload: str, retain: bool = False) -> None:
        info = self._client.publish(topic, payload, qos=self.config.qos, retain=retain)
        if info.rc == mqtt.MQTT_ERR_SUCCESS:
            self.published += 1
        elif info.rc != mqtt.MQTT_ERR_NO_CONN or self.config.qos == 0:
            self.last_error = f"publish to {topic} failed: {mqtt.error_string(info.rc)}"
            log.warning("mqtt: %s", self.last_error)

    def publish_alert(self, message: dict[str, Any]) -> None:
        """Publish an alert start or end message on ``<prefix>/<camera>/events``."""
        camera = topic_name(str(message.get("camera", "default")))
        self._publish(self.topic(camera, "events"), json.dumps(message, separators=(",", ":")))
        if self.discovery is not None:
            with self._lock:
                state = self._rule_states.update(message)
                if state is not None:  # the rule's binary sensor turns on (first alert) or off (last one ended)
                    topic = self.discovery.rule_topic(str(message.get("camera")), str(message.get("rule")))
                    self._publish(topic, state, retain=True)

    def publish_people(self, camera: str, count: int | None) -> None:
        """The camera's people count for Home Assistant, when it changed and at most once per
        ``home_assistant.people_interval_s``: a change held back goes out with a later call (the hub calls
        this about once a second)."""
        if self.discovery is None or count is None:
            return
        now = time.monotonic()
        with self._lock:
            if self._people.get(camera) == count:
                return
            last = self._people_at.get(camera)
            if last is not None and now - last < self.config.home_assistant.people_interval_s:
                return
            self._people[camera], self._people_at[camera] = count, now
            self._publish(self.discovery.people_topic(camera), str(count), retain=True)

    def publish_health(self, camera: str, health: dict[str, Any]) -> None:
        """Publish a camera's availability (when it changes) and its health JSON."""
        online = "online" if health.get("status") == "connected" else "offline"
        status = json.dumps(health, separators=(",", ":"), sort_keys=True)
        with self._lock:
            changed = self._availability.get(camera) != online
            self._availability[camera] = online
            self._status[camera] = status
        if changed:
            self._publish(self.topic(topic_name(camera), "availability"), online, retain=True)
        self._publish(self.topic(topic_name(camera), "status"), status, retain=True)

    def close(self, timeout: float = 3.0) -> None:
        """Mark every camera and the server offline, flush, and disconnect."""
        infos = []
        if self.connected.is_set():
            with self._lock:
                cameras = list(self._availability)
            for camera in cameras:
                topic = self.topic(topic_name(camera), "availability")
                infos.append(self._client.publish(topic, "offline", qos=1, retain=True))
            infos.append(self._client.publish(self.topic("available"), "offline", qos=1, retain=True))
            for info in infos:
                try:
                    info.wait_for_publish(timeout)
                except (RuntimeError, ValueError):
                    break
        self._client.disconnect()
        self._client.loop_stop()
