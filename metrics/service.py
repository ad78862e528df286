"""The metrics role: bus streams → engine → Prometheus exporter (port 9105) and the wallboard snapshot.

    calls / acd / supervisors ──EventBus.subscribe──▶ MetricsEngine.apply
                                                          │ every `persist_interval`
                                                          ├─▶ Redis: state + cursors (MetricsStateStore)
                                                          └─▶ Redis: wallboard snapshot (read by metrics.resources)
    database (every `db_interval`) ──▶ ExternalFigures ─┐
    AMI link state listener ────────────────────────────┴─▶ EngineCollector ──▶ GET :9105/metrics
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic_settings import BaseSettings, SettingsConfigDict
from redis.exceptions import RedisError

from metrics.engine import MetricsEngine
from metrics.exporter import ExternalFigures, make_registry, metrics_asgi
from metrics.services import read_external, wallboard_snapshot
from metrics.state import MetricsStateStore

if TYPE_CHECKING:
    from sqlalchemy.orm import sessionmaker

    from hotline.bus import EventBus
    from hotline.runtime import RoleContext
    from hotline.settings import Settings

log = logging.getLogger(__name__)


class MetricsSettings(BaseSettings):
    """HOTLINE_METRICS_PORT and friends (docker-compose and deploy/prometheus scrape metrics:9105)."""

    model_config = SettingsConfigDict(env_prefix="HOTLINE_METRICS_", extra="ignore")

    host: str = "0.0.0.0"
    port: int = 9105
    persist_interval: float = 1.0   # seconds between state saves and wallboard snapshots
    db_interval: float = 30.0       # seconds between reads of the database figures
    ami_probe: bool = True          # open an AMI link to report hotline_ami_link_up


def engine_for(settings: Settings) -> MetricsEngine:
    """An engine with the queue → skill map and the expert seats of acd/skills.yaml."""
    skills: dict[str, str] = {}
    experts: frozenset[str] | None = None
    try:
        from acd.config import default_acd_config

        config = default_acd_config()
        skills = {q.name: q.skill for q in config.queues}
        experts = frozenset(s.id for s in config.seats if s.role == "expert")
    except Exception as exc:  # the ACD's file is optional for the figures: fall back to seat numbering
        log.warning("no ACD configuration (%s): skills unknown, expert seats are 2xxx", exc)
    return MetricsEngine(settings.short_abandon_seconds, settings.service_level_seconds, skills, experts)


def seat_names() -> dict[str, str]:
    try:
        from acd.config import default_acd_config

        return {s.id: s.name for s in default_acd_config().seats}
    except Exception:
        return {}


def _raise_if_cancelling(exc: BaseException) -> None:
    """redis-py may turn a cancellation in the middle of a command into a ConnectionError: a loop that
    retries on Redis errors must not swallow its own cancellation."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError from exc


