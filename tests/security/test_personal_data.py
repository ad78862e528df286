"""Personal data (Ziyang art. 22, Foshan art. 60): a caller's number and name are masked by role and for
保密件 (confidential orders), and every read of them, masked or not, leaves an audit entry."""

from __future__ import annotations

from sqlalchemy import select

from hotline.audit.models import AuditEntry

NUMBER, NAME = "13912345678", "王小明"


async def _create(session, confidential: bool) -> dict:  # type: ignore[no-untyped-def]
    body = {"category": "complaint", "content": "占道经营", "caller_number": NUMBER, "caller_name": NAME,
            "caller_personal": {"id_card": "510100199001011234"}, "confidential": confidential}
    resp = await session.client.post("/api/workorders", json=body, headers=session.headers())
    assert resp.status_code == 201, resp.text
    return resp.json()


async def _read(session, order_id: int) -> dict:  # type: ignore[no-untyped-def]
    resp = await session.client.get(f"/api/workorders/{order_id}", headers=session.headers())
    assert resp.status_code == 200, resp.text
    return resp.json()


def _shows_caller(order: dict) -> bool:
    full = (order["caller_number"], order["caller_name"]) == (NUMBER, NAME)
    if not full:  # masked: neither the number nor the name nor the other personal data leaks
        assert order["caller_number"] != NUMBER and NUMBER[3:7] not in (order["caller_number"] or "")
        assert order["caller_name"] != NAME and order["caller_personal"] is None and order["masked"] is True
    return full


async def test_caller_data_by_role_and_confidentiality_and_every_read_audited(live, sessions,  # type: ignore[no-untyped-def]
                                                                                db_session_factory) -> None:
    plain = await _create(sessions["agent"], confidential=False)
    secret = await _create(sessions["agent"], confidential=True)
    readers = {"agent": sessions["agent"], "agent2": sessions["agent2"], "expert": sessions["expert"],
               "supervisor": sessions["supervisor"], "admin": sessions["admin"]}
    seen = {}
    for who, session in readers.items():
        seen[who] = (_shows_caller(await _read(session, plain["id"])),
                     _shows_caller(await _read(session, secret["id"])))
    assert seen == {
        "agent": (True, True),        # the accepting agent
        "agent2": (True, False),      # another agent: not a 保密件's caller
        "expert": (True, False),
        "supervisor": (True, True),
        "admin": (False, False),      # administrators manage the system, they do not see citizens
    }
    with db_session_factory() as s:
        reads = s.scalars(select(AuditEntry).where(AuditEntry.subject_type == "work_order",
                                                   AuditEntry.action == "read")).all()
    got = sorted((a.actor, a.subject_id, a.detail["masked"]) for a in reads)
    usernames = {"agent": "agent1", "agent2": "agent2", "expert": "expert1", "supervisor": "super1",
                 "admin": "admin1"}
    expected = sorted((usernames[who], str(order["id"]), not full)
                      for who, pair in seen.items() for order, full in zip((plain, secret), pair, strict=True))
    assert [(actor.split(":")[-1], sid, masked) for actor, sid, masked in got] == expected


async def test_caller_history_reads_are_audited(live, sessions, db_session_factory) -> None:  # type: ignore[no-untyped-def]
    await _create(sessions["agent"], confidential=False)
    resp = await sessions["agent2"].client.get(f"/api/callers/{NUMBER}/history", headers=sessions["agent2"].headers())
    assert resp.status_code == 200, resp.text
    with db_session_factory() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.subject_id == NUMBER)).all()
    assert any("agent2" in e.actor for e in entries), [(e.actor, e.action) for e in entries]
