"""Bad input on the FastAGI socket: whatever a peer sends as environment or as command replies, the server
raises only its own AgiError family (handled per session), stays bounded, and serves the next call."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotline.fastagi import AgiSession, FastAgiServer
from hotline.fastagi.protocol import MAX_LINE, AgiError
from hotline.fastagi.server import read_env
from tests.fastagi.peer import env_for

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NASTY = st.sampled_from([b"\r", b"\n", b"\r\n", b"\x00", b"agi_", b"agi_request: ", b": ", b"\xff\xfe", b"\xc0\xaf",
                         b"200 result=", b"200 result=1 (", b"200 result=-1 endpos=", b"510 ", b"511 ", b"520-",
                         b"520 ", b"HANGUP\n", "张三".encode(), "张三".encode("gb18030"), b"x" * (MAX_LINE + 10)])
JUNK = st.lists(st.one_of(NASTY, st.binary(max_size=40)), max_size=30).map(b"".join)


def good_env(script: str = "fuzz") -> bytes:
    return "".join(f"{k}: {v}\n" for k, v in env_for(script).items()).encode() + b"\n"


@FUZZ
@given(junk=JUNK)
def test_environment_reader_raises_only_agi_errors(junk: bytes) -> None:
    async def go() -> None:
        reader = asyncio.StreamReader(limit=MAX_LINE)
        reader.feed_data(junk)
        reader.feed_eof()
        try:
            env = await read_env(reader, timeout=1.0)
        except AgiError:
            return
        assert all(k.startswith("agi_") for k in env)

    asyncio.run(go())


class Outcomes:
    def __init__(self) -> None:
        self.seen: list[str] = []

    async def flow(self, session: AgiSession) -> None:
        try:
            await session.answer()
            await session.get_variable("HOTLINE_X")
            await session.get_data("hotline/welcome", 3000, 1)
            await session.stream_file("hotline/bye", "#")
            await session.set_variable("HOTLINE_DONE", "1")
        except AgiError as exc:
            self.seen.append(type(exc).__name__)
            raise
        except Exception as exc:
            self.seen.append("BUG:" + repr(exc))
            raise
        self.seen.append("ok")


async def talk(port: int, env: bytes, replies: bytes, good: bool = False) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(env)
    if good:  # a well-behaved Asterisk: one `200 result=0` per command until the flow ends
        while line := await reader.readline():
            writer.write(b"200 result=0\n" if not line.startswith(b"GET VARIABLE") else b"200 result=1 (v)\n")
            await writer.drain()
    else:
        writer.write(replies)
        await writer.drain()
        writer.write_eof()
        await reader.read()  # until the server closes
    writer.close()


@FUZZ
@given(env_junk=JUNK, replies=JUNK, with_env=st.booleans())
def test_sessions_with_junk_replies_end_cleanly_and_the_next_call_is_served(env_junk: bytes, replies: bytes,
                                                                             with_env: bool) -> None:
    async def go() -> None:
        outcomes = Outcomes()
        async with FastAgiServer({"fuzz": outcomes.flow}, port=0, env_timeout=2.0, command_timeout=2.0) as server:
            await asyncio.wait_for(talk(server.port, good_env() if with_env else env_junk, replies), 10)
            await asyncio.wait_for(talk(server.port, good_env(), b"", good=True), 10)
            for _ in range(100):
                if outcomes.seen and outcomes.seen[-1] == "ok":
                    break
                await asyncio.sleep(0.01)
        assert not [s for s in outcomes.seen if s.startswith("BUG")], outcomes.seen
        assert outcomes.seen[-1] == "ok"
        assert server.stats.accepted == 2

    asyncio.run(go())
