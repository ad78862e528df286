"""What the platform needs from AMI, and what Asterisk 22 demands for it.

ACTION_PRIVILEGES is read off Asterisk 22's source (`ast_manager_register_xml*` calls in main/manager.c,
apps/app_queue.c, apps/app_confbridge.c, apps/app_senddtmf.c, apps/app_mixmonitor.c). Manager grants an
action when the user's write classes share ANY class with the action's (manager.c: `writeperm &
authority`), or when the action needs none.
"""

from __future__ import annotations

NONE: frozenset[str] = frozenset()

ACTION_PRIVILEGES: dict[str, frozenset[str]] = {
    "Login": NONE, "Logoff": NONE, "Ping": NONE, "Events": NONE, "Challenge": NONE,
    "QueueStatus": NONE, "QueueSummary": NONE, "QueueReload": NONE,
    "QueueAdd": frozenset({"agent"}), "QueueRemove": frozenset({"agent"}), "QueuePause": frozenset({"agent"}),
    "QueuePenalty": frozenset({"agent"}), "QueueMemberRingInUse": frozenset({"agent"}),
    "Hangup": frozenset({"system", "call"}),
    "Status": frozenset({"system", "call", "reporting"}),
    "Setvar": frozenset({"call"}), "Getvar": frozenset({"call", "reporting"}),
    "Redirect": frozenset({"call"}), "Atxfer": frozenset({"call"}), "BlindTransfer": frozenset({"call"}),
    "Originate": frozenset({"originate"}),
    "UserEvent": frozenset({"user"}),
    "CoreStatus": frozenset({"system", "reporting"}), "CoreShowChannels": frozenset({"system", "reporting"}),
    "Filter": frozenset({"system"}),
    "ConfbridgeList": frozenset({"reporting"}), "ConfbridgeListRooms": frozenset({"reporting"}),
    "ConfbridgeKick": frozenset({"call"}),
    "PlayDTMF": frozenset({"call"}),
    "MixMonitor": frozenset({"system"}),
}

# The classes the platform's manager user gets: the least that covers every action it sends.
WRITE_CLASSES = ("call", "agent", "originate", "reporting")
# Event classes it reads: call (channels, bridges, dials, ConfBridge), agent (app_queue),
# dialplan (VarSet of HOTLINE_* variables, Newexten), agi (the IVR's AGIExec events).
READ_CLASSES = ("call", "agent", "dialplan", "agi")

# Events those classes carry that the platform never reads: dropped in Asterisk before they cross the wire.
EXCLUDED_EVENTS = ("RTCPSent", "RTCPReceived", "NewConnectedLine", "NewAccountCode", "MusicOnHoldStart",
                   "MusicOnHoldStop", "DeviceStateChange", "ChannelTalkingStart", "ChannelTalkingStop",
                   "LocalBridge", "LocalOptimizationBegin", "LocalOptimizationEnd")
# Channel variables set by Asterisk itself that the platform does not use.
EXCLUDED_VARSETS = ("RTPAUDIOQOS", "BRIDGEPVTCALLID", "SIPDOMAIN", "DIALEDPEERNUMBER", "PLAYBACKSTATUS",
                    "DIALEDTIME", "ANSWEREDTIME", "MIXMONITOR_FILENAME")


def permitted(action: str, write_classes: tuple[str, ...] | frozenset[str] = WRITE_CLASSES) -> bool:
    needed = ACTION_PRIVILEGES.get(action)
    if needed is None:
        raise KeyError(f"unknown AMI action {action!r}: add its privilege from Asterisk's source")
    return not needed or bool(needed & set(write_classes))
