"""Redis key names the IVR reads and writes. The ACD maintains the queue keys; the IVR only reads them
(except for callbacks, which the IVR creates and the ACD consumes). Documented in docs/areas/ivr.md."""

from __future__ import annotations

PREFIX = "hotline:"

NOTICE = PREFIX + "ivr:notice"                      # JSON Notice; TTL = until it expires


def queue_waiting(queue: str) -> str:
    """ZSET maintained by acd/: member = call_id (Uniqueid of the citizen's channel), score = queued_at epoch.
    A caller's position is its rank + 1."""
    return f"{PREFIX}acd:queue:{queue}:waiting"


def queue_stats(queue: str) -> str:
    """HASH maintained by acd/: `ewt` = expected wait of a new caller in seconds, `per_position` = seconds
    each caller ahead adds, `updated_at` = epoch of the last update."""
    return f"{PREFIX}acd:queue:{queue}:stats"


CALLBACK_OFFER = PREFIX + "acd:callback_offer"     # HASH queue → "1" while the ACD's guard asks for callback offers
CALLBACKS = PREFIX + "acd:callbacks"                # ZSET: member = callback id (call_id), score = queued_at
CALLBACK_NUMBERS = PREFIX + "acd:callbacks:by-number"  # HASH: caller number → open callback id (acd/ removes
                                                       # the field with the ZSET member once the call back is made)


def callback(callback_id: str) -> str:
    """HASH: the callback request (number, call_id, queue, position, queued_at, requested_at, status)."""
    return f"{PREFIX}acd:callback:{callback_id}"


def survey(call_id: str) -> str:
    """HASH: key (1 非常满意 .. 5 非常不满意, as pressed), score (stored scale, 5 = very satisfied), label,
    source (keyed|no_answer|hangup), order_no, recorded_at."""
    return f"{PREFIX}ivr:survey:{call_id}"


EMERGENCIES = PREFIX + "ivr:emergencies"            # LIST of JSON records (newest first, trimmed)
EMERGENCIES_KEEP = 10_000

IVR_STREAM = "ivr"                                  # bus stream: survey.recorded, callback.requested, emergency
