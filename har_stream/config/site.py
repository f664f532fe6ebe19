"""A site config: several cameras plus the web server, event store, media folder and alert delivery.

Every camera entry is a per-camera config (``HarStreamConfig``: source, zones, rules, ...) named by ``name``;
``defaults`` holds per-camera settings merged under every camera. Strings may reference environment variables
as ``${NAME}``; they are resolved at load time and an unset variable is an error naming the field. Secrets
(``server.token``, ``notify.mqtt.password``, webhook header values, Apprise URLs) are ``SecretStr`` so they never
show in logs, reprs or config errors.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from har_stream.config.base import PositiveSeconds, Seconds, StrictModel
from har_stream.config.cluster import ClusterConfig
from har_stream.config.env import EnvValues, resolve_env
from har_stream.config.loading import ConfigError, ConfigIssue, _issue_from, parse_yaml, validate_config
from har_stream.config.schema import HarStreamConfig
from har_stream.config.token_policy import token_weakness

Port = Annotated[int, Field(ge=1, le=65535)]
ALERT_TYPES = ("alert_start", "alert_end")
#: Bind addresses that mean "every interface".
WILDCARD_BINDS = ("", "0.0.0.0", "::")
#: What a token may do: a viewer sees everything; an operator can also review alerts.
Role = Literal["viewer", "operator"]
#: The name and role the single ``server.token`` gets.
LEGACY_TOKEN_NAME = "admin"
LEGACY_TOKEN_ROLE: Role = "operator"


class AccessToken(StrictModel):
    """A named access token with a role; the name is what a review records."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")]
    token: SecretStr
    #: viewer: dashboard, API and media; operator: also review alerts.
    role: Role = "viewer"

    @field_validator("token")
    @classmethod
    def _token_strong_enough(cls, token: SecretStr) -> SecretStr:
        weakness = token_weakness(token.get_secret_value())
        if weakness is not None:
            raise ValueError(weakness)
        return token


