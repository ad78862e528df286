"""app_confbridge rooms.

Default profiles (rig-config/confbridge.conf): the room stays up while anyone is in it, so an expert stays
alone after the citizen hangs up. With `SimConfig.conf_mark_citizen` the citizen's leg gets `marked=yes` and
every other user `end_marked=yes`: when the last marked user leaves, the others are kicked and the room closes
(the README's recipe)."""

from __future__ import annotations

from dataclasses import dataclass, field

from pbxsim.bridges import Bridge
from pbxsim.channels import Channel
from pbxsim.pbx import Pbx


@dataclass(eq=False)
class ConfUser:
    channel: Channel
    joined_at: float
    marked: bool = False
    end_marked: bool = False


@dataclass(eq=False)
class ConfRoom:
    name: str
    bridge: Bridge
    users: list[ConfUser] = field(default_factory=list)

    def user(self, channel: Channel) -> ConfUser | None:
        return next((u for u in self.users if u.channel is channel), None)


class ConfBridges:
    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx
        self.rooms: dict[str, ConfRoom] = {}
        pbx.confbridges = self

    def _conf_headers(self, room: ConfRoom) -> list[tuple[str, str]]:
        return [("Conference", room.name)]

    def room(self, name: str) -> ConfRoom:
        room = self.rooms.get(name)
        if room is None:
            bridge = self.pbx.create_bridge(None, kind="softmix", name=name)
            room = ConfRoom(name, bridge)
            bridge.session = room
            self.rooms[name] = room
            self.pbx.emit("ConfbridgeStart", self._conf_headers(room), bridge.headers())
            self.pbx.set_device_state(f"confbridge:{name}", "INUSE")
        return room

    def join(self, channel: Channel, name: str, user_profile: str = "") -> None:
        """`user_profile` as in ConfBridge(room,bridge_profile,user_profile): a name with `citizen` or
        `marked` makes a marked user, one with `member` or `end_marked` an end_marked one (the platform's
        hotline_citizen / hotline_member profiles)."""
        pbx = self.pbx
        room = self.room(name)
        marked = pbx.config.conf_mark_citizen and channel.role == "citizen"
        end_marked = pbx.config.conf_mark_citizen and not marked
        profile = user_profile.lower()
        if "end_marked" in profile or "member" in profile:
            marked, end_marked = False, True
        elif "citizen" in profile or "marked" in profile:
            marked, end_marked = True, False
        user = ConfUser(channel, pbx.clock.now(), marked, end_marked)
        room.users.append(user)
        channel.app, channel.appdata = "ConfBridge", name
        pbx.bridge_enter(room.bridge, channel)
        pbx.emit("ConfbridgeJoin", self._conf_headers(room), room.bridge.headers(), channel.headers(),
                 [("Admin", "No"), ("Muted", "No")])
        channel.on_hangup = None

    def room_of(self, channel: Channel) -> ConfRoom | None:
        bridge = channel.bridge
        return bridge.session if bridge is not None and isinstance(bridge.session, ConfRoom) else None

    def hangup(self, channel: Channel, cause: int, soft: bool) -> None:
        """A user's channel hangs up (far end, AMI Hangup or ConfbridgeKick) while in a room."""
        pbx = self.pbx
        room = self.room_of(channel)
        if room is None:
            return
        user = room.user(channel)
        pbx.emit("ConfbridgeLeave", self._conf_headers(room), room.bridge.headers(), channel.headers(),
                 [("Admin", "No")])
        if not soft:
            pbx.emit("HangupRequest", channel.headers(), [("Cause", str(cause))])
        if user in room.users:
            room.users.remove(user)
        pbx.bridge_leave(room.bridge, channel)
        pbx.soft_hangup_request(channel, cause)
        self._queue_call_ends(channel)
        pbx.destroy(channel, cause)
        if user is not None and user.marked and not any(u.marked for u in room.users):
            for other in [u for u in room.users if u.end_marked]:
                self.hangup(other.channel, 16, soft=True)
        if not room.users and self.rooms.get(room.name) is room:
            self._close(room)

    def _queue_call_ends(self, channel: Channel) -> None:
        """A queue call that moved into the room ends for app_queue when the citizen or the agent leaves."""
        session = channel.owner
        queues = self.pbx.queues
        if session is None or not hasattr(session, "member"):
            return
        if channel is session.leg:
            queues.complete(session, "agent")
            queues.release_member(session)
        elif channel is session.caller.channel:
            queues.complete(session, "caller")

    def _close(self, room: ConfRoom) -> None:
        pbx = self.pbx
        del self.rooms[room.name]
        pbx.emit("ConfbridgeEnd", self._conf_headers(room), room.bridge.headers())
        pbx.bridge_destroy(room.bridge)
        pbx.set_device_state(f"confbridge:{room.name}", "NOT_INUSE")

    def kick(self, name: str, channel_name: str) -> bool:
        room = self.rooms.get(name)
        if room is None:
            return False
        targets = [u for u in room.users if channel_name in ("all", "participants", u.channel.name)]
        for user in targets:
            self.hangup(user.channel, 16, soft=True)
        return bool(targets)
