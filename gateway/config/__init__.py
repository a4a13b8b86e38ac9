"""TOML configuration → typed settings, with errors that name the key and the line.

Unknown keys are errors (a typo should not pass silently), except inside an
integration's table, where extra keys are that vendor's settings (for example
CloudWatch's ``sns_topic_allowlist``).

This package's face is what the rest of the code imports (``from gateway.config import
Settings``); its modules each have one job:

- :mod:`~gateway.config.settings`: the frozen settings dataclasses and their defaults;
- :mod:`~gateway.config.reader`: TOML key → line map and the typed, located reader;
- :mod:`~gateway.config.sections`: ``[server]``, ``[smtp]``, ``[storage]`` and the other
  single tables;
- :mod:`~gateway.config.services`: ``[[services]]``, their integrations and the
  maintenance windows, with the parse-time domain rules;
- :mod:`~gateway.config.users`: ``[[users]]`` with their contact methods and rules;
- :mod:`~gateway.config.parse`: :func:`parse_settings` and :func:`load_settings`.
"""

from __future__ import annotations

from gateway.config.parse import load_settings, parse_settings
from gateway.config.reader import locate_keys
from gateway.config.schedules import ScheduleConfig
from gateway.config.sections import parse_listen, postgres_url_problem
from gateway.config.settings import (
    DEFAULT_MAX_BODY,
    LOG_FORMATS,
    LOG_LEVELS,
    SYNCHRONOUS,
    EscalationPolicyConfig,
    EscalationRuleConfig,
    ForwardingSettings,
    ForwardTargetConfig,
    IntegrationConfig,
    LoggingSettings,
    MaintenanceConfig,
    NotificationSettings,
    NotifySmtpSettings,
    OutboundSettings,
    PluginSettings,
    RateLimitSettings,
    ServerSettings,
    ServiceConfig,
    Settings,
    SmtpSettings,
    StorageSettings,
    UserConfig,
    WebhookConfig,
)

__all__ = [
    "DEFAULT_MAX_BODY",
    "LOG_FORMATS",
    "LOG_LEVELS",
    "SYNCHRONOUS",
    "EscalationPolicyConfig",
    "EscalationRuleConfig",
    "ForwardTargetConfig",
    "ForwardingSettings",
    "IntegrationConfig",
    "LoggingSettings",
    "MaintenanceConfig",
    "NotificationSettings",
    "NotifySmtpSettings",
    "OutboundSettings",
    "PluginSettings",
    "RateLimitSettings",
    "ScheduleConfig",
    "ServerSettings",
    "ServiceConfig",
    "Settings",
    "SmtpSettings",
    "StorageSettings",
    "UserConfig",
    "WebhookConfig",
    "load_settings",
    "locate_keys",
    "parse_listen",
    "parse_settings",
    "postgres_url_problem",
]
