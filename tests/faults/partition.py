"""A TCP proxy between one client and a server, which a test can cut and heal: a partition."""

from __future__ import annotations

import asyncio
import contextlib


class Partition:
    """Forwards 127.0.0.1:`port` to the target until `cut()`; then bytes go nowhere.

    A cut keeps the client's sockets open and silent (packets dropped, not refused), which is
    what a real network partition looks like to the client: calls hang rather than fail.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._cut = asyncio.Event()
        self._pipes: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def __aenter__(self) -> Partition:
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
        self._cut.set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        pipes = [
            asyncio.create_task(self._pipe(reader, up_w)),
            asyncio.create_task(self._pipe(up_r, writer)),
        ]
        self._pipes.update(pipes)
        try:
            await asyncio.gather(*pipes)
        finally:
            self._pipes.difference_update(pipes)
            up_w.close()
            writer.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            if self._cut.is_set():
                continue
            writer.write(data)
            await writer.drain()
