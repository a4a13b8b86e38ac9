"""The typed settings a configuration file becomes: frozen dataclasses and their defaults.

Nothing here reads TOML; the parsers in :mod:`gateway.config.sections` and
:mod:`gateway.config.services` build these objects, and the rest of the daemon only ever
sees them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from gateway.config.schedules import ScheduleConfig

DEFAULT_MAX_BODY = 512 * 1024
DEFAULT_MAX_CONNECTIONS = 1000
#: Fewer would let a monitoring scrape and a couple of senders fill the server.
MIN_MAX_CONNECTIONS = 10

SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("auto", "json", "console")


@dataclass(frozen=True)
class ServerSettings:
    """``[server]``: the HTTP listener and the daemon process."""

    host: str = "127.0.0.1"
    port: int = 8080
    max_body_size: int = DEFAULT_MAX_BODY
    shutdown_timeout: float = 10.0
    keep_alive_timeout: float = 5.0
    read_timeout: int = 10
    #: Seconds from a request's head to its last body byte (read_timeout is per read).
    body_timeout: float = 10.0
    #: Open HTTP connections at most; more are answered 503 and closed unread.
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    certfile: Path | None = None
    keyfile: Path | None = None
    public_url: str | None = None
    #: ``"auto"`` (one CPU picked at start), ``"off"``, or CPU numbers (gateway/affinity.py).
    cpu_affinity: str | tuple[int, ...] = "auto"

    @property
    def listen(self) -> str:
        """``host:port`` as Hypercorn's ``bind`` wants it."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True)
class SmtpSettings:
    """``[smtp]``: the built-in SMTP listener for email integrations."""

    host: str = "127.0.0.1"
    port: int = 2525
    domain: str = "localhost"
    max_message_size: int = 10 * 1024 * 1024
    certfile: Path | None = None
    keyfile: Path | None = None

    @property
    def listen(self) -> str:
        """``host:port``."""
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class RateLimitSettings:
    """``[rate_limit]``: events per integration key over a sliding 60 s window (0: off)."""

    events_per_minute: int = 0


@dataclass(frozen=True)
class StorageSettings:
    """``[storage]``: the SQLite database, or PostgreSQL when ``url`` is set."""

    path: Path = Path("alert-gateway.db")
    synchronous: str = "FULL"
    #: ``postgresql://user@host/db``: the store is PostgreSQL (``path`` then only says
    #: where the daemon's local files, such as the UI's session key, live).
    url: str | None = None
    #: A file holding the PostgreSQL password (else libpq's ``PG*`` environment/pgpass).
    password_file: Path | None = None
    #: Days resolved incidents (with their alerts and log entries) and suppressed-event
    #: records are kept; 0 keeps them forever (gateway/store/retention.py).
    retention_days: int = 365
    #: Days change events are kept (PagerDuty's own retention for them); 0 keeps them forever.
    change_event_retention_days: int = 90

    def password(self) -> str | None:
        """The PostgreSQL password from ``password_file`` (first line), if one is set."""
        if self.password_file is None:
            return None
        return self.password_file.read_text().splitlines()[0]


@dataclass(frozen=True)
class LoggingSettings:
    """``[logging]``: level and format (``auto`` is JSON unless on a terminal)."""

    level: str = "info"
    format: str = "auto"


@dataclass(frozen=True)
class IntegrationConfig:
    """One ``[[services.integrations]]`` block."""

    name: str
    type: str | None
    vendor: str | None
    integration_key: str | None
    integration_email: str | None
    settings: dict[str, Any]
    key: str
    line: int | None


@dataclass(frozen=True)
class ForwardTargetConfig:
    """One ``forward_to`` entry: an upstream Events API base URL and the routing key there."""

    url: str
    routing_key: str


@dataclass(frozen=True)
class ServiceConfig:
    """One ``[[services]]`` block."""

    name: str
    description: str | None
    status: str
    alert_creation: str
    urgency: str
    acknowledgement_timeout: int | None
    auto_resolve_timeout: int | None
    alert_grouping: str | None
    alert_grouping_timeout: int | None
    integrations: tuple[IntegrationConfig, ...]
    key: str
    line: int | None
    #: ``None``: the block does not set it (runtime edits own it).
    forward_to: tuple[ForwardTargetConfig, ...] | None = None
    forward_suppressed: bool | None = None
    #: An escalation policy by name or id; ``None``: runtime edits own it (Default if new).
    escalation_policy: str | None = None


@dataclass(frozen=True)
class MaintenanceConfig:
    """One ``[[maintenance_windows]]`` block (services by name)."""

    services: tuple[str, ...]
    start: datetime
    end: datetime
    description: str | None


@dataclass(frozen=True)
class WebhookConfig:
    """One ``[[webhook_subscriptions]]`` block (matched by ``name``, else by description).

    ``service`` names a service (account-wide when ``None``); ``secret`` is generated
    when ``None``. Values are checked by the webhook rules when provisioned.
    """

    name: str | None
    description: str | None
    url: str
    events: tuple[str, ...]
    service: str | None
    custom_headers: tuple[tuple[str, str], ...]
    active: bool
    secret: str | None
    key: str
    line: int | None


@dataclass(frozen=True)
class ContactMethodConfig:
    """One ``[[users.contact_methods]]`` block, matched to the user's contact method by label."""

    label: str
    type: str
    address: str
    key: str
    line: int | None