class ServerConfig(StrictModel):
    """The built-in web server (dashboard, JSON API, live views)."""

    #: Address to bind. Anything but a loopback address (127.0.0.1, ::1, localhost) requires ``token``.
    host: str = "127.0.0.1"
    port: Port = 8080
    #: Access token for the dashboard and API, e.g. "${HAR_STREAM_TOKEN}". Required when not on loopback.
    token: SecretStr | None = None
    #: Named tokens with roles, e.g. [{name: alice, token: "${ALICE_TOKEN}", role: operator}]; ``token`` (if
    #: set) is one more, named "admin" with the operator role.
    tokens: list[AccessToken] = Field(default_factory=list)
    #: Base URL that alert messages use for snapshot and clip links (default: http://<host>:<port>).
    public_url: str | None = None
    #: Host names (as browsers send them in ``Host``) the server answers to besides the bound address and
    #: loopback (and, when bound to 0.0.0.0, this machine's name and addresses), e.g. ["cams.example.org"];
    #: requests for any other name are refused (DNS rebinding). "*" allows every name.
    allowed_hosts: list[str] = Field(default_factory=list)
    #: Seconds a client has to send a request's complete headers before its connection is closed (a bound on
    #: slow-header, "slowloris", connections). Responses that stream (live views) are not cut.
    header_timeout_s: float = Field(default=10.0, gt=0, le=300)

    @field_validator("host")
    @classmethod
    def _bare_host(cls, host: str) -> str:
        return host.strip().removeprefix("[").removesuffix("]")  # "[::1]" is the address ::1

    @field_validator("token")
    @classmethod
    def _token_strong_enough(cls, token: SecretStr | None) -> SecretStr | None:
        weakness = token_weakness(token.get_secret_value()) if token is not None else None
        if weakness is not None:
            raise ValueError(weakness)
        return token

    @model_validator(mode="after")
    def _unique_tokens(self) -> ServerConfig:
        names: set[str] = set()
        secrets: set[str] = set()
        for i, entry in enumerate(self.access_tokens):
            where = f"tokens[{i}]" if i < len(self.tokens) else "token"
            if entry.name in names:
                if where == "token":
                    raise ValueError(
                        f"token: the single token is named {LEGACY_TOKEN_NAME!r}, and a tokens entry already uses "
                        "that name; rename that entry or move the single token into tokens"
                    )
                raise ValueError(f"{where}.name: the token name {entry.name!r} is used more than once")
            if entry.token.get_secret_value() in secrets:
                raise ValueError(f"{where}.token: the same token is given twice; each name needs its own token")
            names.add(entry.name)
            secrets.add(entry.token.get_secret_value())
        return self

    @property
    def access_tokens(self) -> list[AccessToken]:
        """Every token the server accepts: ``tokens`` plus ``token`` as "admin" (operator)."""
        legacy = [AccessToken(name=LEGACY_TOKEN_NAME, token=self.token, role=LEGACY_TOKEN_ROLE)] if self.token else []
        return [*self.tokens, *legacy]

    @property
    def base_url(self) -> str:
        """Where the server can be reached, for links in alert messages."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = reachable_address() if self.host in WILDCARD_BINDS else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"


class RetentionConfig(StrictModel):
    """How long snapshots and clips are kept. The files of an alert that is still open are never deleted."""

    #: Delete snapshots and clips older than this many days (by file time) ...
    max_age_days: Annotated[float, Field(gt=0, le=36_500, allow_inf_nan=False)] | None = None
    #: ... then the oldest ones until snapshots and clips together take at most this many gigabytes (10^9 bytes).
    max_gb: Annotated[float, Field(gt=0, le=1_000_000, allow_inf_nan=False)] | None = None
    #: Seconds between two clean-ups (the first runs at start).
    interval_s: Annotated[float, Field(ge=1, le=86_400, allow_inf_nan=False)] = 300.0

    @model_validator(mode="after")
    def _a_limit(self) -> RetentionConfig:
        if self.max_age_days is None and self.max_gb is None:
            raise ValueError("set max_age_days, max_gb or both (leave retention out to keep every file)")
        return self


class MediaConfig(StrictModel):
    """Snapshots, alert clips and the live view."""

    #: Snapshots and clips are written here, and only files under it are served.
    folder: Path = Path("out/site")
    #: Live view (MJPEG) frames are scaled down to at most this width.
    live_max_width: Annotated[int, Field(ge=64, le=7680)] = 960
    #: At most this many live-view frames per second to each viewer.
    live_fps: Annotated[float, Field(gt=0, le=60)] = 10.0
    jpeg_quality: Annotated[int, Field(ge=10, le=100)] = 80
    #: Write a short annotated clip for each alert: this many media seconds before and after its start.
    clips: bool = True
    clip_pre_s: Seconds = 2.0
    clip_post_s: Seconds = 3.0
    #: Delete old snapshots and clips, e.g. {max_age_days: 30, max_gb: 20}; default: keep every file.
    retention: RetentionConfig | None = None


class StoreConfig(StrictModel):
    """The event store (SQLite)."""

    #: Database file; default: events.db in the media folder.
    path: Path | None = None


class DeliveryConfig(StrictModel):
    """Retries and queueing of a notifier that delivers each alert on its own (a webhook, an Apprise URL)."""

    #: Which events are sent.
    events: list[Literal["alert_start", "alert_end"]] = Field(default_factory=lambda: list(ALERT_TYPES), min_length=1)
    #: Seconds one attempt may wait for the receiver (to connect, and again for its answer).
    timeout_s: PositiveSeconds = 5.0
    #: Attempts per alert, the first included; failed attempts are retried after backoff_initial_s, then twice
    #: as long each time, at most backoff_max_s.
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 6
    backoff_initial_s: PositiveSeconds = 1.0
    backoff_max_s: PositiveSeconds = 60.0
    #: Alerts waiting for delivery; when full the oldest is dropped (and counted), never the video.
    queue_size: Annotated[int, Field(ge=1, le=100_000)] = 1000


class WebhookConfig(DeliveryConfig):
    """POST every alert as JSON to a URL, with retries and exponential backoff.

    Failed attempts (connection errors, 5xx, 408, 425, 429) are retried; other statuses are final.
    """

    url: Annotated[str, Field(pattern=r"^https?://[^\s/]+")]
    #: Extra request headers, e.g. {Authorization: "Bearer ${HOOK_TOKEN}"}; values are secrets.
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    #: The snapshot as a link (``snapshot_url``), inline as base64 JPEG (``snapshot_jpeg``), or not at all.
    image: Literal["url", "inline", "none"] = "url"


class AppriseConfig(DeliveryConfig):
    """Send every alert through Apprise to a chat, phone or mailbox (Telegram, Slack, Discord, e-mail, ntfy, ...).

    In ``notify.apprise`` an entry is either this mapping or just the URL. Every failed attempt is retried.
    """

    #: The Apprise URL of the service, e.g. "tgram://${TG_BOT_TOKEN}/${TG_CHAT_ID}" (see Apprise's list of
    #: services). A secret: such URLs hold tokens and passwords, so it is never logged or shown.
    url: SecretStr
    #: Which events are sent (people usually want to hear when an alert starts, not when it ends).
    events: list[Literal["alert_start", "alert_end"]] = Field(default_factory=lambda: ["alert_start"], min_length=1)
    #: Attach the alert's snapshot (JPEG) where the service takes attachments.
    attach_snapshot: bool = True

    @field_validator("url")
    @classmethod
    def _known_service(cls, url: SecretStr) -> SecretStr:
        problem = apprise_url_problem(url.get_secret_value())
        if problem is not None:
            raise ValueError(problem)
        return url


class HomeAssistantConfig(StrictModel):
    """Announce every camera to Home Assistant (MQTT discovery) and keep its sensors' states up to date.

    Each camera is a device; each of its rules a ``binary_sensor`` that is on while an alert of that rule is
    active for anyone on that camera; its people count a ``sensor``.
    """

    #: Publish the discovery configs (retained) and the sensors' states.
    enabled: bool = False
    #: Home Assistant's discovery prefix (its MQTT integration's setting; "homeassistant" unless changed there).
    discovery_prefix: Annotated[str, Field(min_length=1, pattern=r"^[^#+\s]+$")] = "homeassistant"
    #: The people count is published when it changes, at most once per this many seconds.
    people_interval_s: Annotated[float, Field(ge=0.1, le=3600, allow_inf_nan=False)] = 1.0


class MqttConfig(StrictModel):
    """Publish alerts and camera availability to an MQTT broker."""

    host: str
    port: Port = 1883
    username: str | None = None
    password: SecretStr | None = None
    #: Topics: <prefix>/available (online/offline, with a last will), <prefix>/<camera>/availability,
    #: <prefix>/<camera>/events (alert start and end as JSON).
    topic_prefix: Annotated[str, Field(min_length=1, pattern=r"^[^#+\s]+$")] = "har_stream"
    client_id: str | None = None
    qos: Literal[0, 1, 2] = 1
    keepalive_s: Annotated[int, Field(ge=5, le=3600)] = 30
    #: Home Assistant MQTT discovery: each camera a device, each rule a binary sensor, people a sensor.
    home_assistant: HomeAssistantConfig = Field(default_factory=lambda: HomeAssistantConfig())


class NotifyConfig(StrictModel):
    """Where alerts are delivered besides the dashboard."""

    webhooks: list[WebhookConfig] = Field(default_factory=list)
    #: Apprise URLs (or {url, events, attach_snapshot, max_attempts, ...} mappings), one per service, e.g.
    #: ["tgram://${TG_BOT_TOKEN}/${TG_CHAT_ID}", "ntfy://ntfy.sh/${NTFY_TOPIC}"]; the URLs are secrets.
    apprise: list[AppriseConfig] = Field(default_factory=list)
    mqtt: MqttConfig | None = None

    @field_validator("apprise", mode="before")
    @classmethod
    def _bare_urls(cls, entries: Any) -> Any:
        if isinstance(entries, list):
            return [{"url": entry} if isinstance(entry, str) else entry for entry in entries]
        return entries


class SiteSettings(StrictModel):
    """The sections of a site config; ``cameras`` entries are validated as per-camera configs."""

    #: Per-camera settings merged under every camera (the camera's own values win).
    defaults: dict[str, Any] = Field(default_factory=dict)
    #: Each entry: ``name`` plus any per-camera section (source, detector, zones, rules, render, ...).
    cameras: list[dict[str, Any]] = Field(min_length=1)
    server: ServerConfig = ServerConfig()
    media: MediaConfig = MediaConfig()
    store: StoreConfig = StoreConfig()
    notify: NotifyConfig = NotifyConfig()
    #: Run the cameras on a Ray cluster (see har_stream.serve.cluster); absent: every camera runs in this process.
    cluster: ClusterConfig | None = None

    @model_validator(mode="after")
    def _token_off_loopback(self) -> SiteSettings:
        if not self.server.access_tokens and not is_loopback(self.server.host):
            raise ValueError(
                f"server.token: a token is required when binding to {self.server.host!r} (not a loopback "
                'address); set e.g. token: "${HAR_STREAM_TOKEN}"'
            )
        return self


class SiteConfig(BaseModel):
    """A validated site: the per-camera configs and the site-wide settings."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    cameras: list[HarStreamConfig]
    server: ServerConfig = ServerConfig()
    media: MediaConfig = MediaConfig()
    store: StoreConfig = StoreConfig()
    notify: NotifyConfig = NotifyConfig()
    cluster: ClusterConfig | None = None

    @property
    def store_path(self) -> Path:
        """The SQLite database file."""
        return self.store.path or self.media.folder / "events.db"

    def camera(self, name: str) -> HarStreamConfig:
        """The config of camera ``name`` (KeyError if there is none)."""
        for camera in self.cameras:
            if camera.camera == name:
                return camera
        raise KeyError(name)


