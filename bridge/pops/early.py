"""Pops that ride with their `calls` entry: the bridge's publisher builds the ringing (and answered) pop from
the tracker's event and XADDs it in the same Redis call as the entry, instead of waiting for the consumer
group to read the entry back (one Redis hop and one wake-up of the consumer less on the pop's path).

    publisher batch ──EVALSHA──▶ XADD calls {data, popped: "pop.ringing"}  ┐ one script: both or neither
                                 XADD agent:<id> {pop, source_id: that id}  ┘
    PopConsumer (group `pops`) reads the entry as before: writes the audit entry of the history read (the
    XACK follows its commit), keeps its per-call state, publishes what did not ride (answered_elsewhere,
    ring_noanswer, ended), and never the kinds the `popped` field names.

A pop rides only when the consumer's read-ahead is ready (`PopBuilder.cached`): otherwise the entry goes
out alone and the consumer builds its pop as before, so the publisher never waits for the database. It also
rides only when every earlier entry of the same call whose pops the consumer publishes has been delivered:
an agent's stream keeps each call's pops in the order of their `calls` entries (a `ring_noanswer` hang-up is
never overtaken by the same call ringing that agent again).

Crash safety: the entry and its pop are written by one script, so either both exist or neither; the
`popped` field tells any consumer that reads the entry (again, after a crash, or another consumer claiming
it) that the pop is out, and the entry stays pending until its audit is committed.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bridge.pops.services import make_pop
from hotline.bus import DEFAULT_MAXLEN, DirectScript, EventBus, agent_stream, encode, entry_key

if TYPE_CHECKING:
    from bridge.pops.bus_consumer import PopConsumer

log = logging.getLogger(__name__)

POPPED = "popped"  # the `calls` entry's field naming the pop kinds published with it (space-separated)
EARLY_KINDS = {"call.ringing": "pop.ringing", "call.answered": "pop.answered"}
# events whose pops (some or all) the consumer publishes: a later pop of the same call waits for them
CONSUMER_KINDS = frozenset({"call.ringing", "call.answered", "call.ring_noanswer", "call.ended"})
MAX_CALLS = 10_000  # calls remembered for the ordering rule (a lost call.ended must not grow it for ever)

# KEYS[1] the `calls` stream, KEYS[2..] agent streams; ARGV: maxlen, number of events, then per event its
# JSON, its number of pops, and (if any) the `popped` field and per pop: key index, JSON head, JSON tail
# (the pop's text is head .. entry id .. tail: its `source_id` is the id the entry just got).
PUBLISH_SCRIPT = """
local maxlen = ARGV[1]
local a = 3
local ids = {}
for i = 1, tonumber(ARGV[2]) do
  local data, riders = ARGV[a], tonumber(ARGV[a + 1])
  a = a + 2
  local id
  if riders == 0 then
    id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', maxlen, '*', 'data', data)
  else
    id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', maxlen, '*', 'data', data, 'popped', ARGV[a])
    a = a + 1
    for _ = 1, riders do
      redis.call('XADD', KEYS[tonumber(ARGV[a])], 'MAXLEN', '~', maxlen, '*', 'data', ARGV[a + 1] .. id .. ARGV[a + 2])
      a = a + 3
    end
  end
  ids[i] = id
