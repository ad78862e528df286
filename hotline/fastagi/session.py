"""One FastAGI conversation: send a command, read its reply, notice the hang-up whichever way it comes."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from hotline.fastagi.protocol import (
    HANGUP_LINE,
    AgiCommandError,
    AgiHangup,
    AgiProtocolError,
    AgiReply,
    AgiTimeout,
    agi_args,
    encode_command,
    parse_200,
    request_path,
    status_code,
)

log = logging.getLogger(__name__)

DEFAULT_COMMAND_TIMEOUT = 300.0  # seconds beyond a command's digit timeout: a long notice plays a minute or more


@dataclass(frozen=True, slots=True)
class Digits:
    """What GET DATA collected: `digits` may be partial when `timed_out`."""
    digits: str
    timed_out: bool


class AgiSession:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, env: dict[str, str],
                 *, command_timeout: float = DEFAULT_COMMAND_TIMEOUT) -> None:
        self.reader = reader
        self.writer = writer
        self.env = env
        self.command_timeout = command_timeout
        self.hung_up = False
        self.commands_sent = 0
        self.log = logging.LoggerAdapter(log, {"uniqueid": self.uniqueid})

    # -- the environment -------------------------------------------------------------------------------
    @property
    def path(self) -> str:
        return request_path(self.env)

    @property
    def args(self) -> list[str]:
        return agi_args(self.env)

    @property
    def uniqueid(self) -> str:
        return self.env.get("agi_uniqueid", "")

    @property
    def channel(self) -> str:
        return self.env.get("agi_channel", "")

    @property
    def caller_number(self) -> str:
        number = self.env.get("agi_callerid", "")
        return "" if number == "unknown" else number

    @property
    def caller_name(self) -> str:
        name = self.env.get("agi_calleridname", "")
        return "" if name == "unknown" else name

    # -- the wire --------------------------------------------------------------------------------------
    async def command(self, verb: str, *args: object, timeout: float | None = None) -> AgiReply:
        """Send one command and return its 200 reply. Raises AgiHangup (EOF, HANGUP, 511), AgiCommandError
        (510/520), AgiTimeout or AgiProtocolError."""
        if self.hung_up:
            raise AgiHangup("channel already hung up")
        payload = encode_command(verb, *args)
        try:
            self.writer.write(payload)
            await self.writer.drain()
        except (ConnectionError, OSError) as exc:
            self.hung_up = True
            raise AgiHangup(f"connection lost sending {verb}: {exc}") from exc
        self.commands_sent += 1
        limit = self.command_timeout + (timeout or 0.0)
        try:
            return await asyncio.wait_for(self._read_reply(verb), limit)
        except TimeoutError as exc:
            raise AgiTimeout(f"no reply to {verb} within {limit:.0f} s") from exc

    async def _readline(self) -> str:
        try:
            raw = await self.reader.readline()
        except (asyncio.LimitOverrunError, ValueError) as exc:  # StreamReader's line limit
            raise AgiProtocolError("reply line too long") from exc
        except (ConnectionError, OSError) as exc:
            self.hung_up = True
            raise AgiHangup(f"connection lost: {exc}") from exc
        if not raw:
            self.hung_up = True
            raise AgiHangup("peer closed the connection")
        return raw.decode("utf-8", errors="replace").rstrip("\r\n")

    async def _read_reply(self, verb: str) -> AgiReply:
        line = await self._readline()
        if line == HANGUP_LINE:
            self.hung_up = True
            raise AgiHangup(f"HANGUP received while waiting for {verb}")
        code = status_code(line)
        if code == 200:
            return parse_200(line)
        if code == 511:
            self.hung_up = True
            raise AgiHangup(f"{verb}: {line}")
        if code == 510:
            raise AgiCommandError(510, line[4:])
        if code == 520:
            usage = [line[4:]]
            if line.startswith("520-"):  # a usage block runs to the line that starts "520 "
                while True:
                    more = await self._readline()
                    usage.append(more[4:] if more.startswith("520") else more)
                    if more.startswith("520 ") or more == "520":
                        break
                    if len(usage) > 200:
                        raise AgiProtocolError("endless 520 usage block")
            raise AgiCommandError(520, "\n".join(usage))
        raise AgiProtocolError(f"unexpected reply to {verb}: {line[:120]!r}")

    # -- the commands the flows use -------------------------------------------------------------------
    async def answer(self) -> None:
        reply = await self.command("ANSWER")
        if reply.result == "-1":
            self.hung_up = True
            raise AgiHangup("ANSWER failed")

    async def stream_file(self, name: str, escape_digits: str = "") -> str | None:
        """Play one sound file; the digit that interrupted it, if any. A missing file (result -1) is logged
        and skipped so that an absent recording never cuts the caller off."""
        reply = await self.command("STREAM FILE", name, escape_digits)
        code = reply.result_int
        if code is None or code < 0:
            self.log.warning("STREAM FILE %s failed (%s): missing sound file?", name, reply.raw)
            return None
        return chr(code) if code > 0 else None

    async def play(self, names: list[str], escape_digits: str = "") -> str | None:
        """Play files in turn; stop at the first digit."""
        for name in names:
            digit = await self.stream_file(name, escape_digits)
            if digit:
                return digit
        return None

    async def get_data(self, name: str, timeout_ms: int, max_digits: int) -> Digits:
        reply = await self.command("GET DATA", name, timeout_ms, max_digits, timeout=timeout_ms / 1000 * max_digits)
        if reply.result == "-1":
            self.hung_up = True
            raise AgiHangup("GET DATA returned -1")
        return Digits(reply.result, reply.data == "timeout")

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        reply = await self.command("WAIT FOR DIGIT", timeout_ms, timeout=timeout_ms / 1000)
        code = reply.result_int
        if code is None or code < 0:
            self.hung_up = True
            raise AgiHangup("WAIT FOR DIGIT returned -1")
        return chr(code) if code > 0 else None

    async def set_variable(self, name: str, value: object) -> None:
        await self.command("SET VARIABLE", name, str(value))

    async def get_variable(self, name: str) -> str | None:
        reply = await self.command("GET VARIABLE", name)
        return reply.data if reply.result == "1" else None

    async def verbose(self, message: str, level: int = 1) -> None:
        await self.command("VERBOSE", message, level)

    async def hangup(self) -> None:
        await self.command("HANGUP")
        self.hung_up = True
