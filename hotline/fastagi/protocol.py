"""The FastAGI wire format: the `agi_*` environment, command encoding and reply parsing.

Replies follow res_agi (Asterisk 22): `200 result=N [(data)] [key=value ...]`, `510 Invalid or unknown
command`, `511 Command Not Permitted on a dead channel or intercepted channel`, and `520` usage errors that are
either one line (`520 Invalid command syntax.  Proper usage not available.`) or a block opened by `520-` and
closed by a line starting `520 `. pyst2's `asterisk.agi.get_result` uses the same rules, except that it reads a
one-line 520 as the start of a block (and then waits for a second 520 that never comes) and reads
`200 result= (timeout)` (GET DATA without digits) as the value `(timeout)`; both are handled here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

MAX_LINE = 8192          # bytes: a reply or env line longer than this is a protocol error, not a buffer
MAX_ENV_LINES = 256      # Asterisk sends ~25 plus agi_arg_N; more is not Asterisk talking
HANGUP_LINE = "HANGUP"   # sent by res_agi to a FastAGI peer when the channel hangs up

_RESULT = re.compile(r"^result=(?P<result>\S*)(?P<rest>.*)$")
_TRAILER = re.compile(r"(?P<key>\w+)=(?P<value>\S*)")


class AgiError(Exception):
    """Base of every FastAGI failure."""


class AgiHangup(AgiError):
    """The channel or the connection is gone: EOF, a `HANGUP` line, a 511 reply or a hang-up result."""


class AgiProtocolError(AgiError):
    """The peer sent something that is not FastAGI (over-long line, unknown status, bad env)."""


class AgiTimeout(AgiError):
    """The peer did not answer within the allowed time."""


class AgiCommandError(AgiError):
    """Asterisk refused a command: 510 (unknown command) or 520 (usage)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class AgiReply:
    code: int
    result: str = ""
    data: str | None = None                         # the text in parentheses, e.g. a variable's value
    extra: dict[str, str] = field(default_factory=dict)  # trailing key=value pairs, e.g. endpos
    raw: str = ""

    @property
    def result_int(self) -> int | None:
        try:
            return int(self.result)
        except ValueError:
            return None

    @property
    def endpos(self) -> int | None:
        value = self.extra.get("endpos")
        return int(value) if value is not None and value.lstrip("-").isdigit() else None


def parse_200(line: str) -> AgiReply:
    """Parse a `200 ...` line. The data in parentheses may itself contain spaces and parentheses: it runs
    to the last `)` that is followed only by `key=value` pairs."""
    body = line[4:] if len(line) > 3 else ""
    match = _RESULT.match(body)
    if not match:
        raise AgiProtocolError(f"200 reply without result=: {line!r}")
    result, rest = match["result"], match["rest"].strip()
    data: str | None = None
    if rest.startswith("("):
        close = _data_end(rest)
        if close < 0:
            raise AgiProtocolError(f"unbalanced data in reply: {line!r}")
        data, rest = rest[1:close], rest[close + 1:]
    extra = {m["key"]: m["value"] for m in _TRAILER.finditer(rest)}
    return AgiReply(200, result, data, extra, line)


def _data_end(rest: str) -> int:
    """Index of the `)` closing the data: the last one after which only `key=value` pairs follow."""
    index = len(rest)
    while True:
        index = rest.rfind(")", 0, index)
        if index < 0:
            return -1
        tail = rest[index + 1:].strip()
        if not tail or all(_TRAILER.fullmatch(token) for token in tail.split()):
            return index


def status_code(line: str) -> int | None:
    head = line[:3]
    return int(head) if head.isdigit() and (len(line) == 3 or line[3] in " -") else None


_PLAIN = re.compile(r"[^\s\"\\]+")
_VERB = re.compile(r"[A-Z]+(?: [A-Z]+)*")


def quote(value: object) -> str:
    """One AGI argument. Asterisk's parser splits on spaces and honours double quotes and backslash escapes;
    plain words go as they are (as in the recordings: `GET DATA beep 4000 1`). A line break would end the
    command and let the rest be read as a new command, so it is refused."""
    text = str(value)
    if "\n" in text or "\r" in text or "\0" in text:
        raise ValueError(f"AGI argument may not contain a line break: {text!r}")
    if _PLAIN.fullmatch(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def encode_command(verb: str, *args: object) -> bytes:
    """`verb` is the command name (`STREAM FILE`), `args` its arguments, quoted as needed."""
    if not _VERB.fullmatch(verb):
        raise ValueError(f"bad AGI command name: {verb!r}")
    return (" ".join([verb, *(quote(a) for a in args)]) + "\n").encode("utf-8")


def parse_env_line(line: str) -> tuple[str, str]:
    """`agi_key: value` → (key, value). The value may contain colons (agi_request URLs)."""
    key, sep, value = line.partition(":")
    key = key.strip()
    if not sep or not key.startswith("agi_"):
        raise AgiProtocolError(f"not an agi_* environment line: {line[:80]!r}")
    return key, value[1:] if value.startswith(" ") else value


def request_path(env: dict[str, str]) -> str:
    """The script part of `agi_request`: `agi://127.0.0.1:4573/ivr?x=1` → `ivr`. Asterisk also sends it
    as `agi_network_script`; the URL is the source of truth (it carries no query parsing surprises)."""
    url = env.get("agi_request", "")
    if url.startswith(("agi://", "hagi://")):
        return urlsplit(url).path.strip("/")
    return env.get("agi_network_script", "").split("?")[0].strip("/")


def agi_args(env: dict[str, str]) -> list[str]:
    """`agi_arg_1..N` in order (the dialplan's `AGI(agi://…/ivr,a,b)` arguments)."""
    args = []
    index = 1
    while f"agi_arg_{index}" in env:
        args.append(env[f"agi_arg_{index}"])
        index += 1
    return args
