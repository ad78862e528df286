"""Fixtures for the AMI tests: a scripted AMI server on a real loopback port and clients that talk to it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from hotline.ami.client import AmiClient, Resync
from hotline.ami.events import AmiEvent
from tests.ami.ami_script_server import ScriptServer


@pytest.fixture
async def server() -> AsyncIterator[ScriptServer]:
    async with ScriptServer() as srv:
        yield srv


class Recorder:
    """A listener that keeps everything it is given and lets a test wait for what it expects."""

    def __init__(self) -> None:
        self.items: list[AmiEvent | Resync] = []
        self.states: list[bool] = []
        self._changed = asyncio.Event()

    def __call__(self, item: AmiEvent | Resync) -> None:
        self.items.append(item)
        self._changed.set()

    def on_state(self, up: bool) -> None:
        self.states.append(up)
        self._changed.set()

    @property
    def resyncs(self) -> list[Resync]:
        return [i for i in self.items if isinstance(i, Resync)]

    def events(self, name: str | None = None) -> list[AmiEvent]:
        return [i for i in self.items if isinstance(i, AmiEvent) and (name is None or i.name == name)]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()


@pytest.fixture
async def make_client(server: ScriptServer) -> AsyncIterator[Callable[..., Awaitable[tuple[AmiClient, Recorder]]]]:
    clients: list[AmiClient] = []

    async def make(connect: bool = True, **options: Any) -> tuple[AmiClient, Recorder]:
        options.setdefault("action_timeout", 2.0)
        options.setdefault("secret", server.secret)
        client = AmiClient("127.0.0.1", server.port, server.username, **options)
        recorder = Recorder()
        client.add_listener(recorder)
        client.add_state_listener(recorder.on_state)
        clients.append(client)
        if connect:
            await client.connect()
        return client, recorder

    yield make
    for client in clients:
        await client.close()
