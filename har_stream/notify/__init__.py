"""Alert delivery to other systems: webhooks, Apprise (chats, phones, e-mail) and MQTT."""

from __future__ import annotations

from har_stream.notify.apprise_notify import AppriseNotifier
from har_stream.notify.message import alert_message, media_url, safe_host
from har_stream.notify.mqtt import MqttNotifier, topic_name
from har_stream.notify.webhook import WebhookNotifier

__all__ = [
    "AppriseNotifier",
    "MqttNotifier",
    "WebhookNotifier",
    "alert_message",
    "media_url",
    "safe_host",
    "topic_name",
]
