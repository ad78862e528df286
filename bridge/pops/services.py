"""Building a screen pop: the caller's history (audited) and the knowledge-base hits for the IVR choice.

The history is read once per call and agent (on `call.ringing`) and kept in a small in-process cache for
the answer and hang-up updates, so only the ringing pop costs a database round trip.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from hotline.audit.models import AuditEntry
from hotline.audit.services import record
from hotline.bus import encode
from hotline.history.schemas import history_json
from hotline.history.services import CallerHistory, caller_history
from hotline.kb.search import KnowledgeBase

log = logging.getLogger(__name__)

KB_HITS = 5
CACHE_SIZE = 4096  # calls whose pop content is kept for the answer/hang-up updates


def pop_actor(agent_id: str) -> str:
    """Who the audit log names for a pop's history read: the agent's seat (the pop goes to it alone)."""
    return f"agent:{agent_id}"


def history_dict(history: CallerHistory) -> dict[str, Any]:
    """The history as the console's history API returns it, plus the flags a pop shows at a glance."""
    out = history_json(history)
    # 终结件: the standard reply given to the caller (Ziyang art. 15), shown instead of a new dispatch
    reply = next((o.terminal_reply for o in history.terminal if o.terminal_reply), None)
    out["terminal_reply"] = reply
    out["terminal_case"] = bool(history.terminal)
    out["provisional_deadlines"] = any(d.provisional for o in history.open_orders for d in o.deadlines)
    return out


class PopBuilder:
    def __init__(self, session_factory: sessionmaker[Session], kb: KnowledgeBase | None = None, *,
                 kb_limit: int = KB_HITS, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.session_factory = session_factory
        self.kb = kb
        self.kb_limit = kb_limit
        self.clock = clock
        self._cache: OrderedDict[str, tuple[dict[str, Any] | None, list[dict[str, Any]]]] = OrderedDict()  # by call

    def lookup(self, call: dict[str, Any], reader: str, *, reason: str = "screen_pop") -> tuple[dict | None, list]:
        """History and KB hits for a call snapshot, read on behalf of `reader`, the read audited and committed
        before returning. Blocking: run it in a thread from async code."""
        history, hits, audit = self.read(call, reader, reason=reason)
        if audit is not None:
            with self.session_factory() as session:
                record(session, **audit)
                session.commit()
        return history, hits

    def read(self, call: dict[str, Any], reader: str, *, reason: str = "screen_pop"
             ) -> tuple[dict | None, list, dict[str, Any] | None]:
        """History and KB hits, plus the audit entry the caller must write (`hotline.audit.services.record`
        keywords; None when no personal data was read). Nothing is written here."""
        number = call.get("caller_number") or None
        history = None
        if number:
            with self.session_factory() as session:
                history = history_dict(caller_history(session, number, self.clock()))
        hits: list[dict[str, Any]] = []
        if self.kb is not None:
            category = (call.get("ivr") or {}).get("category")
            try:
                hits = [h.as_pop() for h in self.kb.hits_for_call(category, limit=self.kb_limit)]
            except Exception:  # the pop goes out without suggestions rather than not at all
                log.exception("KB hits for call %s failed", call.get("call_id"))
        self._remember(call["call_id"], history, hits)
        return history, hits, self.audit_for(call, reader, history, reason)

    def audit_for(self, call: dict[str, Any], reader: str, history: dict | None, reason: str = "screen_pop"
                  ) -> dict[str, Any] | None:
        """The audit entry (`record` keywords) for showing `history` to `reader`: every read of a caller's
        personal data is recorded (Ziyang art. 22)."""
        if history is None:
            return None
        return {"actor": reader, "action": reason, "subject_type": "caller", "subject_id": history["number"],
                "detail": {"call_id": call.get("call_id"), "orders": len(history["orders"]),
                           "calls": len(history["calls"])}, "at": self.clock()}

    def cached(self, call_id: str) -> tuple[dict | None, list] | None:
        return self._cache.get(call_id)

    def forget(self, call_id: str) -> None:
        self._cache.pop(call_id, None)

    def _remember(self, call_id: str, history: dict | None, hits: list) -> None:
        self._cache[call_id] = (history, hits)
        self._cache.move_to_end(call_id)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)


def content_json(history: dict | None, hits: list) -> str:
    """A pop's `history` and `kb_hits` members as JSON text (without braces), as `encode` writes them."""
    return '"history":' + encode(history) + ',"kb_hits":' + encode(hits)


def make_pop(kind: str, call: dict[str, Any], agent_id: str, ts: float, history: dict | None, hits: list,
             *, reason: str | None = None, source_id: str | None = None, **extra: Any) -> dict[str, Any]:
    pop = {"type": kind, "call_id": call["call_id"], "agent_id": agent_id,
           "caller_number": call.get("caller_number"), "caller_name": call.get("caller_name"),
           "ivr": call.get("ivr"), "queue": call.get("queue"), "wait_seconds": call.get("wait_seconds"),
           "history": history, "kb_hits": hits, "reason": reason, "ts": ts, "source_id": source_id}
    pop.update(extra)
    return pop


class AuditWriter:
    """Writes the audit entries of pop reads from one thread, many per commit, so that a commit's fsync is
    not on the pop's path; `on_committed(tokens)` (from that thread) after each batch is durable. A batch
    that fails is retried: entries are never dropped while the process lives."""

    def __init__(self, session_factory: sessionmaker[Session], on_committed: Callable[[list[str]], None],
                 max_batch: int = 500) -> None:
        self.session_factory = session_factory
        self.on_committed = on_committed
        self.max_batch = max_batch
        self.written = 0
        self._closing = False
        self._queue: queue.SimpleQueue[tuple[dict[str, Any], str] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="pop-audit", daemon=True)
        self._thread.start()

    def put(self, audit: dict[str, Any], token: str) -> None:
        self._queue.put((audit, token))

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued and stop; a batch still failing then is given up (its `calls` entries stay
        unacknowledged, so the next start reads them again and audits them then)."""
        self._closing = True
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        import time

        stopping = False
        while not stopping:
            item = self._queue.get()
            batch = []
            while item is not None:
                batch.append(item)
                if len(batch) >= self.max_batch:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            stopping = item is None
            while batch:
                try:
                    with self.session_factory() as session:
                        session.add_all(AuditEntry(at=a["at"], actor=a["actor"], action=a["action"],
                                                   subject_type=a["subject_type"], subject_id=str(a["subject_id"]),
                                                   detail=a["detail"]) for a, _token in batch)
                        session.commit()
                except Exception:
                    if self._closing:
                        log.error("stopping with %d pop audit entries unwritten: read again at the next start",
                                  len(batch))
                        return
                    log.exception("writing %d pop audit entries failed: retrying", len(batch))
                    time.sleep(0.5)
                    continue
                self.written += len(batch)
                try:
                    self.on_committed([token for _a, token in batch])
                except Exception:
                    log.exception("audit commit callback failed")
                batch = []
