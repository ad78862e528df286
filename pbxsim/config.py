"""Configuration of the simulated PBX: queues (queues.conf), seats (softphone behaviour), AMI account,
FastAGI URL, and the Asterisk facts of rig-config/ as defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pbxsim.distributions import Constant, Distribution
from pbxsim.rules import PenaltyChange


@dataclass
class QueueConfig:
    """One `[queue]` of queues.conf; the defaults are rig-config/queues.conf `[hotline-general]`."""

    name: str = "hotline-general"
    strategy: str = "leastrecent"      # leastrecent | rrmemory | ringall
    timeout: float = 15.0              # ring time per member attempt
    retry: float = 1.0                 # pause between attempts
    wrapuptime: float = 2.0
    servicelevel: int = 15
    joinempty: bool = True
    ringinuse: bool = False
    max_wait: float = 120.0            # Queue(...,120) in the dialplan
    defaultrule: str | None = None     # queuerules.conf rule list when Queue() names none
    # autofill: the rig's queues.conf has no such line (app_queue's default, no: only the head caller rings);
    # True is the platform's rendered queues.conf, and what the demo and the what-ifs run
    autofill: bool = True
    timeoutpriority: str = "app"       # app: the ring stops at Queue()'s timeout; conf: it rings out `timeout`
    penaltymemberslimit: int = 0       # penalties are ignored while the queue has no more members than this

    def __post_init__(self) -> None:
        if self.strategy not in ("leastrecent", "rrmemory", "ringall"):
            raise ValueError(f"unsupported queue strategy {self.strategy!r}")
        if self.timeoutpriority not in ("app", "conf"):
            raise ValueError(f"unsupported timeoutpriority {self.timeoutpriority!r}")


@dataclass(frozen=True)
class QueueEntry:
    """How the dialplan enters one queue when it is not the rig's bare `Queue(<queue>,t,,,120)`: asterisk_config's
    `[hotline-queue]` extension (`Set(QUEUE_MAX_PENALTY=...)`, the last agent's `Dial()`, `Queue()` with a rule).
    Read from the rendered extensions.conf by `pbxsim.platform_config`."""

    queue: str
    variables: tuple[tuple[str, str], ...] = ()      # Set(NAME=value) before anything else, in order
    last_agent_variable: str | None = None           # Dial(PJSIP/${<this>},...) first when the variable is set
    last_agent_timeout: float = 15.0
    last_agent_options: str = ""
    options: str = "t"                               # Queue() options
    timeout: float = 120.0                           # Queue()'s timeout argument
    rule: str | None = None                          # Queue()'s rule argument

    @property
    def queue_data(self) -> str:
        """The Queue() application data as Newexten shows it."""
        data = f"{self.queue},{self.options},,,{self.timeout:g}"
        return f"{data},,,{self.rule}" if self.rule else data


@dataclass
class SeatBehaviour:
    """How the softphone on one seat behaves when app_queue (or Originate) rings it."""

    answer_delay: Distribution = field(default_factory=lambda: Constant(1.0))
    answer_probability: float = 1.0   # below 1: sometimes lets it ring out
    reachable: bool = True            # False: no SIP answer at all (no RINGING), like 1003 in noanswer
    talk_time: Distribution | None = None  # the agent hangs up after this; None: waits for the citizen


@dataclass
class SimConfig:
    ami_host: str = "127.0.0.1"
    ami_port: int = 5038               # 0: pick a free port
    ami_username: str = "hotline"
    ami_secret: str = "hotline-secret"
    agi_url: str | None = "agi://127.0.0.1:4573/ivr"
    agi_connect_timeout: float = 2.0   # wall seconds
    queues: list[QueueConfig] = field(default_factory=lambda: [QueueConfig()])
    default_queue: str = "hotline-general"
    rules: dict[str, list[PenaltyChange]] = field(default_factory=dict)   # queuerules.conf
    queue_entries: dict[str, QueueEntry] = field(default_factory=dict)    # queue → the platform's dialplan entry
    seats: dict[str, SeatBehaviour] = field(default_factory=dict)   # "1001" → behaviour
    default_seat: SeatBehaviour = field(default_factory=SeatBehaviour)
    callback_behaviour: SeatBehaviour = field(default_factory=lambda: SeatBehaviour(answer_delay=Constant(3.0)))
    conf_mark_citizen: bool = False    # ConfBridge: citizen marked, others end_marked (room closes with the citizen)
    atxfer_code: str | None = "*2"     # features.conf atxfer; None: Atxfer fails as without the feature code
    gateway_answer_delay: float = 1.0  # the emergency gateway (110/119/120) answers after this
    dial_delay: float = 0.5            # Answer() → AGI as in the recordings
    prompt_seconds: dict[str, float] = field(default_factory=dict)  # sound file → length
    default_prompt_seconds: float = 1.40425  # hello-world: endpos=11234 at 8 kHz
    seed: int = 12345
    agent_numbers: tuple[str, ...] = ("1001", "1002", "1003", "2001")

    @classmethod
    def from_settings(cls, settings: Any = None, **overrides: Any) -> SimConfig:
        """The platform's settings (HOTLINE_AMI_*, HOTLINE_FASTAGI_*): the simulator listens where the
        platform's AMI client connects and calls the IVR where the platform serves it."""
        return cls(**{**cls.connection(settings), **overrides})

    @classmethod
    def connection(cls, settings: Any = None) -> dict[str, Any]:
        """Where the platform's settings say the AMI server listens and the IVR is served."""
        if settings is None:
            from hotline.settings import get_settings

            settings = get_settings()
        secret = settings.ami_secret.get_secret_value() if settings.ami_secret is not None else cls.ami_secret
        return {"ami_host": settings.ami_host, "ami_port": settings.ami_port, "ami_username": settings.ami_user,
                "ami_secret": secret, "agi_url": f"agi://{settings.fastagi_host}:{settings.fastagi_port}/ivr"}

    @classmethod
    def from_platform(cls, acd_config: Any = None, **overrides: Any) -> SimConfig:
        """Queues, queue rules and the `[hotline-queue]` dialplan as asterisk_config renders them from
        acd/skills.yaml (`acd_config`, default the platform's): the simulator runs what Asterisk would load."""
        from pbxsim.platform_config import sim_config_from_platform

        return sim_config_from_platform(acd_config, **overrides)

    def seat(self, endpoint: str) -> SeatBehaviour:
        return self.seats.get(endpoint, self.default_seat)

    def queue_config(self, name: str) -> QueueConfig | None:
        return next((q for q in self.queues if q.name == name), None)
