"""The asyncio FastAGI server: reads the `agi_*` environment, routes by request path, runs the handler.

Every way a session can end is bounded: the environment must arrive within `env_timeout` (a peer that
disconnects before the blank line ends the session at once; panoramisk 1.4 spins at 100% CPU there because it
keeps reading an exhausted stream), lines are at most MAX_LINE bytes, each command has a reply timeout, and a
hang-up (EOF, `HANGUP`, 511) ends the handler through AgiHangup.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from hotline.fastagi.protocol import (
    MAX_ENV_LINES,
    MAX_LINE,
    AgiError,
    AgiHangup,
    AgiProtocolError,
    parse_env_line,
    request_path,
)
from hotline.fastagi.session import DEFAULT_COMMAND_TIMEOUT, AgiSession

log = logging.getLogger(__name__)

Handler = Callable[[AgiSession], Awaitable[None]]


@dataclass(slots=True)
class ServerStats:
    accepted: int = 0
    completed: int = 0        # handler returned normally
    hangups: int = 0          # ended by the caller hanging up
    env_incomplete: int = 0   # peer left (or stalled) before the blank line
    unknown_path: int = 0
    errors: int = 0           # protocol errors, refused commands, timeouts, handler bugs


async def read_env(reader: asyncio.StreamReader, timeout: float) -> dict[str, str]:
    """The `agi_*` headers up to the blank line. AgiHangup on EOF before it, AgiProtocolError on junk."""
    async def _read() -> dict[str, str]:
        env: dict[str, str] = {}
        for _ in range(MAX_ENV_LINES):
            try:
                raw = await reader.readline()
            except (asyncio.LimitOverrunError, ValueError) as exc:
                raise AgiProtocolError("environment line too long") from exc
            except (ConnectionError, OSError) as exc:
                raise AgiHangup(f"connection lost in the environment: {exc}") from exc
            if not raw:
                raise AgiHangup(f"peer closed after {len(env)} environment lines, before the blank line")
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if not line:
                return env
            key, value = parse_env_line(line)
            env[key] = value
        raise AgiProtocolError(f"more than {MAX_ENV_LINES} environment lines")

    try:
        return await asyncio.wait_for(_read(), timeout)
    except TimeoutError as exc:
        raise AgiHangup(f"environment not complete within {timeout:.0f} s") from exc


class FastAgiServer:
    def __init__(self, routes: Mapping[str, Handler], host: str = "127.0.0.1", port: int = 4573, *,
                 env_timeout: float = 10.0, command_timeout: float = DEFAULT_COMMAND_TIMEOUT,
                 backlog: int = 2048) -> None:
        self.routes = dict(routes)
        self.host = host
        self.port = port
        self.env_timeout = env_timeout
        self.command_timeout = command_timeout
        self.backlog = backlog
        self.stats = ServerStats()
        self.active: set[asyncio.Task[None]] = set()
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> FastAgiServer:
        self._server = await asyncio.start_server(self._on_connect, self.host, self.port, limit=MAX_LINE,
                                                  backlog=self.backlog)
        self.port = self._server.sockets[0].getsockname()[1]  # port 0 → the one the OS chose
        log.info("FastAGI listening on %s:%s, routes: %s", self.host, self.port, ", ".join(sorted(self.routes)))
        return self

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    async def close(self, grace: float = 5.0) -> None:
        """Stop accepting, give running sessions `grace` seconds, then cancel them."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if self.active:
            _, pending = await asyncio.wait(set(self.active), timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def __aenter__(self) -> FastAgiServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.active.add(task)
        self.stats.accepted += 1
        try:
            await self._run(reader, writer)
        except asyncio.CancelledError:
            # the server is closing: end quietly. A connection task that ends cancelled makes CPython 3.11's
            # start_server callback log a traceback (it asks the cancelled task for its exception).
            pass
        finally:
            self.active.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), 5.0)  # a peer that never reads must not pin us

    async def _run(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        try:
            env = await read_env(reader, self.env_timeout)
        except AgiError as exc:
            self.stats.env_incomplete += 1
            log.info("FastAGI peer %s: no session: %s", peer, exc)
            return
        session = AgiSession(reader, writer, env, command_timeout=self.command_timeout)
        path = request_path(env)
        handler = self.routes.get(path)
        if handler is None:
            self.stats.unknown_path += 1
            session.log.error("unknown FastAGI script %r (request %r) from %s: hanging up", path,
                              env.get("agi_request"), peer)
            with contextlib.suppress(AgiError):
                await session.verbose(f"hotline: unknown FastAGI script {path}", 1)
                await session.hangup()
            return
        try:
            await handler(session)
            self.stats.completed += 1
        except AgiHangup as exc:
            self.stats.hangups += 1
            session.log.info("%s ended by hang-up after %d commands: %s", path, session.commands_sent, exc)
        except AgiError as exc:
            self.stats.errors += 1
            session.log.error("%s failed: %s", path, exc)
        except Exception:  # a bug in one flow must not take the server down
            self.stats.errors += 1
            session.log.exception("%s crashed", path)
