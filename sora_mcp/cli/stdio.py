"""The stdio transport on the event loop's own pipe transports.

The SDK's `stdio_server` reads and writes the standard streams through `anyio.wrap_file`: three
worker-thread round trips per message (readline, write, flush), about half a millisecond of
every tool call on a 2-core machine (bench row 2). When stdin and stdout are pipes or sockets,
which is how MCP clients spawn a server, `serve_stdio` reads and writes them with asyncio's pipe
transports instead, keeping everything else as the SDK does it: one JSON-RPC message per line
in UTF-8, the SDK's own parsing and serialisation calls, and a protected wire (while serving,
fd 0 reads the null device and fd 1 writes to stderr, so a stray print from any library cannot
corrupt the stream; both are restored on exit). Anything else (a terminal, a file, Windows)
runs the SDK's transport unchanged.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import anyio
import mcp_types as types
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.server import MCPServer
from mcp.shared.message import SessionMessage

log = logging.getLogger(__name__)

_LINE_LIMIT = 1 << 31  # the SDK reads lines of any length; so does this, in effect


def pipes_on_stdio() -> bool:
    """True when fd 0 and fd 1 are both pipes or sockets (and the platform has POSIX pipes)."""
    if sys.platform == "win32":
        return False
    for fd in (0, 1):
        try:
            mode = os.fstat(fd).st_mode
        except OSError:
            return False
        if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
            return False
    return True


async def serve_stdio(server: MCPServer) -> None:
    """`server.run_stdio_async()`, on the fast transport when stdio is pipes."""
    if not pipes_on_stdio():
        await server.run_stdio_async()
        return
    # the same three lines as MCPServer.run_stdio_async, on other streams (there is no public
    # way to hand MCPServer a pair of streams; mcp is pinned, and the stdio tests cover this)
    lowlevel = server._lowlevel_server
    async with stdio_streams() as (read_stream, write_stream):
        await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())


@contextmanager
def _claimed(fd: int) -> Iterator[int]:
    """A private duplicate of `fd` (the wire) while `fd` itself is diverted; restored on exit.

    The event loop makes the pipe non-blocking, a flag shared with every other holder of the
    same pipe (a wrapper shell, say), so the original flags come back too."""
    import fcntl

    private = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    flags = fcntl.fcntl(private, fcntl.F_GETFL)
    diversion = os.open(os.devnull, os.O_RDONLY) if fd == 0 else os.dup(2)
    try:
        os.dup2(diversion, fd)
    finally:
        os.close(diversion)
    try:
        yield private
    finally:
        try:
            fcntl.fcntl(private, fcntl.F_SETFL, flags)
        except OSError:
            pass
        os.dup2(private, fd)
        os.close(private)


@asynccontextmanager
async def stdio_streams() -> AsyncIterator[
    tuple[MemoryObjectReceiveStream[SessionMessage | Exception], MemoryObjectSendStream[SessionMessage]]
]:
    """The (read, write) message streams a lowlevel MCP server runs on, over fd 0 and fd 1."""
    loop = asyncio.get_running_loop()
    with _claimed(0) as wire_in, _claimed(1) as wire_out:
        reader = asyncio.StreamReader(limit=_LINE_LIMIT)
        # the transports own (and close) duplicates; _claimed keeps its own for the restore
        read_transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(os.dup(wire_in), "rb", buffering=0)
        )
        try:
            write_transport, protocol = await loop.connect_write_pipe(
                asyncio.streams.FlowControlMixin, os.fdopen(os.dup(wire_out), "wb", buffering=0)
            )
        except BaseException:
            read_transport.close()
            raise
        writer = asyncio.StreamWriter(write_transport, protocol, None, loop)
        incoming_send, incoming = anyio.create_memory_object_stream[SessionMessage | Exception](0)
        outgoing, outgoing_receive = anyio.create_memory_object_stream[SessionMessage](0)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(_read_lines, reader, incoming_send)
                tg.start_soon(_write_lines, writer, outgoing_receive)
                yield incoming, outgoing
        finally:
            read_transport.close()
            write_transport.close()


async def _read_lines(reader: asyncio.StreamReader, sink: MemoryObjectSendStream[SessionMessage | Exception]) -> None:
    """Each line from the client, parsed as the SDK parses it (bad lines go on as exceptions)."""
    async with sink:
        while line := await reader.readline():
            try:
                message = types.jsonrpc_message_adapter.validate_json(
                    line.decode("utf-8", errors="replace"), by_name=False
                )
            except Exception as exc:  # noqa: BLE001 - handed to the server, as the SDK's transport does
                await sink.send(exc)
                continue
            try:
                await sink.send(SessionMessage(message))
            except anyio.BrokenResourceError:
                return  # the server has stopped reading


async def _write_lines(writer: asyncio.StreamWriter, source: MemoryObjectReceiveStream[SessionMessage]) -> None:
    """Each message from the server as one line, serialised as the SDK serialises it."""
    async with source:
        async for message in source:
            data = message.message.model_dump_json(by_alias=True, exclude_unset=True)
            try:
                writer.write(data.encode() + b"\n")
                await writer.drain()
            except (BrokenPipeError, ConnectionResetError):
                log.debug("the client closed stdout; no more messages can be sent")
                return
