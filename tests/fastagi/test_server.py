"""The FastAGI server over real sockets: environment, routing, replies, and every way a session ends."""

from __future__ import annotations

import asyncio

import pytest

from hotline.fastagi import AgiCommandError, AgiHangup, AgiSession, FastAgiServer
from hotline.fastagi.dialplan import agi_calls, missing_routes
from hotline.traces import load_agi_sessions, traces_dir
from tests.fastagi.peer import USAGE_520, FakeAsterisk, env_for


async def wait_idle(server: FastAgiServer) -> None:
    for _ in range(200):
        if not server.active:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("sessions still running")


class Recorder:
    """A route that runs a fixed list of commands and keeps what came back."""

    def __init__(self, steps: list[tuple[str, tuple]] | None = None) -> None:
        self.steps = steps or [("ANSWER", ()), ("SET VARIABLE", ("HOTLINE_X", "1")), ("VERBOSE", ("done", 1))]
        self.envs: list[dict[str, str]] = []
        self.replies: list = []
        self.error: BaseException | None = None

    async def __call__(self, session: AgiSession) -> None:
        self.envs.append(session.env)
        try:
            for verb, args in self.steps:
                self.replies.append(await session.command(verb, *args))
        except BaseException as exc:
            self.error = exc
            raise


async def test_env_is_read_and_routed_utf8() -> None:
    (recorded,) = load_agi_sessions("agi_utf8")
    route = Recorder()
    async with FastAgiServer({"ivr": route}, port=0) as server:
        transcript = await FakeAsterisk(recorded["env"]).run(server.port)
        await wait_idle(server)
    assert route.envs[0] == recorded["env"]
    assert route.envs[0]["agi_calleridname"] == "张三"
    assert transcript.commands == ["ANSWER", "SET VARIABLE HOTLINE_X 1", "VERBOSE done 1"]
    assert transcript.closed_by_server
    assert server.stats.completed == 1


async def test_unknown_path_is_logged_and_hung_up(caplog: pytest.LogCaptureFixture) -> None:
    async with FastAgiServer({"ivr": Recorder()}, port=0) as server:
        transcript = await FakeAsterisk(env_for("nosuch")).run(server.port)
        await wait_idle(server)
    assert transcript.verbs() == ["VERBOSE", "HANGUP"]
    assert server.stats.unknown_path == 1
    assert "unknown FastAGI script 'nosuch'" in caplog.text


@pytest.mark.parametrize("lines", [0, 5])
async def test_peer_leaves_before_the_blank_line(lines: int) -> None:
    route = Recorder()
    async with FastAgiServer({"ivr": route}, port=0) as server:
        await FakeAsterisk(env_for("ivr"), env_lines=lines).run(server.port)
        await wait_idle(server)  # panoramisk 1.4 would spin here forever
        assert server.stats.env_incomplete == 1
    assert route.envs == []


async def test_env_that_stalls_times_out() -> None:
    async with FastAgiServer({"ivr": Recorder()}, port=0, env_timeout=0.2) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"agi_network: yes\n")
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 5) == b""  # the server closed on us
        writer.close()
        await wait_idle(server)
    assert server.stats.env_incomplete == 1


async def test_overlong_line_is_refused() -> None:
    async with FastAgiServer({"ivr": Recorder()}, port=0) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"agi_network: " + b"x" * 100_000 + b"\n\n")
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
        await wait_idle(server)
    assert server.stats.env_incomplete == 1


async def test_garbage_instead_of_env() -> None:
    async with FastAgiServer({"ivr": Recorder()}, port=0) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
        await wait_idle(server)
    assert server.stats.env_incomplete == 1


@pytest.mark.parametrize("how", ["close", "line", "511"])
@pytest.mark.parametrize("at", [0, 1, 2])
async def test_hangup_at_every_command(how: str, at: int) -> None:
    route = Recorder([("ANSWER", ()), ("STREAM FILE", ("hotline/welcome", "239")), ("WAIT FOR DIGIT", (2000,))])
    async with FastAgiServer({"ivr": route}, port=0) as server:
        transcript = await FakeAsterisk(env_for("ivr"), hangup_at=at, hangup_how=how).run(server.port)
        await wait_idle(server)
    assert isinstance(route.error, AgiHangup)
    assert server.stats.hangups == 1 and server.stats.errors == 0
    assert len(transcript.commands) == at + 1  # nothing is sent after the hang-up is seen


