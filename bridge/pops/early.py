"""Pops that ride with their `calls` entry: the bridge's publisher XADDs the ringing (and answered) pop in the
same Redis script as the entry, instead of waiting for the pops role to read the entry back (one Redis hop
and one wake-up of another process less on the pop's path).

    pops role (read-ahead)      ──HSET──▶ pop-state:<call> {content: history and KB hits as JSON}
    bridge publisher ──EVALSHA──▶ HMGET pop-state:<call> owed content
                                  XADD calls {data, popped: "pop.ringing"}           ┐ one script:
                                  XADD agent:<id> {head .. content .. source_id}     ┘ both or neither
    pops role (group `pops`) reads the entry as before: writes the audit entry of the history read (the
    XACK follows its commit), keeps its per-call state, publishes what did not ride (answered_elsewhere,
    ring_noanswer, ended), and never the kinds the `popped` field names.

The bridge process holds no database, KB index or history: the content is whatever the pops role put in
the call's state hash (PopNotifier.offer_content). A pop rides only when that content is there, so the
publisher never waits for the database; otherwise the entry goes out alone and the pops role builds its pop.

Order per call: an entry whose pops (some or all) are left to the pops role sets the hash's `owed` to its
id, in the same script; the pops role sets `delivered` to each entry of the call whose pops are out
(PopNotifier.deliver, in the transaction that publishes them). A pop rides only when nothing is owed or
`delivered` has reached `owed`, so an agent's stream keeps each
call's pops in the order of their `calls` entries (a `ring_noanswer` hang-up is never overtaken by the same
call ringing that agent again), whichever process each pop came from.

Crash safety: the entry and its pop are written by one script, so either both exist or neither; the
`popped` field tells any consumer that reads the entry (again, after a crash, or another consumer claiming
it) that the pop is out, and the entry stays pending until its audit is committed.
"""

from __future__ import annotations

import logging
from typing import Any

from bridge.pops.services import make_pop
from hotline.bus import DEFAULT_MAXLEN, DirectScript, EventBus, agent_stream, encode

log = logging.getLogger(__name__)

POPPED = "popped"  # the `calls` entry's field naming the pop kinds published with it (space-separated)
EARLY_KINDS = {"call.ringing": "pop.ringing", "call.answered": "pop.answered"}
# events whose pops (some or all) the pops role publishes: a later pop of the same call waits for them
CONSUMER_KINDS = frozenset({"call.ringing", "call.answered", "call.ring_noanswer", "call.ended"})
STATE_TTL_MS = 2 * 3600 * 1000  # a call's state hash outlives any wait in the queue; call.ended deletes it
CONTENT, DELIVERED = "content", "delivered"  # fields of the state hash the pops role writes (and `owed`)

# What an entry leaves to the pops role, for the `owed` mark: nothing, its pops unless one rode, always.
LEAVES_NOTHING, LEAVES_UNLESS_RODE, LEAVES_ALWAYS = "0", "1", "2"


def state_key(call_id: str) -> str:
    """The bus key (before the prefix) of a call's pop state: its read-ahead content and what is owed."""
    return f"pop-state:{call_id}"


# KEYS[1] the `calls` stream, then the calls' state hashes and agent streams. ARGV: maxlen, state TTL (ms),
# number of events, then per event: its JSON, its state key's index (0: none), what it leaves (LEAVES_*),
# whether a pop may ride ("1"/"0") and if so: the agent stream's key index, the pop's JSON head and kind.
# The pop is head .. content .. source_id (the entry id just made). Returns {ids, 1/0 per entry: a pop rode}.
PUBLISH_SCRIPT = """
local function before(x, y)  -- stream id x < stream id y
  local xm, xs = string.match(x, '(%d+)-(%d+)')
  local ym, ys = string.match(y, '(%d+)-(%d+)')
  xm, ym = tonumber(xm), tonumber(ym)
  return xm < ym or (xm == ym and tonumber(xs) < tonumber(ys))
end
local maxlen, ttl = ARGV[1], ARGV[2]
local a = 4
local ids, rode = {}, {}
for i = 1, tonumber(ARGV[3]) do
  local data, state, leaves, rider = ARGV[a], tonumber(ARGV[a + 1]), ARGV[a + 2], ARGV[a + 3]
  a = a + 4
  local content = false
  if rider == '1' then
    local st = redis.call('HMGET', KEYS[state], 'owed', 'delivered', 'content')
    if not st[1] or (st[2] and not before(st[2], st[1])) then content = st[3] end
  end
  local id
  if content then
    id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', maxlen, '*', 'data', data, 'popped', ARGV[a + 2])
    redis.call('XADD', KEYS[tonumber(ARGV[a])], 'MAXLEN', '~', maxlen, '*', 'data',
               ARGV[a + 1] .. content .. ',"source_id":"' .. id .. '"}')
  else
    id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', maxlen, '*', 'data', data)
  end
  if rider == '1' then a = a + 3 end
  if leaves == '2' or (leaves == '1' and not content) then
    redis.call('HSET', KEYS[state], 'owed', id)
    redis.call('PEXPIRE', KEYS[state], ttl)
  end
  ids[i] = id
  rode[i] = content and 1 or 0
end
return {ids, rode}
"""


