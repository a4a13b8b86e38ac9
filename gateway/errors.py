"""The gateway's one exception tree.

Every error the gateway raises on purpose is a :class:`GatewayError`. Each face
translates the tree in exactly one place: PagerDuty's REST error bodies in
``gateway/http/rest/_common.py`` (:func:`rest_error`), web UI pages in
``gateway/http/ui/_web.py``, command-line messages and exit codes in
``gateway/cli_common.py``; the ingest paths (HTTP and SMTP) answer the event
branch themselves. Catch the narrowest class that says what you mean: there is
one :class:`NotFound` and one :class:`Invalid`, whoever raised them.

::

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
    ├── ConfigError             a configuration that cannot be used (key and line; CLI exit 2)
    └── OperationError          the domain layer refuses a change or a lookup (gateway/core)
        ├── NotFound            no such live object (REST 404; UI 404 page; CLI exit 1)
        ├── Invalid             input that breaks a rule, one message per problem (REST 400)
        │   └── Incompatible    a move no confirmation can allow (Events API v2 → create_incidents)
        ├── Conflict            a move that changes incident settings; repeat with confirm (409)
        └── Refused             valid input the object's current state forbids (REST 400)
            └── PastWindow      a maintenance window that has already ended (REST 405)

:class:`OperationError` carries PagerDuty's REST error ``message`` and ``code``
and an ``errors`` list (one readable sentence per problem), so every face shows
the same words. What each face answers:

- ``NotFound(kind, id)``: REST 404, code 5002 ``Service Not Found`` for a
  service, else 5001 ``<Kind> Not Found``; UI a 404 page ("Service PX not found.
  It may have been deleted."); CLI ``error: Service PX not found``, exit 1.
- ``Invalid(errors)``: REST 400, 2001 ``Invalid Input Provided`` with ``errors``;
  UI the form again with the messages (else a 400 page); CLI one ``error:``
  line per problem, exit 1.
- ``Incompatible``: as ``Invalid`` (the UI's move page shows it as a problem).
- ``Conflict(differences)``: REST 409, 2001, ``differences[]`` beside ``errors``;
  UI the move warning again (409); CLI exit 1 (its ``move`` asks first).
- ``Refused(message, code, errors)``: REST 400 with the case's code (1001
  incident already resolved; 2001 duplicate open incident key, disabled
  service; 2015 a configuration-file window); UI a notice or a 409 page; CLI exit 1.
- ``PastWindow``: REST 405, 5003 ``Cannot cancel a maintenance window from the
  past``; UI a 409 page; CLI exit 1.

Provisioning turns any of them into a :class:`ConfigError` naming the block's
key and line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class GatewayError(Exception):
    """Base class of every error the gateway raises on purpose."""


class EventError(GatewayError):
    """A request that can never be accepted as sent; senders should not retry."""


class InvalidEvent(EventError):
    """The event is well-formed but breaks PagerDuty's rules.

    ``errors`` holds PagerDuty's own error strings, one per problem.
    ``event_action`` is the action the refused body named, when the body could be
    read far enough to tell (``trigger`` …): the refusal is counted under it in
    ``alert_gateway_events_total`` (any value that is not an event action is
    counted as ``unknown``).
    """

    def __init__(
        self,
        errors: list[str],
        *,
        message: str = "Event object is invalid",
        event_action: str | None = None,
    ) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors
        self.message = message
        self.event_action = event_action


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


# -- the domain layer's refusals (gateway/core) ------------------------------------------------


class OperationError(GatewayError):
    """A change or lookup the domain layer refuses.

    ``message`` and ``code`` are PagerDuty's REST error message and code;
    ``errors`` holds one readable sentence per problem (never empty).
    """

    code = 2001

    def __init__(
        self, message: str, *, code: int | None = None, errors: Sequence[str] = ()
    ) -> None:
        self.message = message
        if code is not None:
            self.code = code
        self.errors = list(errors) or [message]
        super().__init__("; ".join(self.errors))


class NotFound(OperationError):
    """No live object of ``kind`` (``Service``, ``Integration``, ``Incident``, ``Vendor``,
    ``Log Entry``, ``Maintenance Window``) is named ``object_id``.

    ``str()`` reads "Service PX not found"; ``message`` is PagerDuty's "Service Not Found".
    """

    def __init__(self, kind: str, object_id: object) -> None:
        sentence = f"{kind} {object_id} not found"
        super().__init__(
            f"{kind} Not Found", code=5002 if kind == "Service" else 5001, errors=[sentence]
        )
        self.kind = kind
        self.object_id = str(object_id)


class Invalid(OperationError):
    """Input that breaks a rule; ``errors`` has one message per problem, all found at once."""

    def __init__(self, errors: Sequence[str]) -> None:
        super().__init__("Invalid Input Provided", code=2001, errors=errors)


class Incompatible(Invalid):
    """A move that is never allowed, confirmed or not (Events API v2 onto create_incidents)."""


@dataclass(frozen=True, slots=True)
class Difference:
    """One incident setting that differs between an integration's service and the destination."""

    field: str
    from_: str | None
    to: str | None

    def as_dict(self) -> dict[str, str | None]:
        """``{"field", "from", "to"}``, as REST bodies and the UI show it."""
        return {"field": self.field, "from": self.from_, "to": self.to}

    def __str__(self) -> str:
        return f"{self.field}: {self.from_ or '(none)'} -> {self.to or '(none)'}"


class Conflict(OperationError):
    """A move that changes how the integration's incidents behave; repeat it with ``confirm``.

    ``differences`` lists each :class:`Difference`; ``errors`` has them as sentences.
    """

    def __init__(self, differences: Sequence[Difference]) -> None:
        super().__init__(
            "The destination service's incident settings differ",
            code=2001,
            errors=[str(d) for d in differences],
        )
        self.differences = list(differences)

    def __str__(self) -> str:
        return f"{self.message}: {'; '.join(self.errors)}"


class Refused(OperationError):
    """Well-formed input that the object's current state does not allow.

    ``code`` is PagerDuty's for the case (1001 incident already resolved, 2001
    duplicate incident key or disabled service, 2015 a configuration-file window).
    """

    def __init__(self, message: str, *, code: int = 2001, errors: Sequence[str] = ()) -> None:
        super().__init__(message, code=code, errors=errors)


class PastWindow(Refused):
    """A maintenance window that has already ended cannot be cancelled or changed."""

    def __init__(self) -> None:
        super().__init__("Cannot cancel a maintenance window from the past", code=5003)
