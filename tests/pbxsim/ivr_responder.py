"""A FastAGI responder for the tests: for each connection it reads the `agi_*` environment up to the blank
line, then sends a scripted list of commands, recording Asterisk's (the simulator's) reply to each."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field


@dataclass
class AgiLog:
    env: dict[str, str] = field(default_factory=dict)
    exchange: list[tuple[str, str]] = field(default_factory=list)
    got_hangup: bool = False


class ScriptedIvr:
    def __init__(self, commands: list[str]) -> None:
        self.commands = commands
        self.sessions: list[AgiLog] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"agi://127.0.0.1:{self.port}/ivr"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        log = AgiLog()
        self.sessions.append(log)
        try:
            while True:
                line = (await reader.readline()).decode()
                if line in ("\n", ""):
                    break
                key, _, value = line.rstrip("\n").partition(": ")
                log.env[key] = value
            for command in self.commands:
                writer.write((command + "\n").encode())
                await writer.drain()
                reply = (await reader.readline()).decode().rstrip("\n")
                if reply == "HANGUP":
                    log.got_hangup = True
                    reply = (await reader.readline()).decode().rstrip("\n")
                log.exchange.append((command, reply))
        finally:
            writer.close()