def rode_along(pop: dict[str, Any], event: dict[str, Any], popped: str) -> bool:
    """Whether `pop`, which the consumer made from `event`, was already published with the entry."""
    return pop["type"] in popped.split() and pop["agent_id"] == event.get("agent")


def pop_head(pop: dict[str, Any]) -> str:
    """The pop's JSON up to where its `history` and `kb_hits` (services.content_json) and then its
    `source_id` go: the script appends those."""
    return encode({k: v for k, v in pop.items() if k not in ("source_id", "history", "kb_hits")})[:-1] + ","


def leaves_for(kind: str | None, may_ride: bool) -> str:
    """What an entry of `kind` leaves to the pops role: a ringing entry only its own pop (if it did not ride);
    an answered one the hang-ups of the others that rang (ringall); a miss or the end, their hang-ups."""
    if kind not in CONSUMER_KINDS or kind == "call.ended":  # nothing comes after the end: no mark to leave
        return LEAVES_NOTHING
    return LEAVES_UNLESS_RODE if kind == "call.ringing" and may_ride else LEAVES_ALWAYS


class EarlyPops:
    """The bridge publisher's `publish` (BridgeService(publish=...)): `calls` entries with their pops."""

    def __init__(self, bus: EventBus, maxlen: int = DEFAULT_MAXLEN) -> None:
        self.bus = bus
        self.maxlen = maxlen
        # its own connection, straight to the socket: the publisher is the one caller, and the pop waits on it
        self._script = DirectScript(bus, PUBLISH_SCRIPT, name=f"{bus.prefix}bridge-publisher")
        self.rode = 0  # pops published with their entry
        self.left = 0  # ringing/answered pops left to the pops role (no content yet, or an earlier pop owed)

    async def aclose(self) -> None:
        await self._script.aclose()

    def rider(self, event: dict[str, Any]) -> tuple[str, str, str] | None:
        """The pop that may go out with `event` if its content is ready: (agent stream, JSON head, kind)."""
        pop_kind = EARLY_KINDS.get(event.get("type"))  # type: ignore[arg-type]
        agent, call, call_id = event.get("agent"), event.get("call"), event.get("call_id")
        if pop_kind is None or not agent or not call or not call_id:
            return None
        call = dict(call)
        call.setdefault("call_id", call_id)
        pop = make_pop(pop_kind, call, agent, event.get("ts") or 0.0, None, [])
        return agent_stream(agent), pop_head(pop), pop_kind

    async def publish(self, stream: str, events: list[dict[str, Any]]) -> list[str]:
        """XADD `events` to `stream` in order, each with the pop that can ride with it, in one script."""
        keys = [self.bus.key(stream)]
        key_index: dict[str, int] = {}

        def index(name: str) -> int:
            key = self.bus.key(name)
            if key not in key_index:
                keys.append(key)
                key_index[key] = len(keys)
            return key_index[key]

        args: list[Any] = [self.maxlen, STATE_TTL_MS, len(events)]
        candidates = 0
        for event in events:
            call_id = event.get("call_id")
            rider = self.rider(event)
            leaves = leaves_for(event.get("type"), rider is not None) if call_id else LEAVES_NOTHING
            args += [encode(event), index(state_key(call_id)) if call_id else 0, leaves, "1" if rider else "0"]
            if rider is not None:
                agent_key, head, kind = rider
                args += [index(agent_key), head, kind]
                candidates += 1
        ids, rode = await self._script(keys, args)
        rode_now = sum(int(r) for r in rode)
        self.rode += rode_now
        self.left += candidates - rode_now
        return [i.decode() if isinstance(i, bytes) else str(i) for i in ids]