def apprise_url_problem(url: str) -> str | None:
    """Why Apprise cannot send to ``url`` (the message names only its scheme), or None when it can."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if not scheme or not scheme.replace("+", "").replace("-", "").replace("_", "").isalnum():
        return "not an Apprise URL: expected <service>://..., e.g. tgram://<bot token>/<chat id>"
    try:
        import apprise
    except ImportError:
        return "Apprise is not installed (pip install apprise)"
    with _quiet_logger("apprise"):  # its complaints may quote the URL
        plugin = apprise.Apprise.instantiate(url)
    if plugin is None:
        return f"Apprise cannot use this {scheme}:// URL (unknown service, or its tokens or options are invalid)"
    return None


class _ThisThreadOnly(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread != threading.get_ident()


@contextlib.contextmanager
def _quiet_logger(name: str) -> Iterator[None]:
    """Drop what logger ``name`` logs from this thread meanwhile (other threads still log)."""
    quiet = _ThisThreadOnly()
    logger = logging.getLogger(name)
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


def reachable_address() -> str:
    """This machine's address on its default route (what other machines reach it by), else its host name.

    Used for links when the server is bound to every interface: 127.0.0.1 in a webhook or MQTT message would
    point each receiver at itself. No packet is sent: connecting a UDP socket only picks the interface.
    """
    for family, probe in ((socket.AF_INET, ("192.0.2.1", 9)), (socket.AF_INET6, ("2001:db8::1", 9))):
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as sock:
                sock.connect(probe)
                address = str(sock.getsockname()[0])
        except OSError:
            continue
        if not ipaddress.ip_address(address).is_loopback:
            return address
    return socket.getfqdn()


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` on top of ``base``; nested mappings merge, everything else (lists too) is replaced."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _camera_entry(raw: Any, defaults: Mapping[str, Any], index: int) -> tuple[dict[str, Any] | None, list[ConfigIssue]]:
    where = f"cameras[{index}]"
    if not isinstance(raw, Mapping):
        return None, [ConfigIssue(where, "each camera must be a mapping with a name and a source")]
    entry = dict(raw)
    if "camera" in entry:
        return None, [ConfigIssue(f"{where}.camera", "unknown field (did you mean 'name'?): cameras are named by name")]
    if "name" not in entry:
        return None, [ConfigIssue(f"{where}.name", "Field required")]
    entry["camera"] = entry.pop("name")
    return _merge(defaults, entry), []


def validate_site(data: Mapping[str, Any], source: str = "<site>", env: Mapping[str, str] | None = None) -> SiteConfig:
    """Validate a parsed site mapping (``${NAME}`` references resolved from ``env``, default the environment).

    Every problem is reported at once: site sections and every camera are checked even when others fail.
    """
    from_env = EnvValues()
    resolved, issues = resolve_env(dict(data), env, used=from_env)
    unset = {issue.field for issue in issues}  # their values are empty: further complaints about them are noise
    settings: SiteSettings | None = None
    try:
        settings = SiteSettings.model_validate(resolved)
        raw_cameras, defaults = settings.cameras, settings.defaults
    except ValidationError as exc:
        issues += [i for i in (_issue_from(e, SiteSettings) for e in exc.errors()) if i.field not in unset]
        raw_cameras = resolved.get("cameras") if isinstance(resolved.get("cameras"), list) else []
        defaults = resolved.get("defaults") if isinstance(resolved.get("defaults"), Mapping) else {}
    cameras: list[HarStreamConfig] = []
    for i, raw in enumerate(raw_cameras):
        entry, found = _camera_entry(raw, defaults, i)
        issues += found
        if entry is None:
            continue
        try:
            cameras.append(validate_config(entry, source))
        except ConfigError as exc:
            for issue in exc.issues:
                field = "name" if issue.field == "camera" else issue.field
                issues.append(ConfigIssue(f"cameras[{i}].{field}" if field else f"cameras[{i}]", issue.message))
    seen: dict[str, int] = {}
    for i, camera in enumerate(cameras):
        if camera.camera in seen:
            issues.append(ConfigIssue(f"cameras[{i}].name", f"camera name {camera.camera!r} is used more than once"))
        seen[camera.camera] = i
    if issues or settings is None:
        raise ConfigError(source, [from_env.scrub(i) for i in issues])
    return SiteConfig(
        cameras=cameras,
        server=settings.server,
        media=settings.media,
        store=settings.store,
        notify=settings.notify,
        cluster=settings.cluster,
    )


def load_site(path: str | Path, env: Mapping[str, str] | None = None) -> SiteConfig:
    """Read and validate a site config file; raises :class:`ConfigError` naming every bad field."""
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise ConfigError(source, [ConfigIssue("", f"config file not found: {path.resolve()}")])
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(source, [ConfigIssue("", f"cannot read the file: {exc}")]) from None
    return validate_site(parse_yaml(text, source), source, env)
