"""The Call machine: one citizen call from the carrier trunk to its hang-up.

    (new) --started--> ivr --queued--> queued --ringing--> ringing --answered--> talking
    ringing --ring_noanswer--> queued (or ringing while another member still rings)
    ivr --ringing--> ringing                      (the dialplan's Dial() of the caller's last agent, before Queue())
    ringing --ring_noanswer--> ivr                (that Dial() unanswered: on to Queue())
    talking --transferred--> transferred          (BlindTransfer, or Dial to 110/119/120 after a Redirect)
    talking --conference_joined--> in_conference  (ConfbridgeJoin into room 3w-<call_id>)
    in_conference --conference_left--> in_conference
    any live state --ended--> ended               (Hangup of the citizen's channel)
"""

from __future__ import annotations

from typing import ClassVar

from bridge.machine import StateMachine


class CallState:
    NEW = "new"
    IVR = "ivr"
    QUEUED = "queued"
    RINGING = "ringing"
    TALKING = "talking"
    TRANSFERRED = "transferred"
    IN_CONFERENCE = "in_conference"
    ENDED = "ended"


S = CallState
LIVE = (S.IVR, S.QUEUED, S.RINGING, S.TALKING, S.TRANSFERRED, S.IN_CONFERENCE)

# transition (named after its cause) -> {from state: allowed targets, default first}
CALL_TRANSITIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "started": {S.NEW: (S.IVR,)},                                   # Newchannel on the carrier trunk
    "queued": {S.IVR: (S.QUEUED,), S.TRANSFERRED: (S.QUEUED,)},     # QueueCallerJoin
    "ringing": {S.QUEUED: (S.RINGING,), S.RINGING: (S.RINGING,),    # AgentCalled
                S.IVR: (S.RINGING,)},                                # DialBegin to the last agent
    "ring_noanswer": {S.RINGING: (S.QUEUED, S.RINGING, S.IVR)},     # AgentRingNoAnswer; DialEnd not ANSWER
    "answered": {S.QUEUED: (S.TALKING,), S.RINGING: (S.TALKING,)},  # AgentConnect; DialEnd ANSWER (last agent)
    "transferred": {S.TALKING: (S.TRANSFERRED,), S.IN_CONFERENCE: (S.TRANSFERRED,)},  # BlindTransfer / Dial
    "conference_joined": {S.TALKING: (S.IN_CONFERENCE,), S.IN_CONFERENCE: (S.IN_CONFERENCE,)},  # ConfbridgeJoin
    "conference_left": {S.IN_CONFERENCE: (S.IN_CONFERENCE, S.TALKING)},  # ConfbridgeLeave
    "ended": {s: (S.ENDED,) for s in LIVE},                        # Hangup of the citizen's channel
}


class CallMachine(StateMachine):
    TRANSITIONS: ClassVar[dict[str, dict[str, tuple[str, ...]]]] = CALL_TRANSITIONS
    INITIAL: ClassVar[str] = S.NEW
    FINAL: ClassVar[frozenset[str]] = frozenset({S.ENDED})
