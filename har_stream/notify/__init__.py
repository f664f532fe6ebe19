"""Alert delivery to other systems: webhooks and MQTT."""

from __future__ import annotations

from har_stream.notify.message import alert_message, media_url, safe_host
from har_stream.notify.mqtt import MqttNotifier, topic_name
from har_stream.notify.webhook import WebhookNotifier

__all__ = ["MqttNotifier", "WebhookNotifier", "alert_message", "media_url", "safe_host", "topic_name"]
