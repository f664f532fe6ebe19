"""Site configs: several cameras, defaults, ${ENV} secrets, and errors that name the field."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from har_stream.config import ConfigError, parse_yaml
from har_stream.config.env import resolve_env
from har_stream.config.site import is_loopback, load_site, validate_site
from tests.conftest import REPO
from tests.serve.test_cli_serve import cli

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
    assert site.server.token is not None and site.server.token.get_secret_value() == SECRET
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


HOSTILE_ENV = {
    "IMGSZ": "imgsz-secret-1",
    "CAM_URI": "rtsp://admin:uri-secret-2@cam/x",
    "CAM_NAME": "name-secret-3",
    "ACTION": "action-secret-4",
    "POLY": "polygon-secret-5",
    "PW": "pw-secret-6",
}
HOSTILE_SITE = """
defaults:
  detector: {imgsz: "${IMGSZ}"}
  source: {uri: "rtsp://admin:${PW}@cam/x", reconnect: "${PW}"}
cameras:
  - {name: "${CAM_NAME}", source: {uri: "${CAM_URI}", loop: "${CAM_URI}"}}
  - {name: "${CAM_NAME}"}
  - name: gate
    rules: [{name: r, actions: ["${ACTION}"]}]
    zones: [{name: z, polygon: "${POLY}"}]
"""
DUPLICATE_NAMES = """
cameras:
  - {name: "${CAM_NAME}", source: {uri: "${CAM_URI}"}}
  - {name: "${CAM_NAME}", source: {uri: "${CAM_URI}"}}
"""


def test_environment_values_never_appear_in_config_errors(tmp_path: Path) -> None:
    """Through defaults, on the field itself, or quoted inside a validator's message: never shown."""
    errors = site_errors(HOSTILE_SITE, env=HOSTILE_ENV)
    assert len(errors) >= 6  # every bad field is still reported, by name
    assert any(e.startswith("cameras[1].detector.imgsz:") for e in errors)  # from defaults
    duplicate = site_errors(DUPLICATE_NAMES, env=HOSTILE_ENV)
    assert duplicate and duplicate[0].startswith("cameras[1].name: camera name")
    text = "\n".join(errors + duplicate)
    for value in HOSTILE_ENV.values():
        assert value not in text
    path = tmp_path / "site.yaml"
    path.write_text(HOSTILE_SITE)
    done = cli("serve", "--config", str(path), "--check", env=HOSTILE_ENV)
    assert done.returncode == 2 and "cameras[1].detector.imgsz" in done.stderr
    for value in HOSTILE_ENV.values():
        assert value not in done.stderr + done.stdout


@pytest.mark.parametrize(
    "token",
    ["                ", "  padded-Qx7-vR2m-9LpZ  ", "password", "passwordpassword1", "aaaaaaaaaaaaaaaaaaaa",
     "abababababababababab", "Password123456789!", "changeme-changeme", "short-7x"],
)  # fmt: skip
def test_weak_tokens_are_refused_saying_what_is_needed(token: str) -> None:
    errors = site_errors(f"cameras: [{{name: a}}]\nserver: {{token: '{token}'}}\n")
    assert len(errors) == 1 and errors[0].startswith("server.token: the token")
    assert "at least 16 characters" in errors[0] and "secrets.token_urlsafe" in errors[0]
    assert not token.strip() or token.strip() not in errors[0]  # the refused secret is not echoed


def test_generated_tokens_are_accepted() -> None:
    import secrets

    for _ in range(200):
        token = secrets.token_urlsafe(24)
        site = validate_site(parse_yaml(f"cameras: [{{name: a}}]\nserver: {{token: '{token}'}}\n"), env={})
        assert site.server.token is not None


def test_secret_fields_never_echo_a_bad_value() -> None:
    text = (
        "cameras: [{name: a}]\nserver: {token: 1234567890123456789}\n"
        "notify: {webhooks: [{url: 'http://x/', headers: {Authorization: 98765432123}}], "
        "mqtt: {host: h, password: 55555555555}}\n"
    )
    errors = site_errors(text)
    assert len(errors) == 3 and all("secret value is not shown" in e for e in errors)
    assert not any(v in "\n".join(errors) for v in ("1234567890123456789", "98765432123", "55555555555"))


@pytest.mark.parametrize(
    ("host", "url"),
    [("[::1]", "http://[::1]:8080"), ("::1", "http://[::1]:8080"), ("127.0.0.1", "http://127.0.0.1:8080")],
)
def test_links_use_a_well_formed_address(host: str, url: str) -> None:
    site = validate_site(parse_yaml(f"cameras: [{{name: a}}]\nserver: {{host: '{host}'}}\n"), env={})
    assert site.server.base_url == url


def test_links_from_a_server_on_every_interface_point_at_this_machine_not_at_loopback() -> None:
    """Webhook and MQTT receivers elsewhere cannot follow a 127.0.0.1 link: it points them at themselves."""
    import ipaddress
    from urllib.parse import urlsplit

    token = "tok-Qx7-vR2m-9LpZ-k4"
    for host in ("0.0.0.0", "::"):
        site = validate_site(parse_yaml(f"cameras: [{{name: a}}]\nserver: {{host: '{host}', token: {token}}}\n"))
        name = urlsplit(site.server.base_url).hostname or ""
        try:
            assert not ipaddress.ip_address(name).is_loopback and not ipaddress.ip_address(name).is_unspecified
        except ValueError:  # no route: the machine's name
            assert name and name != "localhost"
    public = f"cameras: [{{name: a}}]\nserver: {{host: 0.0.0.0, token: {token}, public_url: 'https://cams.example/'}}\n"
    assert validate_site(parse_yaml(public)).server.base_url == "https://cams.example"
