"""Asterisk's side of FastAGI over a real TCP socket, for the tests: sends an `agi_*` environment, then
answers each command the way res_agi (Asterisk 22) does: 510 for unknown commands, the 520 usage block for
wrong argument counts, 511 once the channel is dead, 200 replies otherwise. The caller's key presses are a
script consumed where Asterisk would read them; hang-ups can be placed before the end of the environment,
at command N (connection closed, `HANGUP` line, or 511 from then on)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from hotline.fastagi.commands import DEAD_CHANNEL_OK, match_command, usage_error

BASE_ENV = {
    "agi_network": "yes", "agi_network_script": "ivr", "agi_request": "agi://127.0.0.1:4573/ivr",
    "agi_channel": "PJSIP/carrier-00000000", "agi_language": "en", "agi_type": "PJSIP",
    "agi_uniqueid": "1795263412.0", "agi_version": "22.10.1", "agi_callerid": "13900001",
    "agi_calleridname": "Citizen", "agi_callingpres": "0", "agi_callingani2": "0", "agi_callington": "0",
    "agi_callingtns": "0", "agi_dnid": "12345", "agi_rdnis": "unknown", "agi_context": "from-carrier",
    "agi_extension": "12345", "agi_priority": "3", "agi_enhanced": "0.0", "agi_accountcode": "",
    "agi_threadid": "139873857164992",
}
USAGE_520 = ["520-Invalid command syntax.  Proper usage follows:", " Usage: see 'agi show commands'",
             "520 End of proper usage."]


def env_for(script: str, uniqueid: str = "1795263412.0", callerid: str = "13900001", **extra: str) -> dict[str, str]:
    env = dict(BASE_ENV)
    env.update(agi_network_script=script, agi_request=f"agi://127.0.0.1:4573/{script}", agi_uniqueid=uniqueid,
               agi_callerid=callerid)
    env.update(extra)
    return env


@dataclass
class Transcript:
    commands: list[str] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    rejected: list[str] = field(default_factory=list)   # commands Asterisk would have refused (510/520)
    played: list[str] = field(default_factory=list)     # sound files, in order
    closed_by_server: bool = False

    def verbs(self) -> list[str]:
        return [(match_command(c) or ("?", []))[0] for c in self.commands]


class FakeAsterisk:
    """`keys`: what the caller does at each point Asterisk reads input, in order. A one-digit string is a key
    (taken by a STREAM FILE only if it is an escape digit, else by the next WAIT FOR DIGIT / GET DATA);
    a longer string is what GET DATA collects; None is silence (a timeout)."""

    def __init__(self, env: dict[str, str], keys: Sequence[str | None] = (), *, hangup_at: int | None = None,
                 hangup_how: str = "close", env_lines: int | None = None, variables: dict[str, str] | None = None,
                 replies: dict[str, str] | None = None, missing_sounds: Sequence[str] = ()) -> None:
        self.env = env
        self.keys = list(keys)
        self.hangup_at = hangup_at          # 0-based index of the command at which the caller hangs up
        self.hangup_how = hangup_how        # close | line (HANGUP) | 511
        self.env_lines = env_lines          # send only this many env lines, then close
        self.channel_vars = dict(variables or {})
        self.fixed = dict(replies or {})    # verb → recorded reply (replay of the recordings)
        self.missing_sounds = set(missing_sounds)
        self.dead = False
        self.transcript = Transcript()

    async def run(self, port: int, host: str = "127.0.0.1", timeout: float = 10.0) -> Transcript:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            await asyncio.wait_for(self._talk(reader, writer), timeout)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
        return self.transcript

    async def _talk(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        lines = [f"{k}: {v}\n" for k, v in self.env.items()]
        if self.env_lines is not None:
            writer.write("".join(lines[: self.env_lines]).encode("utf-8"))
            await writer.drain()
            return
        writer.write(("".join(lines) + "\n").encode("utf-8"))
        await writer.drain()
        index = 0
        while True:
            raw = await reader.readline()
            if not raw:
                self.transcript.closed_by_server = True
                return
            command = raw.decode("utf-8").rstrip("\n")
            self.transcript.commands.append(command)
            if self.hangup_at is not None and index >= self.hangup_at and not self.dead:
                self.dead = True
                if self.hangup_how == "close":
                    return
                if self.hangup_how == "line":
                    writer.write(b"HANGUP\n")
            reply = self.reply(command)
            self.transcript.replies.extend(reply)
            writer.write(("\n".join(reply) + "\n").encode("utf-8"))
            await writer.drain()
            index += 1

    def _next_key(self, accept: str | None = None) -> tuple[bool, str | None]:
        """(consumed, key). With `accept` (a STREAM FILE's escape digits) only a matching single key is taken."""
        if not self.keys:
            return (accept is None), None
        key = self.keys[0]
        if accept is not None and (key is None or len(key) != 1 or key not in accept):
            return False, None
        self.keys.pop(0)
        return True, key

    def reply(self, command: str) -> list[str]:
        matched = match_command(command)
        if matched is None:
            self.transcript.rejected.append(command)
            return ["510 Invalid or unknown command"]
        verb, args = matched
        if usage_error(verb, args):
            self.transcript.rejected.append(command)
            return USAGE_520
        if self.dead and verb not in DEAD_CHANNEL_OK:
            return ["511 Command Not Permitted on a dead channel or intercepted channel"]
        if verb in self.fixed:
            if verb == "SET VARIABLE":
                self.transcript.variables[args[0]] = args[1]
            return [self.fixed[verb]]
        if verb == "ANSWER":
            return ["200 result=0"]
        if verb == "STREAM FILE":
            self.transcript.played.append(args[0])
            if args[0] in self.missing_sounds:
                return ["200 result=-1 endpos=0"]
            _, key = self._next_key(args[1])
            return [f"200 result={ord(key)} endpos=4000" if key else "200 result=0 endpos=11234"]
        if verb == "WAIT FOR DIGIT":
            _, key = self._next_key()
            return [f"200 result={ord(key[0])}" if key else "200 result=0"]
        if verb == "GET DATA":
            self.transcript.played.append(args[0])
            _, keyed = self._next_key()
            return ["200 result= (timeout)"] if keyed is None else [f"200 result={keyed}"]
        if verb == "SET VARIABLE":
            self.transcript.variables[args[0]] = args[1]
            self.channel_vars[args[0]] = args[1]
            return ["200 result=1"]
        if verb == "GET VARIABLE":
            value = self.channel_vars.get(args[0])
            return ["200 result=0"] if value is None else [f"200 result=1 ({value})"]
        if verb == "HANGUP":
            self.dead = True
            return ["200 result=1"]
        return ["200 result=1"]
