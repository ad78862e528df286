"""Asterisk's side of FastAGI (res_agi) for one call: connect to `agi://host:port/script`, send the `agi_*`
environment (ended by a blank line), then read commands and answer them as Asterisk 22 does, with the AMI
events AGIExecStart / AGIExecEnd / VarSet / DTMFBegin / DTMFEnd. The citizen's planned digits feed GET DATA,
WAIT FOR DIGIT and the escape digits of STREAM FILE. When the citizen hangs up mid-IVR the peer gets `HANGUP`
and every later command `511`. If nothing listens, AGISTATUS=FAILURE and the dialplan goes on."""

from __future__ import annotations

import asyncio
import shlex
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pbxsim.channels import Channel

if TYPE_CHECKING:
    from pbxsim.calls import CitizenCall

DEAD = "511 Command Not Permitted on a dead channel or intercepted channel"
UNKNOWN = "510 Invalid or unknown command"
HANGUP_GRACE = 2.0          # wall seconds the IVR gets to close after HANGUP before we drop it
DTMF_SECONDS = 0.14         # key press length (DTMFBegin → DTMFEnd in the recordings)
DTMF_DURATION_MS = "280"


def _split(command: str) -> list[str]:
    try:
        return shlex.split(command)
    except ValueError:
        return command.split()