class MetricsService:
    def __init__(self, bus: EventBus, engine: MetricsEngine, *, session_factory: sessionmaker | None = None,
                 persist_interval: float = 1.0, db_interval: float = 30.0, block_ms: int = 500,
                 clock: Callable[[], float] = time.time) -> None:
        self.bus, self.engine = bus, engine
        self.store = MetricsStateStore(bus.redis, bus.prefix)
        self.session_factory = session_factory
        self.persist_interval, self.db_interval, self.block_ms = persist_interval, db_interval, block_ms
        self.clock = clock
        self.external = ExternalFigures()
        self.registry, self.collector = make_registry(engine, self.external, clock)
        self.cursors: dict[str, str] = {}
        self.names = seat_names()
        self._dirty = True
        self._tasks: list[asyncio.Task[Any]] = []

    def on_link_state(self, up: bool) -> None:
        self.external.ami_link_up = 1.0 if up else 0.0
        self._dirty = True

    async def start(self) -> None:
        self.cursors = await self.store.load(self.engine)
        log.info("metrics: day %s restored, reading on from %s", self.engine.day, self.cursors)
        self._tasks = [asyncio.create_task(self._fold_forever(), name="metrics-fold"),
                       asyncio.create_task(self._persist_forever(), name="metrics-persist")]
        if self.session_factory is not None:
            self._tasks.append(asyncio.create_task(self._db_forever(), name="metrics-db"))

    async def stop(self) -> None:
        await self.abort()
        with contextlib.suppress(RedisError, OSError):
            await self.save()

    async def abort(self) -> None:
        """Stop the tasks without a last save (what a crash leaves behind). A task blocked in a Redis
        command may swallow one cancellation (redis-py tidies its connection up), so cancel until done."""
        tasks, self._tasks = self._tasks, []
        for _ in range(50):
            pending = [t for t in tasks if not t.done()]
            if not pending:
                break
            for task in pending:
                task.cancel()
            await asyncio.wait(pending, timeout=0.1)
        else:
            log.error("metrics: tasks still running after cancellation: %s", [t.get_name() for t in pending])
        for task in tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                log.error("metrics: task %s failed: %r", task.get_name(), task.exception())

    async def save(self) -> None:
        # state and cursors are taken together, between two folds (no await in between)
        await self.store.save(self.engine, self.cursors)
        await self.store.publish_wallboard(self.snapshot())
        self._dirty = False

    def snapshot(self) -> dict[str, Any]:
        return wallboard_snapshot(self.engine, self.clock(), self.external.ami_link_up, self.names, self.external)

    async def _fold_forever(self) -> None:
        while True:
            try:
                async for stream, entry_id, event in self.bus.subscribe(self.cursors, block_ms=self.block_ms):
                    self.engine.apply(stream, event)
                    self.cursors[stream] = entry_id
                    self._dirty = True
            except (RedisError, OSError) as exc:
                _raise_if_cancelling(exc)
                log.warning("metrics: bus read failed (%s), retrying", exc)
                await asyncio.sleep(1.0)

    async def _persist_forever(self) -> None:
        while True:
            await asyncio.sleep(self.persist_interval)
            try:
                await self.save()  # also when idle: longest wait and time in state move with the clock
            except (RedisError, OSError) as exc:
                _raise_if_cancelling(exc)
                log.warning("metrics: saving state failed (%s)", exc)

    async def _db_forever(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.refresh_db)
            except Exception:  # a database hiccup leaves the previous figures in place
                log.exception("metrics: reading the database figures failed")
            await asyncio.sleep(self.db_interval)

    def refresh_db(self) -> None:
        assert self.session_factory is not None
        with self.session_factory() as session:
            fresh = read_external(session, self.clock())
        # swap the fields at once so a scrape never sees half of a refresh
        self.external.orders_today, self.external.orders_overdue = fresh.orders_today, fresh.orders_overdue
        self.external.kb_one_time_rate_today = fresh.kb_one_time_rate_today
        self.external.kb_consultations_today = fresh.kb_consultations_today
        self.external.satisfaction_today, self.external.refreshed_at = fresh.satisfaction_today, fresh.refreshed_at


async def serve_exporter(registry: Any, host: str, port: int) -> Any:
    """Serve /metrics with uvicorn inside this event loop; returns the server (stop: `should_exit`)."""
    import uvicorn

    config = uvicorn.Config(metrics_asgi(registry), host=host, port=port, log_level="warning", lifespan="off",
                            access_log=False)
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # the runtime owns signals
    return server


async def run_role(ctx: RoleContext) -> None:
    """The `metrics` role for hotline.runtime: runs until cancelled."""
    options = MetricsSettings()
    service = MetricsService(ctx.bus, engine_for(ctx.settings), session_factory=ctx.session_factory,
                             persist_interval=options.persist_interval, db_interval=options.db_interval)
    if options.ami_probe:
        try:
            ami = await ctx.ami()
            ami.add_state_listener(service.on_link_state)
            service.on_link_state(ami.connected)
        except Exception as exc:  # the client keeps reconnecting; its state listener reports it later
            log.warning("metrics: AMI link not up at start (%s)", exc)
            service.on_link_state(False)
            if ctx._ami is not None:
                ctx._ami.add_state_listener(service.on_link_state)
    await service.start()
    server = await serve_exporter(service.registry, options.host, options.port)
    try:
        await server.serve()
    finally:
        server.should_exit = True
        await service.stop()
