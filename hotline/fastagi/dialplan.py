"""What the dialplan expects of us: the FastAGI scripts `extensions.conf` calls, read with pyst2's
`asterisk.config` (the Asterisk .conf parser), so that a route missing from the server is caught at start-up
instead of on a citizen's call."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from asterisk.config import Config

from hotline.fastagi.protocol import request_path

_AGI = re.compile(r"\bAGI\(\s*(?P<arg>[^,)\s]+)", re.IGNORECASE)
_VAR = re.compile(r"\$\{(?P<name>[A-Za-z0-9_]+)\}")


@dataclass(frozen=True, slots=True)
class AgiCall:
    context: str
    url: str
    script: str


def agi_calls(extensions_conf: Path | str) -> list[AgiCall]:
    """Every `AGI(agi://…)` in the dialplan, with `${NAME}` taken from [globals] (e.g. `${HOTLINE_AGI}/ivr`)."""
    categories = Config(str(extensions_conf)).categories
    globals_ = {item.name.strip(): item.value.strip() for c in categories if c.name == "globals" for item in c.items}
    calls = []
    for category in categories:
        for item in category.items:
            if item.name.strip() in ("exten", "same"):
                for match in _AGI.finditer(item.value):
                    url = _VAR.sub(lambda m: globals_.get(m["name"], m.group(0)), match["arg"])
                    if url.startswith("agi://"):
                        calls.append(AgiCall(category.name, url, request_path({"agi_request": url})))
    return calls


def missing_routes(extensions_conf: Path | str, routes: set[str] | dict) -> list[AgiCall]:
    """The dialplan's AGI calls that no route of ours answers."""
    return [call for call in agi_calls(extensions_conf) if call.script not in routes]
