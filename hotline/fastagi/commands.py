"""The AGI commands Asterisk 22's res_agi knows, with the argument counts it accepts.

Used to check, without a live Asterisk, that what we send would be accepted: an unknown command gets
`510 Invalid or unknown command`, a wrong argument count `520-Invalid command syntax.  Proper usage follows:`.
The test peer and the PBX simulator answer with exactly that.
"""

from __future__ import annotations

# name → (min args, max args) after the command words; None = no upper bound
COMMANDS: dict[str, tuple[int, int | None]] = {
    "ANSWER": (0, 0), "ASYNCAGI BREAK": (0, 0), "CHANNEL STATUS": (0, 1),
    "CONTROL STREAM FILE": (2, 7), "DATABASE DEL": (2, 2), "DATABASE DELTREE": (1, 2),
    "DATABASE GET": (2, 2), "DATABASE PUT": (3, 3), "EXEC": (1, None), "GET DATA": (1, 3),
    "GET FULL VARIABLE": (1, 2), "GET OPTION": (2, 3), "GET VARIABLE": (1, 1), "GOSUB": (3, 4),
    "HANGUP": (0, 1), "NOOP": (0, None), "RECEIVE CHAR": (1, 1), "RECEIVE TEXT": (1, 1),
    "RECORD FILE": (4, 7), "SAY ALPHA": (2, 2), "SAY DIGITS": (2, 2), "SAY NUMBER": (2, 3),
    "SAY PHONETIC": (2, 2), "SAY DATE": (2, 2), "SAY TIME": (2, 2), "SAY DATETIME": (2, 4),
    "SEND IMAGE": (1, 1), "SEND TEXT": (1, 1), "SET AUTOHANGUP": (1, 1), "SET CALLERID": (1, 1),
    "SET CONTEXT": (1, 1), "SET EXTENSION": (1, 1), "SET MUSIC": (1, 2), "SET PRIORITY": (1, 1),
    "SET VARIABLE": (2, 2), "STREAM FILE": (2, 3), "TDD MODE": (1, 1), "VERBOSE": (1, 2),
    "WAIT FOR DIGIT": (1, 1),
}
# commands res_agi still runs once the channel is gone; the rest get 511
DEAD_CHANNEL_OK = {"ASYNCAGI BREAK", "CHANNEL STATUS", "DATABASE DEL", "DATABASE DELTREE", "DATABASE GET",
                   "DATABASE PUT", "EXEC", "GET FULL VARIABLE", "GET VARIABLE", "GOSUB", "HANGUP", "NOOP",
                   "SET VARIABLE", "VERBOSE"}
_BY_LENGTH = sorted(COMMANDS, key=lambda name: -len(name.split()))


def split_args(line: str) -> list[str]:
    """Asterisk's parse_args: words split on spaces and tabs, double quotes group, backslash escapes."""
    words: list[str] = []
    current: list[str] = []
    in_word = quoted = escaped = False
    for char in line:
        if escaped:
            current.append(char)
            escaped = False
            in_word = True
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
            in_word = True
        elif char in " \t" and not quoted:
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
        else:
            current.append(char)
            in_word = True
    if in_word:
        words.append("".join(current))
    return words


def match_command(line: str) -> tuple[str, list[str]] | None:
    """(command name, its arguments), or None for an unknown command."""
    words = split_args(line)
    upper = [w.upper() for w in words]
    for name in _BY_LENGTH:
        size = len(name.split())
        if upper[:size] == name.split():
            return name, words[size:]
    return None


def usage_error(name: str, args: list[str]) -> bool:
    low, high = COMMANDS[name]
    return len(args) < low or (high is not None and len(args) > high)