async def test_511_only_for_live_channel_commands() -> None:
    """SET VARIABLE and VERBOSE still work on a dead channel; the 511 comes with the next STREAM FILE."""
    route = Recorder([("SET VARIABLE", ("A", "1")), ("STREAM FILE", ("x", "")), ("VERBOSE", ("never", 1))])
    async with FastAgiServer({"ivr": route}, port=0) as server:
        transcript = await FakeAsterisk(env_for("ivr"), hangup_at=0, hangup_how="511").run(server.port)
        await wait_idle(server)
    assert transcript.replies == ["200 result=1", "511 Command Not Permitted on a dead channel or intercepted channel"]
    assert isinstance(route.error, AgiHangup)


async def test_510_and_520_reach_the_handler() -> None:
    route = Recorder([("FROB", ()), ])
    async with FastAgiServer({"ivr": route}, port=0) as server:
        await FakeAsterisk(env_for("ivr")).run(server.port)
        await wait_idle(server)
    assert isinstance(route.error, AgiCommandError) and route.error.code == 510
    assert server.stats.errors == 1

    route = Recorder([("STREAM FILE", ("only-one-arg",)), ("VERBOSE", ("after", 1))])
    async with FastAgiServer({"ivr": route}, port=0) as server:
        transcript = await FakeAsterisk(env_for("ivr")).run(server.port)
        await wait_idle(server)
    assert isinstance(route.error, AgiCommandError) and route.error.code == 520
    assert "Proper usage follows" in route.error.message and "End of proper usage" in route.error.message
    assert transcript.replies == USAGE_520  # the whole block was consumed, nothing else sent


async def test_one_line_520_does_not_wait_for_more() -> None:
    """pyst2 reads a one-line 520 as the start of a block and blocks; we must not."""
    async def route(session: AgiSession) -> None:
        with pytest.raises(AgiCommandError) as info:
            await session.command("GET DATA")
        assert info.value.code == 520
        await session.verbose("still talking")

    async with FastAgiServer({"ivr": route}, port=0) as server:
        peer = FakeAsterisk(env_for("ivr"), replies={"GET DATA": "520 Invalid command syntax.  Proper usage not "
                                                                "available."})
        transcript = await peer.run(server.port)
        await wait_idle(server)
    assert transcript.verbs() == ["GET DATA", "VERBOSE"]
    assert server.stats.completed == 1


async def test_reply_timeout() -> None:
    async def route(session: AgiSession) -> None:
        await session.command("ANSWER")

    async with FastAgiServer({"ivr": route}, port=0, command_timeout=0.2) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(("".join(f"{k}: {v}\n" for k, v in env_for("ivr").items()) + "\n").encode())
        await writer.drain()
        assert await asyncio.wait_for(reader.readline(), 5) == b"ANSWER\n"
        assert await asyncio.wait_for(reader.read(), 5) == b""  # never answered: the server gave up
        writer.close()
        await wait_idle(server)
    assert server.stats.errors == 1


async def test_many_concurrent_sessions() -> None:
    route = Recorder()
    async with FastAgiServer({"ivr": route}, port=0) as server:
        peers = [FakeAsterisk(env_for("ivr", uniqueid=f"1.{i}")) for i in range(200)]
        transcripts = await asyncio.gather(*(p.run(server.port) for p in peers))
        await wait_idle(server)
    assert server.stats.completed == 200
    assert all(len(t.commands) == 3 for t in transcripts)
    assert sorted(e["agi_uniqueid"] for e in route.envs) == sorted(f"1.{i}" for i in range(200))


async def test_close_cancels_stuck_sessions(caplog: pytest.LogCaptureFixture) -> None:
    started = asyncio.Event()

    async def route(session: AgiSession) -> None:
        started.set()
        await asyncio.sleep(3600)

    server = await FastAgiServer({"ivr": route}, port=0).start()
    _reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(("".join(f"{k}: {v}\n" for k, v in env_for("ivr").items()) + "\n").encode())
    await started.wait()
    with caplog.at_level("ERROR", logger="asyncio"):
        await server.close(grace=0.1)
        await asyncio.sleep(0.05)  # CPython 3.11's start_server callback would log on the next iterations
    assert not server.active
    # quietly: no traceback for a session task that ended cancelled (a Ctrl-C of the demo, a deploy)
    assert [r for r in caplog.records if r.name == "asyncio"] == []
    writer.close()


def test_dialplan_routes_from_extensions_conf() -> None:
    conf = traces_dir() / "rig-config" / "extensions.conf"
    calls = agi_calls(conf)
    assert [(c.context, c.script) for c in calls] == [("from-carrier", "ivr")]
    assert missing_routes(conf, {"ivr": None}) == []
    assert [c.script for c in missing_routes(conf, {"survey": None})] == ["ivr"]
