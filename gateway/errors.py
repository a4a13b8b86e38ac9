"""The gateway's exception tree.

Every error a client can cause maps to one PagerDuty-shaped answer; the HTTP
layer turns these into responses, the SMTP layer into reply codes.

    GatewayError
    ├── EventError              a request the gateway will never accept (4xx)
    │   ├── InvalidEvent        400 "Event object is invalid" with errors[]
    │   │   └── InvalidRoutingKey
    │   ├── UnrecognizedEvent   400 "Event object format is unrecognized"
    │   ├── PayloadTooLarge     413
    │   └── RateLimited         429 (v1: 403; Nagios: "retry later"); the sender should retry
    ├── RetryLater              a transient fault: nothing accepted, retry later (503 / SMTP 451)
    │   └── StoreUnavailable    the store cannot commit
    ├── PluginFailure           a plugin's own bug (500), isolated to one request
    └── ConfigError             a configuration that cannot be used
"""

from __future__ import annotations


class GatewayError(Exception):
    """Base class of every error the gateway raises on purpose."""


class EventError(GatewayError):
    """A request that can never be accepted as sent; senders should not retry."""


class InvalidEvent(EventError):
    """The event is well-formed but breaks PagerDuty's rules.

    ``errors`` holds PagerDuty's own error strings, one per problem.
    """

    def __init__(self, errors: list[str], *, message: str = "Event object is invalid") -> None:
        super().__init__("; ".join(errors))
        self.errors = errors
        self.message = message


class InvalidRoutingKey(InvalidEvent):
    """No integration has this key (never had, or it was deleted)."""

    def __init__(self) -> None:
        super().__init__(["Invalid routing key"])


class UnrecognizedEvent(EventError):
    """The body is not JSON (or not the format this endpoint speaks)."""

    def __init__(self, detail: str = "JSON parse error") -> None:
        super().__init__(detail)
        self.errors = [detail]


class PayloadTooLarge(EventError):
    """The body is larger than the configured limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body exceeds {limit} bytes")
        self.limit = limit


class RateLimited(EventError):
    """An integration key sent more events than ``[rate_limit]`` allows; retry later."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} events per minute for this integration")
        self.limit = limit


class RetryLater(GatewayError):
    """A transient fault (the store, or a plugin's upstream such as SNS certificates).

    Nothing was accepted; the sender gets a retryable answer (HTTP 503, SMTP 451).
    Plugins raise it for failures that come from the network, never from input.
    """


class StoreUnavailable(RetryLater):
    """The store could not commit; nothing was acknowledged and the sender may retry."""


class PluginFailure(GatewayError):
    """A plugin raised an unexpected exception while handling one request."""

    def __init__(self, plugin: str, cause: BaseException) -> None:
        super().__init__(f"plugin {plugin!r} failed: {type(cause).__name__}")
        self.plugin = plugin
        self.cause = cause


class ConfigError(GatewayError):
    """A configuration problem, naming the key and (when known) the line."""

    def __init__(self, message: str, *, key: str | None = None, line: int | None = None) -> None:
        self.message = message
        self.key = key
        self.line = line
        where = ""
        if key:
            where = f"{key}: "
        if line:
            where = f"line {line}: {where}"
        super().__init__(where + message)
