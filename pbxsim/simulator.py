"""The simulator's public face.

Real time (AMI over TCP, FastAGI to the IVR)::

    sim = Simulator(SimConfig(ami_port=0), scale=10)
    await sim.start()
    sim.add_member("PJSIP/1001", "agent-1001")
    call = await sim.place_call(caller="13900001", name="张三", digits="2", patience=30)
    await call.wait()
    await sim.stop()

Virtual time (no sockets, a day in seconds)::

    sim = Simulator(config, virtual=True)
    sim.add_member(...)
    stats = sim.run_day(TrafficModel(profile=...), start=..., hours=24)
"""

from __future__ import annotations

from typing import Any

from pbxsim.ami_server import AmiServer
from pbxsim.calls import CitizenCall
from pbxsim.citizens import Citizen
from pbxsim.clock import Clock, RealClock, VirtualClock
from pbxsim.confbridge import ConfBridges
from pbxsim.config import SeatBehaviour, SimConfig
from pbxsim.pbx import Pbx
from pbxsim.queues import QueueEngine
from pbxsim.stats import RunStats
from pbxsim.traffic import ArrivalProcess, TrafficModel


class Simulator:
    def __init__(self, config: SimConfig | None = None, *, scale: float = 1.0, virtual: bool = False,
                 start_time: float | None = None) -> None:
        self.config = config or SimConfig()
        self.clock: Clock = VirtualClock(start_time or 1_795_263_400.0) if virtual else RealClock(scale, start_time)
        self.pbx = Pbx(self.config, self.clock)
        self.pbx.queues = QueueEngine(self.pbx)
        ConfBridges(self.pbx)
        self.stats = RunStats()
        self.pbx.queues.listeners.append(self.stats.on_queue_event)
        self.ami: AmiServer | None = None
        self._arrivals: ArrivalProcess | None = None

    @property
    def virtual(self) -> bool:
        return not self.clock.realtime

    @property
    def ami_port(self) -> int:
        assert self.ami is not None, "start() first"
        return self.ami.port

    async def start(self) -> None:
        if self.virtual:
            raise RuntimeError("a virtual-time simulator has no sockets: use run_until / run_day")
        self.clock.now()      # pin the clock's origin to this loop
        self.ami = AmiServer(self.pbx, self.config.ami_host, self.config.ami_port)
        await self.ami.start()

    async def stop(self) -> None:
        if self._arrivals is not None:
            self._arrivals.stop()
        for call in self.pbx.calls:
            if call.agi_task is not None and not call.agi_task.done():
                call.agi_task.cancel()
        if self.ami is not None:
            await self.ami.stop()

    def drop_ami_clients(self) -> int:
        """Cut every AMI connection, as a network failure would; clients must reconnect and resync."""
        assert self.ami is not None, "start() first"
        return self.ami.disconnect_all()

    # --- driving it ----------------------------------------------------------------------------------------
    def set_seat(self, endpoint: str, behaviour: SeatBehaviour) -> None:
        self.config.seats[endpoint] = behaviour

    def add_member(self, interface: str, name: str | None = None, queue: str | None = None, penalty: int = 0,
                   paused: bool = False, reason: str = "") -> None:
        """Same effect as AMI QueueAdd (and the same events)."""
        self.pbx.queues.add_member(queue or self.config.default_queue, interface, name, penalty, paused, reason)

    def expect_callback(self, number: str, citizen: Citizen | None = None) -> None:
        """The citizen who answers when the platform calls `number` back (Originate PJSIP/<number>@carrier)."""
        self.pbx.callback_citizens[number] = citizen or Citizen(caller=number)

    def call(self, citizen: Citizen) -> CitizenCall:
        call = CitizenCall(self.pbx, citizen)
        call.start()
        return call

    async def place_call(self, citizen: Citizen | None = None, **kw: Any) -> CitizenCall:
        """A citizen dials 12345 now. Keywords are Citizen fields (caller, name, digits, patience, ...)."""
        return self.call(citizen or Citizen(**kw))

    def start_traffic(self, model: TrafficModel, until: float | None = None) -> ArrivalProcess:
        self._arrivals = ArrivalProcess(model, self.clock, self.call, until)
        return self._arrivals

    def run_until(self, t: float) -> None:
        if not isinstance(self.clock, VirtualClock):
            raise RuntimeError("run_until needs the virtual clock")
        self.clock.run_until(t)

    def run_day(self, model: TrafficModel, start: float | None = None, hours: float = 24.0,
                drain: float = 3600.0) -> RunStats:
        """Offer a day of traffic (virtual time), let the last calls finish, return the figures."""
        if not isinstance(self.clock, VirtualClock):
            raise RuntimeError("run_day needs the virtual clock")
        begin = self.clock.now() if start is None else start
        self.clock.run_until(begin)
        self.start_traffic(model, until=begin + hours * 3600)
        self.clock.run_until(begin + hours * 3600 + drain)
        return self.stats