end
return ids
"""


def rode_along(pop: dict[str, Any], event: dict[str, Any], popped: str) -> bool:
    """Whether `pop`, which the consumer made from `event`, was already published with the entry."""
    return pop["type"] in popped.split() and pop["agent_id"] == event.get("agent")


def split_at_source(pop: dict[str, Any], content: str | None = None) -> tuple[str, str]:
    """The pop's JSON around its `source_id` (the entry id the script puts in between); `content`: its
    `history` and `kb_hits` already as JSON (services.content_json), only the rest is encoded."""
    skip = ("source_id", "history", "kb_hits") if content is not None else ("source_id",)
    text = encode({k: v for k, v in pop.items() if k not in skip})
    return text[:-1] + ("," + content if content is not None else "") + ',"source_id":"', '"}'


class EarlyPops:
    """The bridge publisher's `publish` (BridgeService(publish=...)): `calls` entries with their pops."""

    def __init__(self, consumer: PopConsumer, maxlen: int = DEFAULT_MAXLEN) -> None:
        self.consumer = consumer
        self.bus: EventBus = consumer.bus
        self.maxlen = maxlen
        # its own connection, straight to the socket: the publisher is the one caller, and the pop waits on it
        self._script = DirectScript(self.bus, PUBLISH_SCRIPT, name=f"{self.bus.prefix}bridge-publisher")
        self._consumer_owes: dict[str, tuple[int, int]] = {}  # call id → its last entry with pops left to the consumer
        self.rode = 0  # pops published with their entry
        self.left = 0  # ringing/answered pops left to the consumer (read-ahead not ready, or an earlier pop owed)

    async def aclose(self) -> None:
        await self._script.aclose()

    def riders(self, event: dict[str, Any]) -> list[tuple[dict[str, Any], str, str]]:
        """The pops that can go out with `event` now, each with its JSON before and after its `source_id`
        (which the script fills in), or [] when the event has none to give or they are left to the consumer."""
        pop_kind = EARLY_KINDS.get(event.get("type"))  # type: ignore[arg-type]
        agent, call, call_id = event.get("agent"), event.get("call"), event.get("call_id")
        if pop_kind is None or not agent or not call or not call_id:
            return []
        builder = self.consumer.builder
        content = builder.cached(call_id)  # the read-ahead, when it is ready
        owed = self._consumer_owes.get(call_id)
        if content is None or (owed is not None and self.consumer.delivered < owed):
            return []
        call = dict(call)
        call.setdefault("call_id", call_id)
        pop = make_pop(pop_kind, call, agent, event.get("ts") or 0.0, *content)
        return [(pop, *split_at_source(pop, builder.encoded(call_id, content)))]

    async def publish(self, stream: str, events: list[dict[str, Any]]) -> list[str]:
        """XADD `events` to `stream` in order, each with the pops that can ride with it, in one script."""
        keys = [self.bus.key(stream)]
        key_index: dict[str, int] = {}
        args: list[Any] = [self.maxlen, len(events)]
        waiting: set[str] = set()  # calls with an earlier entry in this batch whose pops the consumer publishes
        owes: list[bool] = []
        rode = left = 0
        for event in events:
            kind, call_id = event.get("type"), event.get("call_id")
            pops = [] if call_id in waiting else self.riders(event)
            args += [encode(event), len(pops)]
            if pops:
                args.append(" ".join(pop["type"] for pop, _head, _tail in pops))
                for pop, head, tail in pops:
                    key = self.bus.key(agent_stream(pop["agent_id"]))
                    if key not in key_index:
                        keys.append(key)
                        key_index[key] = len(keys)
                    args += [key_index[key], head, tail]
            elif kind in EARLY_KINDS and event.get("agent"):
                left += 1
            rode += len(pops)
            # answered: the others that rang (ringall) get their hang-up from the consumer
            leaves = bool(call_id) and kind in CONSUMER_KINDS and not (pops and kind == "call.ringing")
            owes.append(leaves)
            if leaves:
                waiting.add(call_id)  # type: ignore[arg-type]
        ids = [i.decode() if isinstance(i, bytes) else str(i) for i in await self._script(keys, args)]
        self.rode += rode
        self.left += left
        for leaves, entry_id, event in zip(owes, ids, events, strict=True):
            if event.get("type") == "call.ended":
                self._consumer_owes.pop(event.get("call_id"), None)  # type: ignore[arg-type]  # nothing comes after
            elif leaves:
                self._consumer_owes[event["call_id"]] = entry_key(entry_id)
        while len(self._consumer_owes) > MAX_CALLS:
            self._consumer_owes.pop(next(iter(self._consumer_owes)))
        return ids
