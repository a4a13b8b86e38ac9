"""The ``email_notification`` delivery kind: notifications to people through an SMTP relay.

Sent with the standard library's :mod:`smtplib` on a worker thread
(``trio.to_thread.run_sync``): a well-kept client, and the asyncio-only ones cannot run
under Trio. A session (connect, ``STARTTLS`` or TLS from the first byte, ``AUTH``) is
kept open after a message and sends the next ones (``MAIL``/``RCPT``/``DATA`` each): a
session per message cost 2-3x the CPU of a message on an open one (bench/notifications),
CPU the daemon's ingest shares. A session idle for ``IDLE_SECONDS``, or that has sent
``SESSION_MESSAGES``, is closed; one the relay closed meanwhile is replaced, and the
message sent on a new one (at-least-once: the same ``Message-ID``). A session that saw any
error is closed, never reused. Each socket operation, and the attempt as a whole, is
bounded by ``[notifications.smtp] timeout``.

Outcomes:

- the relay takes the message (``250`` after ``DATA``): delivered;
- a 4xx reply (at any step), a connection that fails or drops, or a timeout: retried with
  backoff, for up to a day;
- a 5xx reply for the message (sender, recipient or data refused): dropped for good —
  a failed notification never holds up escalation, which runs on its own timers;
- a certificate the relay's name does not match: dropped (as for every kind: it does not
  fix itself within a retry schedule);
- a refused login (535) is retried, not dropped: the notification is fine, the gateway's
  credentials are not, and notifications wait for the operator to fix them.

The password is used, never logged: reasons name the SMTP reply, not the session.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Final

import structlog
import trio

from gateway.config import NotifySmtpSettings
from gateway.core.notifications import EMAIL_KIND
from gateway.core.outbox import Message
from gateway.outbound.email_message import build_message, header_text
from gateway.outbound.kinds import Delivered, Drop, Outcome, Retry, RetryPolicy, SendEnv
from gateway.store import Tx

__all__ = ["EmailNotificationKind", "classify_smtp_error", "email_kind"]

log = structlog.get_logger("gateway.notifications")

#: Waits of 30 s doubling to 30 min between attempts, for at most a day: a relay that is
#: down for maintenance gets the notifications once it is back; after a day a page is news.
FIRST_DELAY: Final = 30.0
MAX_DELAY: Final = 1800.0
MAX_AGE: Final = 24 * 3600.0
#: Sessions open to the relay at once (threads): a relay limits connections per client
#: (Postfix: 50), and more than a few gain nothing (bench/README.md, notifications).
CONNECTIONS: Final = 8
#: Emails waiting per address; past it they are kept anyway, with a warning.
MAX_PENDING: Final = 10_000
#: Seconds an open session may wait for its next message: relays close idle sessions
#: (RFC 5321 asks servers to wait 5 minutes; some wait less).
IDLE_SECONDS: Final = 30.0
#: Messages one session sends before it is closed (some relays limit them per session).
SESSION_MESSAGES: Final = 100
NOT_CONFIGURED: Final = "no [notifications.smtp] relay is configured"


def classify_smtp_error(exc: Exception) -> Outcome:
    """An :mod:`smtplib` failure as an outcome: 4xx retried, 5xx dropped, the rest retried."""
    code: int | None = None
    text = ""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        # One recipient per message: its reply is the message's.
        for rcode, rtext in exc.recipients.values():
            code, text = rcode, _reply(rtext)
    elif isinstance(exc, smtplib.SMTPResponseException):
        code, text = exc.smtp_code, _reply(exc.smtp_error)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return Retry(f"the relay refused the login: {code} {text}".strip())
    if code is not None and 500 <= code < 600:
        return Drop(f"SMTP {code} {text}".strip())
    if code is not None:
        return Retry(f"SMTP {code} {text}".strip())
    return Retry(f"{type(exc).__name__}: {exc}"[:300])


def _reply(value: bytes | str) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return header_text(text, 300)


@dataclass
class EmailNotificationKind:
    """Email notifications (the outbox kind ``email_notification``) through one relay."""

    smtp: NotifySmtpSettings | None
    name: str = EMAIL_KIND
    max_pending: int = MAX_PENDING
    drop_on_overflow: bool = False  # a page is never refused for a busy address
    #: The TLS context for STARTTLS and TLS (the system's trust store by default).
    context: ssl.SSLContext | None = None
    #: Sessions open to the relay at once.
    connections: int = CONNECTIONS
    policy: RetryPolicy = field(init=False)
    _limiter: trio.CapacityLimiter = field(init=False)
    #: Open sessions waiting for a message: (client, when it was last used, messages sent).
    _idle: list[tuple[smtplib.SMTP, float, int]] = field(init=False, default_factory=list)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        timeout = self.smtp.timeout if self.smtp else 30.0
        self.policy = RetryPolicy(
            max_attempts=None,
            max_age_seconds=MAX_AGE,
            first_delay=FIRST_DELAY,
            max_delay=MAX_DELAY,
            timeout=timeout,
        )
        self._limiter = trio.CapacityLimiter(self.connections)
        if self.context is None:
            self.context = ssl.create_default_context()

    async def send(self, message: Message, env: SendEnv) -> tuple[Outcome, int | None]:
        """One SMTP session for the message, on a worker thread; classified as above."""
        smtp = self.smtp
        if smtp is None:
            return Drop(NOT_CONFIGURED), None
        recipient = message.destination
        if "@" not in recipient or header_text(recipient) != recipient:
            return Drop(f"not an email address: {header_text(recipient, 100)!r}"), None
        try:
            data = build_message(
                message.body,
                outbox_id=message.id,
                sender=smtp.sender,
                recipient=recipient,
                date=env.clock.now(),
            ).as_bytes()
        except (ValueError, TypeError, AttributeError) as exc:
            # A body that is not a notification never becomes one by waiting.
            return Drop(f"cannot build the email: {type(exc).__name__}: {exc}"[:300]), None
        # abandon_on_cancel: the engine's timeout returns at once; the thread ends at its
        # own socket timeout. A message the relay took meanwhile is sent again later, with
        # the same Message-ID (at-least-once, as every kind).
        try:
            await trio.to_thread.run_sync(
                self._session, smtp, recipient, data, limiter=self._limiter, abandon_on_cancel=True
            )
        except ssl.SSLError:
            raise  # the engine drops TLS errors
        except (smtplib.SMTPException, OSError) as exc:
            return classify_smtp_error(exc), _code(exc)
        return Delivered(), 250

    def _session(self, smtp: NotifySmtpSettings, recipient: str, data: bytes) -> None:
        """Send one message on an open session, or a new one (runs on a worker thread)."""
        taken = self._take()
        if taken is not None:
            client, sent = taken
            try:
                client.sendmail(smtp.sender, [recipient], data)
            except smtplib.SMTPServerDisconnected:
                # The relay closed the idle session: a new one below.
                _close(client)
            except BaseException:
                _close(client)
                raise
            else:
                self._keep(client, sent + 1)
                return
        client = self._open(smtp)
        try:
            client.sendmail(smtp.sender, [recipient], data)
        except BaseException:
            _close(client)
            raise
        self._keep(client, 1)

    def _open(self, smtp: NotifySmtpSettings) -> smtplib.SMTP:
        """A new session: connected, TLS as configured, logged in."""
        client: smtplib.SMTP
        if smtp.tls:
            client = smtplib.SMTP_SSL(
                smtp.host, smtp.port, timeout=smtp.timeout, context=self.context
            )
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
        try:
            client.ehlo()
            if smtp.starttls:
                client.starttls(context=self.context)
                client.ehlo()
            if smtp.username and smtp.password is not None:
                client.login(smtp.username, smtp.password)
        except BaseException:
            _close(client)
            raise
        return client

    def _take(self) -> tuple[smtplib.SMTP, int] | None:
        """The most recently used open session that is not too old, if any."""
        with self._lock:
            now = time.monotonic()
            fresh = [entry for entry in self._idle if now - entry[1] < IDLE_SECONDS]
            stale = [entry[0] for entry in self._idle if now - entry[1] >= IDLE_SECONDS]
            found = fresh.pop() if fresh else None
            self._idle = fresh
        for client in stale:
            _quit(client)
        return (found[0], found[2]) if found else None

    def _keep(self, client: smtplib.SMTP, sent: int) -> None:
        if sent >= SESSION_MESSAGES:
            _quit(client)
            return
        with self._lock:
            self._idle.append((client, time.monotonic(), sent))

    def close(self) -> None:
        """Close the open sessions (the deliverers stop)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for client, _, _ in idle:
            _close(client)

    def settled(self, tx: Tx, message: Message, outcome: Outcome) -> None:
        """A notification dropped for good is worth a warning of its own (who missed a page)."""
        if isinstance(outcome, Drop):
            log.warning(
                "notification.failed",
                message=message.id,
                address=message.destination,
                reason=outcome.reason,
            )


def _quit(client: smtplib.SMTP) -> None:
    """End a session politely; a relay that already went is no error."""
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        _close(client)


def _close(client: smtplib.SMTP) -> None:
    with contextlib.suppress(OSError):
        client.close()


def _code(exc: Exception) -> int | None:
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return next(iter(exc.recipients.values()))[0]
    return None


def email_kind(smtp: NotifySmtpSettings | None) -> EmailNotificationKind:
    """The kind for ``[notifications.smtp]`` (without one, every message is dropped, said why)."""
    return EmailNotificationKind(smtp)
