"""What every flow shares: the session, the services, the config, playing prompts by catalogue id, and
setting channel variables (the dialplan contract) with a log of what was set."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from hotline.fastagi import AgiSession
from ivr.config import IvrConfig
from ivr.prompts import sound
from ivr.services import IvrServices
from ivr.state import Machine

log = logging.getLogger("ivr")


class FlowContext:
    def __init__(self, session: AgiSession, services: IvrServices, config: IvrConfig) -> None:
        self.session = session
        self.services = services
        self.config = config
        self.variables: dict[str, str] = {}

    @property
    def call_id(self) -> str:
        return self.session.uniqueid

    def sound(self, prompt_id: str) -> str:
        return sound(prompt_id, self.config.sound_prefix)

    async def say(self, prompt_ids: Iterable[str], escape_digits: str = "") -> str | None:
        """Play prompts in order; the key that interrupted them, if any."""
        return await self.session.play([self.sound(p) for p in prompt_ids], escape_digits)

    async def set(self, name: str, value: object) -> None:
        text = str(value)
        await self.session.set_variable(name, text)
        self.variables[name] = text

    def log_path(self, machine: Machine, outcome: str) -> None:
        log.info("ivr %s call_id=%s caller=%s path=%s events=%s outcome=%s vars=%s", machine.name, self.call_id,
                 self.session.caller_number, machine.path_text(), ",".join(machine.events), outcome,
                 self.variables)


def key_event(digit: str | None, offered: dict[str, str]) -> str:
    """Map a pressed key to the event its offer names; nothing pressed is `silence`, anything else `wrong_key`."""
    if not digit:
        return "silence"
    return offered.get(digit, "wrong_key")