@dataclass(frozen=True)
class NotificationRuleConfig:
    """One ``[[users.notification_rules]]`` block; ``contact_method`` is a block's label."""

    contact_method: str
    start_delay_in_minutes: int
    urgency: str
    key: str
    line: int | None
    #: ``assignment_notification_rule`` or ``status_change_notification_rule``.
    type: str = "assignment_notification_rule"


@dataclass(frozen=True)
class UserConfig:
    """One ``[[users]]`` block, matched to a user by email address (whatever its case).

    ``contact_methods`` and ``notification_rules`` are ``None`` when the block declares
    neither: the user then keeps (or, when new, gets) PagerDuty's defaults, editable at
    runtime. Values are checked by the user rules when provisioned.
    """

    name: str
    email: str
    role: str | None
    time_zone: str | None
    description: str | None
    job_title: str | None
    contact_methods: tuple[ContactMethodConfig, ...] | None
    notification_rules: tuple[NotificationRuleConfig, ...] | None
    key: str
    line: int | None


@dataclass(frozen=True)
class EscalationRuleConfig:
    """One ``[[escalation_policies.escalation_rules]]`` table: users by id or email,
    schedules by id or name, in the order given (users first)."""

    escalation_delay_in_minutes: int
    assignment_strategy: str | None
    users: tuple[str, ...]
    schedules: tuple[str, ...]
    key: str
    line: int | None


@dataclass(frozen=True)
class EscalationPolicyConfig:
    """One ``[[escalation_policies]]`` block (matched by ``name``)."""

    name: str
    description: str | None
    num_loops: int
    on_call_handoff_notifications: str | None
    rules: tuple[EscalationRuleConfig, ...]
    key: str
    line: int | None


@dataclass(frozen=True)
class PluginSettings:
    """``[plugins]``: which entry-point plugins not to load, and which must load."""

    block: tuple[str, ...] = ()
    require: tuple[str, ...] = ()


#: ``[outbound] deny``'s default: link-local (IPv4, IPv6) and the cloud metadata services
#: (AWS/GCP/Azure 169.254.169.254, AWS fd00:ec2::254, Alibaba 100.100.100.200); 0.0.0.0/8
#: and :: reach the host itself on Linux.
DEFAULT_OUTBOUND_DENY = (
    "169.254.0.0/16",
    "fe80::/10",
    "fd00:ec2::254/128",
    "100.100.100.200/32",
    "0.0.0.0/8",
    "::/128",
)


@dataclass(frozen=True)
class OutboundSettings:
    """``[outbound]``: the delivery queue's deliverers and the outbound address policy."""

    deny: tuple[str, ...] = DEFAULT_OUTBOUND_DENY
    allow: tuple[str, ...] = ()
    per_destination: int = 4
    max_in_flight: int = 64
    lease_seconds: int = 60
    retention_days: int = 7
    #: Who claims messages; ``""``: the host name. Distinct per daemon sharing a database.
    node_id: str = ""
    #: While ingest keeps the writer busy, a message waits up to this many seconds past
    #: its due time (``0``: deliveries never yield to ingest).
    max_defer_seconds: int = 30


@dataclass(frozen=True)
class ForwardingSettings:
    """``[forwarding]``: how events forwarded upstream are retried and paced."""

    #: A 5xx or network failure is retried this long after the event, then parked as failed.
    max_age_hours: float = 24.0
    #: After a 429, at most this many events per minute to that routing key (PagerDuty's).
    rate_per_minute: float = 120.0
    #: One request's time limit.
    timeout_seconds: float = 30.0
    #: Backoff after a failure: doubling from the first delay up to the maximum.
    first_delay_seconds: float = 5.0
    max_delay_seconds: float = 300.0


@dataclass(frozen=True)
class NotifySmtpSettings:
    """``[notifications.smtp]``: the relay that carries email notifications to people.

    ``password`` is read from ``password_file`` when the configuration is loaded; it is kept
    out of ``repr`` so no log line or traceback that prints the settings shows it.
    """

    host: str
    port: int
    sender: str
    starttls: bool = False
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    password_file: Path | None = None
    #: Seconds one delivery (connect, TLS, the whole SMTP exchange) may take.
    timeout: float = 30.0


@dataclass(frozen=True)
class NotificationSettings:
    """``[notifications]``: how people are notified (``smtp``: ``None`` without a relay)."""

    smtp: NotifySmtpSettings | None = None


@dataclass(frozen=True)
class Settings:
    """The whole configuration."""

    server: ServerSettings = field(default_factory=ServerSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    plugins: PluginSettings = field(default_factory=PluginSettings)
    services: tuple[ServiceConfig, ...] = ()
    maintenance_windows: tuple[MaintenanceConfig, ...] = ()
    webhook_subscriptions: tuple[WebhookConfig, ...] = ()
    users: tuple[UserConfig, ...] = ()
    escalation_policies: tuple[EscalationPolicyConfig, ...] = ()
    smtp: SmtpSettings | None = None
    rate_limit: RateLimitSettings = field(default_factory=RateLimitSettings)
    outbound: OutboundSettings = field(default_factory=OutboundSettings)
    forwarding: ForwardingSettings = field(default_factory=ForwardingSettings)
    source: Path | None = None
    schedules: tuple[ScheduleConfig, ...] = ()
    notifications: NotificationSettings = field(default_factory=NotificationSettings)

    @property
    def mail_domain(self) -> str | None:
        """``[smtp] domain``; ``None`` without ``[smtp]`` (no address can receive mail)."""
        return self.smtp.domain if self.smtp is not None else None