class AgiSession:
    def __init__(self, call: CitizenCall, url: str) -> None:
        self.call = call
        self.pbx = call.pbx
        self.url = url
        assert call.channel is not None
        self.channel: Channel = call.channel
        self.dead = asyncio.Event()
        self.writer: asyncio.StreamWriter | None = None
        self.steps = 0

    # --- life cycle ----------------------------------------------------------------------------------------
    async def run(self) -> None:
        status = "FAILURE"
        try:
            status = await self._run()
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            status = "HANGUP" if self.dead.is_set() else "FAILURE"
        finally:
            if self.writer is not None:
                self.writer.close()
        if self.dead.is_set():
            status = "HANGUP"
        self.call.after_agi(status)

    async def _run(self) -> str:
        parts = urlsplit(self.url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 4573
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port),
                                                    self.pbx.config.agi_connect_timeout)
        except (OSError, TimeoutError):
            return "FAILURE"
        self.writer = writer
        self.channel.on_hangup = self._hungup
        writer.write(self._environment().encode("utf-8"))
        await writer.drain()
        while True:
            line = await self._read_line(reader)
            if line is None:
                break
            command = line.strip()
            if not command:
                continue
            if self.dead.is_set():
                await self._reply(DEAD)
                continue
            self.steps += 1
            if self.call.citizen.hangup_at_step == self.steps:
                self.pbx.hangup(self.channel)
                await self._reply(DEAD)
                continue
            await self._execute(command)
        return "HANGUP" if self.dead.is_set() else "SUCCESS"

    async def _read_line(self, reader: asyncio.StreamReader) -> str | None:
        if self.dead.is_set():
            try:
                data = await asyncio.wait_for(reader.readline(), HANGUP_GRACE)
            except TimeoutError:
                return None
        else:
            data = await reader.readline()
        return data.decode("utf-8", errors="replace") if data else None

    def _environment(self) -> str:
        ch, parts = self.channel, urlsplit(self.url)
        env = [
            ("agi_network", "yes"), ("agi_network_script", parts.path.lstrip("/")), ("agi_request", self.url),
            ("agi_channel", ch.name), ("agi_language", "en"), ("agi_type", "PJSIP"), ("agi_uniqueid", ch.uniqueid),
            ("agi_version", "22.10.1"), ("agi_callerid", ch.caller_num), ("agi_calleridname", ch.caller_name),
            ("agi_callingpres", "0"), ("agi_callingani2", "0"), ("agi_callington", "0"), ("agi_callingtns", "0"),
            ("agi_dnid", ch.dnid or "unknown"), ("agi_rdnis", "unknown"), ("agi_context", ch.context),
            ("agi_extension", ch.exten), ("agi_priority", str(ch.priority)), ("agi_enhanced", "0.0"),
            ("agi_accountcode", ""), ("agi_threadid", str(140000000000000 + self.pbx.rng.getrandbits(32))),
        ]
        return "".join(f"{k}: {v}\n" for k, v in env) + "\n"

    def leave(self) -> None:
        """The channel left AGI() (AMI Redirect): the peer hears HANGUP, as from res_agi."""
        self.call.redirected = True
        if self.channel.on_hangup == self._hungup:
            self.channel.on_hangup = None
        self._hungup(self.channel, 16)

    def _hungup(self, channel: Channel, cause: int) -> None:
        """The citizen hung up while the IVR runs: res_agi tells a FastAGI peer with a `HANGUP` line."""
        self.dead.set()
        if self.writer is not None and not self.writer.is_closing():
            self.writer.write(b"HANGUP\n")

    async def _reply(self, text: str) -> None:
        assert self.writer is not None
        self.writer.write((text + "\n").encode("utf-8"))
        await self.writer.drain()

    # --- commands -------------------------------------------------------------------------------------------
    async def _execute(self, command: str) -> None:
        pbx, ch = self.pbx, self.channel
        command_id = str(pbx.rng.randint(1, 2_000_000_000))
        pbx.emit("AGIExecStart", ch.headers(), [("CommandId", command_id), ("Command", command)])
        reply = await self._run_command(command)
        if self.dead.is_set() and reply.startswith("200") and not command.upper().startswith("HANGUP"):
            reply = "200 result=-1"      # the channel hung up while the command ran
        if reply.startswith("200"):
            code, result = "200", "Success"
        else:
            code, _, result = reply.partition(" ")
        if not ch.hungup:
            pbx.emit("AGIExecEnd", ch.headers(), [("CommandId", command_id), ("Command", command),
                                                  ("ResultCode", code), ("Result", result)])
        await self._reply(reply)

    async def _run_command(self, command: str) -> str:
        words = _split(command)
        upper = [w.upper() for w in words]
        ch = self.channel
        if upper[:1] == ["ANSWER"] or upper[:1] == ["NOOP"]:
            return "200 result=0"
        if upper[:1] == ["VERBOSE"]:
            return "200 result=1"
        if upper[:2] == ["CHANNEL", "STATUS"]:
            return f"200 result={ch.state}"
        if upper[:2] == ["SET", "VARIABLE"] and len(words) >= 3:
            self.pbx.var_set(ch, words[2], words[3] if len(words) > 3 else "")
            return "200 result=1"
        if upper[:2] in (["GET", "VARIABLE"], ["GET", "FULL"]) and len(words) >= 3:
            name = words[-1]
            if name.startswith("${") and name.endswith("}"):
                name = name[2:-1]
            value = self._variable(name)
            return f"200 result=1 ({value})" if value is not None else "200 result=0"
        if upper[:2] == ["STREAM", "FILE"] and len(words) >= 3:
            escape = words[3] if len(words) > 3 else ""
            digit, played = await self._play(words[2], escape)
            self.pbx.var_set(ch, "PLAYBACKSTATUS", "SUCCESS")
            return f"200 result={ord(digit) if digit else 0} endpos={int(played * 8000)}"
        if upper[:2] == ["GET", "DATA"] and len(words) >= 3:
            return await self._get_data(words)
        if upper[:3] == ["WAIT", "FOR", "DIGIT"]:
            timeout_ms = int(words[3]) if len(words) > 3 and words[3].lstrip("-").isdigit() else -1
            digit = await self._press(None if timeout_ms < 0 else timeout_ms / 1000)
            return f"200 result={ord(digit) if digit else 0}"
        if upper[:1] == ["SAY"] and len(words) >= 3:
            escape = words[3] if len(words) > 3 else ""
            digit, _ = await self._play(words[2], escape, seconds=0.5 * len(words[2]))
            return f"200 result={ord(digit) if digit else 0}"
        if upper[:1] == ["HANGUP"]:
            self.pbx.hangup(ch, soft=True)
            return "200 result=1"
        if upper[:1] == ["EXEC"]:
            return "200 result=0"
        if upper[:2] in (["SET", "PRIORITY"], ["SET", "CONTEXT"], ["SET", "EXTENSION"], ["SET", "MUSIC"]):
            return "200 result=0"
        if upper[:1] == ["DATABASE"]:
            return "200 result=0"
        return UNKNOWN

    def _variable(self, name: str) -> str | None:
        ch = self.channel
        builtin = {"CALLERID(num)": ch.caller_num, "CALLERID(name)": ch.caller_name, "CHANNEL": ch.name,
                   "UNIQUEID": ch.uniqueid, "EXTEN": ch.exten, "CONTEXT": ch.context, "LANGUAGE()": "en",
                   "CALLERID(all)": f'"{ch.caller_name}" <{ch.caller_num}>'}
        if name in builtin:
            return builtin[name]
        return ch.variables.get(name)

    def _prompt_seconds(self, sound: str) -> float:
        cfg = self.pbx.config
        return cfg.prompt_seconds.get(sound, cfg.default_prompt_seconds)

    async def _sleep(self, seconds: float) -> bool:
        """Sleep simulated seconds; True if the channel hung up meanwhile."""
        try:
            await asyncio.wait_for(self.dead.wait(), self.pbx.clock.wall(seconds))  # type: ignore[attr-defined]
            return True
        except TimeoutError:
            return False

    async def _play(self, sound: str, escape: str, seconds: float | None = None) -> tuple[str | None, float]:
        """Play a prompt; a planned digit among `escape` interrupts it."""
        length = self._prompt_seconds(sound) if seconds is None else seconds
        dtmf = self.channel.dtmf
        delay = self.call.citizen.digit_delay
        if escape and dtmf.peek() is not None and dtmf.peek() in escape and delay < length:
            if await self._sleep(delay):
                return None, delay
            digit = await self._key(dtmf.next())
            return digit, delay
        await self._sleep(length)
        return None, length

    async def _key(self, digit: str | None) -> str | None:
        if digit is None or self.dead.is_set():
            return None
        pbx, ch = self.pbx, self.channel
        pbx.emit("DTMFBegin", ch.headers(), [("Digit", digit), ("Direction", "Received")])
        if await self._sleep(DTMF_SECONDS):
            return None
        pbx.emit("DTMFEnd", ch.headers(), [("Digit", digit), ("DurationMs", DTMF_DURATION_MS),
                                           ("Direction", "Received")])
        return digit

    async def _press(self, timeout: float | None) -> str | None:
        """Wait for the citizen's next key, at most `timeout` simulated seconds (None: forever)."""
        dtmf, delay = self.channel.dtmf, self.call.citizen.digit_delay
        if dtmf.peek() is None or (timeout is not None and delay > timeout):
            if timeout is None:
                await self.dead.wait()
            else:
                await self._sleep(timeout)
            return None
        if await self._sleep(delay):
            return None
        return await self._key(dtmf.next())

    async def _get_data(self, words: list[str]) -> str:
        timeout = int(words[3]) / 1000 if len(words) > 3 and words[3].isdigit() else 6.0
        maxdigits = int(words[4]) if len(words) > 4 and words[4].isdigit() else 1024
        digits = ""
        first, _ = await self._play(words[2], "0123456789*#", seconds=self._prompt_seconds(words[2])
                                    if words[2] != "beep" else 0.0)
        if first:
            digits += first
        while len(digits) < maxdigits and not self.dead.is_set():
            digit = await self._press(timeout)
            if digit is None:
                break
            if digit == "#":
                break
            digits += digit
        if self.dead.is_set():
            return "200 result=-1"
        if len(digits) < maxdigits and not digits:
            return "200 result= (timeout)"
        if len(digits) < maxdigits:
            return f"200 result={digits} (timeout)"
        return f"200 result={digits}"
