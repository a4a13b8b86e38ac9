"""Hostile and ordinary mail for the bench scripts, and one blocking SMTP transaction."""

from __future__ import annotations

import socket
import time

RCPT = b"ops@alerts.example.com"


def wide_mail(parts: int) -> bytes:
    """multipart/mixed with ``parts`` one-line text parts (50,000 parts: 2.2 MB)."""
    head = (
        b"From: a@b.example\r\nTo: ops@alerts.example.com\r\nSubject: wide\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="B"\r\n\r\n'
    )
    return head + b"--B\r\nContent-Type: text/plain\r\n\r\nxxxxxxxx\r\n" * parts + b"--B--\r\n"


def deep_mail(levels: int, body_lines: int = 1) -> bytes:
    """A text part ``levels`` multiparts deep."""
    out = [b"From: a@b.example\r\nTo: ops@alerts.example.com\r\nSubject: deep\r\n"]
    out.append(b"MIME-Version: 1.0\r\n")
    for level in range(levels):
        boundary = b"b%d" % level
        out.append(
            b'Content-Type: multipart/mixed; boundary="%s"\r\n\r\n--%s\r\n' % (boundary, boundary)
        )
    out.append(b"Content-Type: text/plain\r\n\r\n" + b"x\r\n" * body_lines)
    out.extend(b"--b%d--\r\n" % level for level in reversed(range(levels)))
    return b"".join(out)


def ordinary_mail() -> bytes:
    """One text part, a unique Message-ID (each opens an incident, as real alerts do)."""
    return (
        b"From: nagios@mon.example\r\nTo: ops@alerts.example.com\r\nSubject: disk full\r\n"
        b"Message-ID: <%d@mon.example>\r\n\r\nState: CRITICAL\r\n" % time.monotonic_ns()
    )


def smtp_send(port: int, raw: bytes, rcpt: bytes = RCPT) -> tuple[str, float, float, float]:
    """One transaction: (reply, first byte sent, last byte sent, reply received).

    A refusal before DATA is returned as the reply with zero times.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=300) as sock:
        reader = sock.makefile("rb")
        for command in (None, b"EHLO bench", b"MAIL FROM:<a@b.example>", b"RCPT TO:<%s>" % rcpt):
            if command is not None:
                sock.sendall(command + b"\r\n")
            while (line := reader.readline())[3:4] == b"-":
                pass
            if not line.startswith(b"2"):
                return line.decode().strip(), 0.0, 0.0, 0.0
        sock.sendall(b"DATA\r\n")
        reader.readline()
        first = time.perf_counter()
        sock.sendall(raw + b".\r\n")  # no line starts with a dot: nothing to stuff
        last = time.perf_counter()
        reply = reader.readline().decode().strip()
        done = time.perf_counter()
        sock.sendall(b"QUIT\r\n")
    return reply, first, last, done
