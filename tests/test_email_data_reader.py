"""The chunked DATA reader: aiosmtpd's results, however the bytes are split.

Two layers: ``DataReader.read_data`` on a real ``asyncio.StreamReader`` fed the
stream cut at every position, and the same streams over real SMTP to stock
aiosmtpd and to :class:`ChunkedDataSMTP`, whose replies and contents must match.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from gateway.email.data_reader import (
    SLICE,
    TOO_LONG,
    TOO_MUCH,
    ChunkedDataSMTP,
    Data,
    DataReader,
    has_long_line,
    unstuff,
)

# (the bytes after DATA's CRLF, the content received, what is left for the next command)
CASES = [
    (b".\r\n", b"", b""),  # an empty message
    (b"\r\n.\r\n", b"\r\n", b""),  # one empty line
    (b"a\r\n.\r\nQUIT\r\n", b"a\r\n", b"QUIT\r\n"),  # a pipelined command stays
    (b"..x\r\n.\r\n", b".x\r\n", b""),  # dot-stuffing on the first line
    (b"a\r\n..\r\n...\r\n.\r\n", b"a\r\n.\r\n..\r\n", b""),
    (b"x\n.\r\ny\r\n.\r\n", b"x\n.\r\ny\r\n", b""),  # a bare LF ends no line
    (b"a\r\n.\n.\r\n.\r\n", b"a\r\n\n.\r\n", b""),
    (b"a\r\r\n.\r\n", b"a\r\r\n", b""),
    (b"a\r\n.\r\r\n.\r\nNOOP\r\nQUIT\r\n", b"a\r\n\r\r\n", b"NOOP\r\nQUIT\r\n"),
    (b"a.\r\n.b\r\n.\r\n.\r\n", b"a.\r\nb\r\n", b".\r\n"),
]


def splits(stream: bytes) -> Iterator[list[bytes]]:
    """The stream in one piece, cut in two at every position, and byte by byte."""
    yield [stream]
    for cut in range(1, len(stream)):
        yield [stream[:cut], stream[cut:]]
    yield [stream[i : i + 1] for i in range(len(stream))]


def read(
    chunks: list[bytes], size_limit: int | None = None, line_limit: int = 1000
) -> tuple[Data, bytes]:
    """``read_data`` over ``chunks`` arriving one by one; (its result, the bytes left)."""

    async def go() -> tuple[Data, bytes]:
        reader = DataReader()

        async def feed() -> None:
            for chunk in chunks:
                reader.feed_data(chunk)
                await asyncio.sleep(0)
            reader.feed_eof()

        feeder = asyncio.create_task(feed())
        data = await reader.read_data(size_limit, line_limit)
        await feeder
        return data, await reader.read()

    return asyncio.run(go())


@pytest.mark.parametrize(("stream", "content", "rest"), CASES)
def test_content_and_rest_for_every_split(stream: bytes, content: bytes, rest: bytes) -> None:
    for chunks in splits(stream):
        assert read(chunks) == (Data(content), rest), chunks


def test_the_size_limit_counts_the_stuffed_bytes() -> None:
    stream = b"..345678\r\n.\r\nQUIT\r\n"  # 10 bytes on the wire, 9 after unstuffing
    for chunks in splits(stream):
        assert read(chunks, size_limit=10) == (Data(b".345678\r\n"), b"QUIT\r\n")
        assert read(chunks, size_limit=9) == (Data(b"", TOO_MUCH), b"QUIT\r\n")


def test_too_much_data_is_read_to_its_end_and_thrown_away() -> None:
    line = b"x" * 98 + b"\r\n"
    stream = line * 10_000 + b".\r\nQUIT\r\n"  # 1 MB against a 1,000-byte limit
    chunks = [stream[i : i + 4093] for i in range(0, len(stream), 4093)]
    assert read(chunks, size_limit=1000) == (Data(b"", TOO_MUCH), b"QUIT\r\n")


def test_a_line_longer_than_the_limit_refuses_the_message() -> None:
    for chunks in splits(b"a\r\n12345678\r\n.\r\nQUIT\r\n"):
        assert read(chunks, line_limit=10)[0] == Data(b"a\r\n12345678\r\n")
    for chunks in splits(b"a\r\n123456789\r\n.\r\nQUIT\r\n"):
        assert read(chunks, line_limit=10) == (Data(b"", TOO_LONG), b"QUIT\r\n")


def test_end_of_stream_before_the_end_of_data_raises() -> None:
    with pytest.raises(asyncio.IncompleteReadError):
        read([b"a\r\n.", b"\r"])


def test_a_large_message_is_unstuffed_across_slices() -> None:
    # Lines of every length around the slice size, half of them dot-stuffed.
    stuffed = b"".join((b".." if n % 2 else b"") + b"y" * (n % 997) + b"\r\n" for n in range(3000))
    expected = (b"\r\n" + stuffed).replace(b"\r\n.", b"\r\n")[2:]
    assert len(stuffed) > 20 * SLICE
    assert unstuff(stuffed) == expected
    chunks = [stuffed[i : i + 65521] for i in range(0, len(stuffed), 65521)] + [b".\r\n"]
    assert read(chunks, line_limit=2000) == (Data(expected), b"")


def test_helpers() -> None:
    assert unstuff(b".a\r\n..b\r\nc.\r\n") == b"a\r\n.b\r\nc.\r\n"
    assert not has_long_line(b"", 4)
    assert not has_long_line(b"ab\r\n" * 1000, 4)
    assert has_long_line(b"ab\r\n" * 1000 + b"abc\r\n", 4)


# Over real SMTP: stock aiosmtpd and ours, side by side.

LINE_LIMIT = 100
SIZE_LIMIT = 300


class _Recorder:
    """An aiosmtpd handler keeping the content of every message."""

    def __init__(self) -> None:
        self.contents: list[bytes] = []

    async def handle_DATA(  # aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        self.contents.append(envelope.original_content or b"")
        return "250 OK"


class _Stock(SMTP):
    line_length_limit = LINE_LIMIT


class _Chunked(ChunkedDataSMTP):
    line_length_limit = LINE_LIMIT


class _Server:
    """An aiosmtpd protocol class served on 127.0.0.1 by an asyncio loop in a thread."""

    def __init__(self, factory: type[SMTP]) -> None:
        self.handler = _Recorder()
        self.loop = asyncio.new_event_loop()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

        def protocol() -> SMTP:
            return factory(self.handler, data_size_limit=SIZE_LIMIT, loop=self.loop)

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self.loop.create_server(protocol, sock=self.sock))
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def exchange(self, stream: bytes) -> tuple[list[bytes], list[bytes]]:
        """Send one transaction with ``stream`` after DATA, then NOOP and QUIT pipelined.

        Returns the replies from DATA's on and the contents the handler got.
        """
        before = len(self.handler.contents)
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
            reader = sock.makefile("rb")
            reader.readline()
            for command in (b"HELO t", b"MAIL FROM:<a@b.example>", b"RCPT TO:<c@d.example>"):
                sock.sendall(command + b"\r\n")
                assert reader.readline().startswith(b"250")
            sock.sendall(b"DATA\r\n")
            replies = [reader.readline()]
            sock.sendall(stream + b"NOOP\r\nQUIT\r\n")
            while line := reader.readline():
                replies.append(line)
        return replies, self.handler.contents[before:]

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[_Server, _Server]]:
    stock, chunked = _Server(_Stock), _Server(_Chunked)
    yield stock, chunked
    stock.close()
    chunked.close()


SMTP_STREAMS: list[Any] = [stream for stream, _, _ in CASES] + [
    b"x" * 98 + b"\r\n.\r\n",  # a line of LINE_LIMIT bytes: accepted
    b"x" * 99 + b"\r\n.\r\n",  # one byte more: 500
    b"a\r\n" + b"x" * 1000 + b"\r\nb\r\n.\r\n",  # far over the line limit: 500
    b"x\r\n" * 100 + b".\r\n",  # SIZE_LIMIT exactly: accepted
    b"..\r\n" + b"x\r\n" * 99 + b".\r\n",  # one byte more (a stuffed dot counts): 552
    b"x\r\n" * 10_000 + b".\r\n",  # far over: 552
]


@pytest.mark.parametrize("stream", SMTP_STREAMS)
def test_same_replies_and_content_as_stock_aiosmtpd(
    servers: tuple[_Server, _Server], stream: bytes
) -> None:
    stock, chunked = servers
    assert chunked.exchange(stream) == stock.exchange(stream)
