"""The simulated citizen: who calls, what they press in the IVR, how long they wait and talk."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Citizen:
    caller: str = "13900001"
    name: str = "Citizen"
    digits: str = ""                 # DTMF pressed, one digit per digit-reading AGI command, in order
    digit_delay: float = 1.1         # seconds from the start of a digit-reading command to the key press
    patience: float | None = None    # seconds in the queue before hanging up (None: waits for the queue timeout)
    talk_time: float | None = 60.0   # seconds from the agent's answer until the citizen hangs up (None: never)
    hangup_after: float | None = None    # hang up this many seconds after the call starts, whatever happens
    hangup_at_step: int | None = None    # hang up when the IVR sends its N-th AGI command (1-based)
    ivr_vars: dict[str, str] = field(default_factory=dict)  # scripted IVR outcome when no FastAGI URL is set
    ivr_seconds: float = 2.6         # how long the scripted IVR takes (the recordings: ~2.6 s)


class DtmfSource:
    """The citizen's keypad: hands out the planned digits one at a time."""

    def __init__(self, digits: str) -> None:
        self._digits = list(digits)

    def next(self) -> str | None:
        return self._digits.pop(0) if self._digits else None

    def peek(self) -> str | None:
        return self._digits[0] if self._digits else None

    def empty(self) -> bool:
        return not self._digits
