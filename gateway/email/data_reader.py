"""Receiving an SMTP message (the bytes after DATA) in chunks, not line by line.

aiosmtpd reads DATA one line at a time in Python: about 9 µs of CPU per line, so
a 2.2 MB message of 200,000 short lines cost the SMTP thread ~0.45 s of CPU. The
daemon runs on one CPU, so while such a message arrived the event loop and the
store's writer got the CPU (and the GIL) less often, and ``/v2/enqueue`` p99
rose 2.4 to 4.5 times (``bench/hostile-mail --kinds wide``).

:meth:`DataReader.read_data` takes what the socket delivered in large chunks and
does the per-line work with ``bytes`` methods, which run in C: ``find`` for the
end of data, ``replace`` by 64 KB slices to undo dot-stuffing, and a check for
over-long lines that steps a line-length window at a time. About 4 ms of CPU for
the same message. Its results are aiosmtpd's:

- the data ends at the first CRLF ``.`` CRLF; the CRLF that ended the ``DATA``
  command counts, so a message may be empty. A bare LF ends no line (``x\\n.\\r\\n``
  is not the end), as in aiosmtpd;
- a line that starts with a dot loses that dot (RFC 5321 §4.5.2);
- more bytes than the size limit (counted before unstuffing, the final ``.``
  CRLF not counted) → :data:`TOO_MUCH`; a line longer than the line limit, CRLF
  included → :data:`TOO_LONG` (of the two, the one reached first); either way
  the data is read to its end and thrown away, and the reply comes after it
  (RFC 5321 §4.2.5);
- bytes the client sent after the end of data (pipelined commands) stay in the
  reader for the next command.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

from aiosmtpd.smtp import MISSING, SMTP

#: The end of data, with the CRLF of the line before it.
END = b"\r\n.\r\n"
#: Bytes taken from the socket buffer per step (asyncio reads the socket 256 KB at a time).
CHUNK = 256 * 1024
#: Bytes unstuffed between two returns to the event loop (about 0.1 ms of work).
SLICE = 64 * 1024
TOO_MUCH = "too much"
TOO_LONG = "too long"


@dataclass(frozen=True, slots=True)
class Data:
    """One message as received: its content (unstuffed), or why it was thrown away."""

    content: bytes
    refused: str | None = None  # TOO_MUCH, TOO_LONG or None


def unstuffed_slices(stuffed: bytes | bytearray) -> Iterator[bytes | bytearray]:
    """Undo dot-stuffing (every line that starts with ``.`` loses that dot), by slices.

    ``stuffed`` starts at a line start and its lines end in CRLF (a bare LF is
    part of its line, as in aiosmtpd). Each slice is about :data:`SLICE` bytes
    and starts at a line start. One ``replace`` over 2 MB holds the GIL for ~4 ms
    (CRLF is frequent, so the search cannot skip); a slice, a fraction of that.
    A slice without a dot (memchr) is not searched at all.
    """
    start, size = 0, len(stuffed)
    while start < size:
        cut = stuffed.find(b"\r\n", start + SLICE)
        stop = size if cut < 0 else cut + 2
        piece = stuffed[start:stop]
        if b"." in piece:
            if piece.startswith(b"."):
                piece = piece[1:]
            piece = piece.replace(b"\r\n.", b"\r\n")
        yield piece
        start = stop


def unstuff(stuffed: bytes | bytearray) -> bytes:
    """``stuffed`` with dot-stuffing undone (see :func:`unstuffed_slices`)."""
    return b"".join(unstuffed_slices(stuffed))


def has_long_line(content: bytes | bytearray, limit: int) -> bool:
    """Whether a line of ``content`` is longer than ``limit`` bytes, its CRLF included.

    ``content`` starts at a line start; a last line without CRLF counts if it is
    longer than ``limit`` already. Each step jumps to the
    last CRLF within ``limit`` bytes of the current line start, so a message of
    short lines costs ``len(content) / limit`` searches, not one per line.
    """
    start, size = 0, len(content)
    while start < size:
        end = content.rfind(b"\r\n", start, start + limit)
        if end < 0:
            return size - start > limit
        start = end + 2
    return False


class DataReader(asyncio.StreamReader):
    """aiosmtpd's stream reader, plus :meth:`read_data`.

    aiosmtpd creates a plain ``StreamReader``; the session changes its class to
    this one (aiosmtpd reaches into the reader's private fields on STARTTLS, so a
    wrapper would not do). ``read_data`` puts bytes read past the end of data
    back at the front of the reader's buffer, the one private field used here.
    """

    async def read_data(self, size_limit: int | None, line_limit: int) -> Data:
        """Read one message's data up to and including its final CRLF ``.`` CRLF.

        Connection loss raises as the reads do (aiosmtpd cancels the session).
        Raises ``asyncio.IncompleteReadError`` at end of stream before the end of
        data.
        """
        # The CRLF of the DATA command is kept in front: the end is always END.
        window = bytearray(b"\r\n")
        dropped = 0  # bytes thrown away from the front of window (too much data)
        refused: str | None = None
        searched = 0  # window[:searched] holds no start of END
        # A dot first (memchr, fast): without one, no END can start at or after searched.
        while (end := window.find(END, searched) if window.find(b".", searched) >= 0 else -1) < 0:
            searched = max(0, len(window) - len(END) + 1)
            # Received minus the DATA line's CRLF minus at most ".\r" of END: the
            # content is over the limit for sure, so only what may start END is kept.
            if size_limit and dropped + len(window) - 4 > size_limit:
                refused = refused or self._over_limit(window[2:], size_limit, line_limit)
                dropped += searched
                del window[:searched]
                searched = 0
            chunk = await self.read(CHUNK)
            if not chunk:
                raise asyncio.IncompleteReadError(bytes(window[2:]), None)
            window += chunk
        rest = window[end + len(END) :]
        if rest:
            self._buffer[:0] = rest  # type: ignore[attr-defined]  # the client's next commands
        stuffed = window[2 : end + 2]
        if refused is None and size_limit and end > size_limit:
            refused = self._over_limit(stuffed, size_limit, line_limit)
        if refused is None and has_long_line(stuffed, line_limit):
            refused = TOO_LONG
        if refused:
            return Data(b"", refused)
        pieces = []
        for piece in unstuffed_slices(stuffed):
            pieces.append(piece)
            await asyncio.sleep(0)  # the event loop's select releases the GIL
        return Data(b"".join(pieces))

    @staticmethod
    def _over_limit(received: bytearray, size_limit: int, line_limit: int) -> str:
        """Which refusal aiosmtpd gives: the bound the message crossed first."""
        return TOO_LONG if has_long_line(received[:size_limit], line_limit) else TOO_MUCH


class ChunkedDataSMTP(SMTP):
    """aiosmtpd's SMTP protocol with DATA received by :class:`DataReader`; the rest as is."""

    def _cb_client_connected(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        # The same object, another class: aiosmtpd reaches into the reader's private
        # fields on STARTTLS, so a wrapper would not do.
        reader.__class__ = DataReader
        super()._cb_client_connected(reader, writer)

    async def smtp_DATA(self, arg: str) -> None:  # noqa: N802  # aiosmtpd's command name
        """aiosmtpd's DATA, with the message received by :meth:`DataReader.read_data`."""
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        assert isinstance(self._reader, DataReader)
        try:
            data = await self._reader.read_data(self.data_size_limit, self.line_length_limit)
        except (asyncio.CancelledError, asyncio.IncompleteReadError):
            # The connection was lost during DATA (aiosmtpd cancels this coroutine).
            self._writer.close()
            raise
        if data.refused is not None:
            self._set_post_data_state()  # type: ignore[no-untyped-call]
            if data.refused == TOO_LONG:
                await self.push("500 Line too long (see RFC5321 4.5.3.1.6)")
            else:
                await self.push("552 Error: Too much mail data")  # aiosmtpd's texts
            return
        self.envelope.content = self.envelope.original_content = data.content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()  # type: ignore[no-untyped-call]
        await self.push("250 OK" if status is MISSING else status)
