"""A TCP link between clients and one server, which a test can cut or break on a message."""

from __future__ import annotations

import asyncio
import contextlib


class TcpLink:
    """Forwards 127.0.0.1:`port` to `target_port` until told otherwise.

    `cut()` is a network partition: sockets stay open and silent (bytes dropped, not refused),
    so the client's calls hang rather than fail. `break_on(marker)` closes the connection
    that sends a chunk containing `marker`, after delivering it or not: a connection lost in
    the middle of one exchange (e.g. a COMMIT whose answer never arrives).
    """

    def __init__(self, target_port: int, *, record: bool = False) -> None:
        self.target_port = target_port
        self.port = 0
        self.broken = 0  # connections closed by break_on so far
        # What clients sent, chunk by chunk, when asked (a test may clear it): kept only on
        # request, since a link under load would otherwise hold every byte it forwarded.
        self.sent: list[bytes] | None = [] if record else None
        self._server: asyncio.Server | None = None
        self._cut = False
        self._break: tuple[bytes, bool] | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> TcpLink:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._pipes):
            task.cancel()
        for task in list(self._pipes):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def cut(self) -> None:
        """Drop every byte from now on, in both directions."""
        self._cut = True

    def break_on(self, marker: bytes, *, deliver: bool) -> None:
        """Close the next connection whose client sends `marker` (delivered first if asked)."""
        self._break = (marker, deliver)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        closed = asyncio.Event()
        # Set once the marker went through: the server's answer is then swallowed.
        answered = asyncio.Event()
        pipes = [
            asyncio.create_task(self._pipe(reader, up_w, closed, answered, outbound=True)),
            asyncio.create_task(self._pipe(up_r, writer, closed, answered, outbound=False)),
        ]
        self._pipes.update(pipes)
        try:
            await closed.wait()
        finally:
            for task in pipes:
                task.cancel()
            self._pipes.difference_update(pipes)
            for w in (up_w, writer):
                with contextlib.suppress(OSError):
                    w.transport.abort()

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        closed: asyncio.Event,
        answered: asyncio.Event,
        *,
        outbound: bool,
    ) -> None:
        try:
            while data := await reader.read(65536):
                if self._cut:
                    continue
                if not outbound and answered.is_set():
                    self.broken += 1  # the server acted; its answer is lost on the way
                    return
                if outbound and self.sent is not None:
                    self.sent.append(data)
                trigger = self._break if outbound else None
                if trigger is not None and trigger[0] in data:
                    self._break = None
                    if not trigger[1]:
                        self.broken += 1
                        return
                    answered.set()
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            closed.set()
