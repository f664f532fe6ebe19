"""Site configs: several cameras, defaults, ${ENV} secrets, and errors that name the field."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from har_stream.config import ConfigError, parse_yaml
from har_stream.config.site import is_loopback, load_site, resolve_env, validate_site
from tests.conftest import REPO

SECRET = "s3cret-token-value-42"

TWO_CAMERAS = """
defaults:
  detector: {imgsz: 960}
cameras:
  - name: front door
    source: {uri: a.mp4, loop: true}
    zones: [{name: door, polygon: [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]}]
    rules: [{name: running, actions: [running], zones: [door]}]
  - name: yard
    source: {uri: "rtsp://cam/stream"}
    detector: {imgsz: 640}
server: {token: "${HS_TOKEN}"}
notify:
  webhooks: [{url: "http://127.0.0.1:9/hook", headers: {Authorization: "Bearer ${HS_TOKEN}"}}]
  mqtt: {host: 127.0.0.1, username: u, password: "${HS_MQTT}"}
"""


def site_errors(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        validate_site(parse_yaml(text, "site.yaml"), "site.yaml", env=env or {})
    return [str(issue) for issue in info.value.issues]


def test_sample_site_config_loads() -> None:
    site = load_site(REPO / "configs" / "site.yaml", env={})
    assert [c.camera for c in site.cameras] == ["concourse", "concourse_west"]
    assert all(c.source.loop for c in site.cameras)
    assert site.cameras[0].detector.imgsz == 960  # from defaults
    assert site.server.host == "127.0.0.1" and site.server.token is None
    assert site.store_path == Path("out/site/events.db")


def test_cameras_get_defaults_their_own_values_and_secrets_from_the_environment() -> None:
    site = validate_site(parse_yaml(TWO_CAMERAS), env={"HS_TOKEN": SECRET, "HS_MQTT": "mqtt-pw-1"})
    door, yard = site.cameras
    assert (door.camera, door.detector.imgsz, door.source.loop) == ("front door", 960, True)
    assert (yard.camera, yard.detector.imgsz, yard.source.loop) == ("yard", 640, False)
    assert door.rules[0].zones == ["door"] and yard.rules == []
    assert site.server.token is not None and site.server.token.get_secret_value() == SECRET
    assert site.notify.mqtt is not None and site.notify.mqtt.password.get_secret_value() == "mqtt-pw-1"
    assert site.notify.webhooks[0].headers["Authorization"].get_secret_value() == f"Bearer {SECRET}"
    # Secrets never show in reprs or dumps.
    for text in (repr(site), str(site.model_dump()), site.notify.model_dump_json()):
        assert SECRET not in text and "mqtt-pw-1" not in text


def test_unset_environment_variable_names_the_field() -> None:
    errors = site_errors(TWO_CAMERAS, env={"HS_TOKEN": SECRET})
    assert errors == ["notify.mqtt.password: environment variable HS_MQTT is not set"]


def test_a_bad_value_from_the_environment_is_not_echoed() -> None:
    errors = site_errors("cameras: [{name: a}]\nserver: {port: '${PORT}'}\n", env={"PORT": "not-a-port-xyz"})
    assert len(errors) == 1 and errors[0].startswith("server.port: Input should be a valid integer")
    assert "not-a-port-xyz" not in errors[0]


def test_token_is_required_off_loopback() -> None:
    errors = site_errors("cameras: [{name: a}]\nserver: {host: 0.0.0.0}\n")
    assert errors[0].startswith("server.token: a token is required when binding to '0.0.0.0'")
    site = validate_site(
        parse_yaml("cameras: [{name: a}]\nserver: {host: 0.0.0.0, token: '${T}'}\n"), env={"T": SECRET}
    )
    assert site.server.base_url == "http://127.0.0.1:8080"
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and not is_loopback("10.0.0.1")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cameras: []\n", "cameras: List should have at least 1 item"),
        ("cameras: [{name: a}, {name: a}]\n", "cameras[1].name: camera name 'a' is used more than once"),
        ("cameras: [{source: {uri: x}}]\n", "cameras[0].name: Field required"),
        ("cameras: [{name: 'a/b'}]\n", "cameras[0].name: String should match pattern"),
        (
            "cameras: [{name: a}, {name: b, rules: [{name: r, actions: [running], min_duration_s: -1}]}]\n",
            "cameras[1].rules[0].min_duration_s: Input should be greater than or equal to 0 (got -1)",
        ),
        (
            "cameras: [{name: a, rules: [{name: r, actions: [running], zones: [nowhere]}]}]\n",
            "cameras[0].rules[0].zones[0]: zone 'nowhere' is not defined",
        ),
        ("cameras: [{name: a}]\nservr: {}\n", "servr: unknown field (did you mean 'server'?)"),
        (
            "cameras: [{name: a}]\nmedia: {clip_post: 2}\n",
            "media.clip_post: unknown field (did you mean 'clip_post_s'?)",
        ),
        ("cameras: [{name: a}]\nnotify: {webhooks: [{url: ftp://x}]}\n", "notify.webhooks[0].url: String should match"),
        ("cameras: [{name: a}]\nnotify: {mqtt: {port: 1883}}\n", "notify.mqtt.host: Field required"),
    ],
)
def test_site_errors_name_the_field(text: str, expected: str) -> None:
    errors = site_errors(text)
    assert any(e.startswith(expected) for e in errors), errors


def test_resolve_env_walks_nested_data() -> None:
    data, issues = resolve_env({"a": ["x${A}y", {"b": "${B}"}], "n": 3}, env={"A": "1"})
    assert data == {"a": ["x1y", {"b": ""}], "n": 3}
    assert [str(i) for i in issues] == ["a[1].b: environment variable B is not set"]


def test_check_config_never_logs_secrets(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(TWO_CAMERAS)
    with caplog.at_level(logging.DEBUG):
        site = load_site(path, env={"HS_TOKEN": SECRET, "HS_MQTT": "mqtt-pw-1"})
        logging.getLogger("test").info("site: %s %r", site, site.server)
    assert SECRET not in caplog.text and "**********" in caplog.text
