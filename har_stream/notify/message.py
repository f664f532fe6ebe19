"""The JSON message sent for an alert: the event record, with media links instead of local paths."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from har_stream.rules.events import AlertEvent, media_url

__all__ = ["alert_message", "media_url", "safe_host", "topic_name"]


def alert_message(event: AlertEvent, snapshot: str | None, base_url: str) -> dict[str, Any]:
    """The alert as a JSON-ready dict: ``event.to_json()`` without the local snapshot path.

    ``snapshot`` is the snapshot's path relative to the media folder; it becomes ``snapshot_path`` and, with
    ``base_url``, ``snapshot_url``. ``event_url`` links to the alert in the server's API.
    """
    data = event.to_json()
    data.pop("snapshot", None)
    if snapshot:
        data["snapshot_path"] = snapshot
        data["snapshot_url"] = media_url(base_url, snapshot)
    data["event_url"] = f"{base_url.rstrip('/')}/api/events/{quote(event.alert_id)}"
    return data


def safe_host(url: str) -> str:
    """Only the scheme and host of ``url``, for logs (paths and queries of webhook URLs often hold secrets)."""
    if "://" not in url:
        return "<url>"
    scheme, rest = url.split("://", 1)
    host = rest.split("/", 1)[0].split("?", 1)[0]
    host = host.rsplit("@", 1)[-1]
    return f"{scheme}://{host}"


def topic_name(name: str) -> str:
    """A camera (or rule) name as one MQTT topic level (spaces and other odd characters become ``_``)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)
