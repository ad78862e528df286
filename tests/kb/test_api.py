"""The KB HTTP API: roles, the article life cycle, search, hits and the rate report; hostile text."""

from __future__ import annotations

from sqlalchemy import inspect

from .conftest import ADMIN, AGENT, SUPERVISOR

ARTICLE = {"title": "个体工商户营业执照办理", "body": "携带身份证到区行政服务中心市场监管窗口申请，当场办结。",
           "category": "consult", "article_type": "business", "owner_unit": "fs-scjg"}

INJECTIONS = [
    "'; DROP TABLE kb_articles; --",
    "社保\" OR 1=1 --",
    "<script>alert('医保')</script>",
    "公积金%' UNION SELECT * FROM kb_state --",
    "\\x00\u202e反转 \U0001f600 ％ _ %",
]


def as_(app, principal) -> None:  # type: ignore[no-untyped-def]
    app.state.principal = principal


def publish(client, article: dict) -> dict:  # type: ignore[no-untyped-def]
    created = client.post("/api/kb/articles", json=article)
    assert created.status_code == 201, created.text
    article_id = created.json()["id"]
    assert client.post(f"/api/kb/articles/{article_id}/submit").status_code == 200
    reviewed = client.post(f"/api/kb/articles/{article_id}/review", json={"decision": "approve", "note": "核对无误"})
    assert reviewed.status_code == 200, reviewed.text
    return reviewed.json()


def test_life_cycle_and_search(client) -> None:  # type: ignore[no-untyped-def]
    article = publish(client, ARTICLE)
    assert article["status"] == "published" and article["reviewed_by"] == "zhang"
    hits = client.get("/api/kb/search", params={"q": "办执照要什么材料"}).json()
    assert [h["article_id"] for h in hits] == [article["id"]]
    assert client.get(f"/api/kb/articles/{article['id']}").json()["title"] == ARTICLE["title"]
    changed = client.patch(f"/api/kb/articles/{article['id']}", json={"title": "个体户执照申领"})
    assert changed.json()["title"] == "个体户执照申领" and changed.json()["status"] == "published"
    assert client.post(f"/api/kb/articles/{article['id']}/retire", json={"note": "机构改革"}).status_code == 200
    assert client.get("/api/kb/search", params={"q": "执照"}).json() == []
    assert client.post(f"/api/kb/articles/{article['id']}/submit").status_code == 409


def test_roles(app, client) -> None:  # type: ignore[no-untyped-def]
    as_(app, None)
    assert client.get("/api/kb/search", params={"q": "医保"}).status_code == 401
    as_(app, AGENT)
    assert client.get("/api/kb/search", params={"q": "医保"}).status_code == 200
    assert client.post("/api/kb/articles", json=ARTICLE).status_code == 403  # agents collect only
    collected = client.post("/api/kb/articles", json={**ARTICLE, "article_type": "collected"})
    assert collected.status_code == 201 and collected.json()["created_by"] == "li"
    article_id = collected.json()["id"]
    assert client.post(f"/api/kb/articles/{article_id}/submit").json()["review_due_at"] is not None
    assert client.post(f"/api/kb/articles/{article_id}/review", json={"decision": "approve"}).status_code == 403
    assert client.get("/api/kb/reports/one-time-answer-rate").status_code == 403
    assert client.post("/api/kb/auto-accept").status_code == 403
    as_(app, SUPERVISOR)
    assert client.post("/api/kb/auto-accept").status_code == 403
    as_(app, ADMIN)
    assert client.post("/api/kb/auto-accept").json() == {"published": []}


def test_bad_input_gets_clear_errors(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/api/kb/articles/424242").status_code == 404
    assert client.post("/api/kb/articles", json={**ARTICLE, "category": "weather"}).status_code == 422
    assert client.post("/api/kb/articles", json={**ARTICLE, "owner_unit": "单位 1"}).status_code == 422
    assert client.post("/api/kb/articles", json={**ARTICLE, "extra": 1}).status_code == 422
    assert client.post("/api/kb/articles", json={**ARTICLE, "effective_from": "2026-01-01T00:00:00"}).status_code == 422
    bad_dates = {**ARTICLE, "effective_from": "2026-02-01T00:00:00+08:00", "effective_until": "2026-01-01T00:00:00Z"}
    response = client.post("/api/kb/articles", json=bad_dates)
    assert response.status_code == 422 and "effective_until" in response.json()["detail"]
    assert client.post("/api/kb/articles", json={**ARTICLE, "body": "正文\x00截断"}).status_code == 422
    assert client.get("/api/kb/search", params={"q": ""}).status_code == 422
    assert client.get("/api/kb/search", params={"q": "医保\x00"}).status_code == 200
    assert client.get("/api/kb/search", params={"q": "医" * 201}).status_code == 422
    assert client.post("/api/kb/hits", json={"call_id": "c", "article_ids": [5], "kind": "used"}).status_code == 404


def test_injection_strings_are_stored_and_searched_verbatim(client, db_engine) -> None:  # type: ignore[no-untyped-def]
    ids = []
    for i, text in enumerate(INJECTIONS):
        article = publish(client, {**ARTICLE, "title": f"测试条目{i} {text}", "body": f"正文 {text} 结束"})
        assert article["title"] == f"测试条目{i} {text}" and article["body"] == f"正文 {text} 结束"
        ids.append(article["id"])
    for text in INJECTIONS:
        response = client.get("/api/kb/search", params={"q": text})
        assert response.status_code == 200
        for hit in response.json():
            assert hit["article_id"] in ids
    # The script text comes back as data (escaping is the console's job), and the tables are all there.
    hits = client.get("/api/kb/search", params={"q": "<script>alert('医保')</script>"}).json()
    assert hits and "<script>alert('医保')</script>" in hits[0]["title"]
    assert {"kb_articles", "kb_state", "kb_hits"} <= set(inspect(db_engine).get_table_names())
    assert client.get(f"/api/kb/articles/{ids[0]}").json()["title"] == "测试条目0 '; DROP TABLE kb_articles; --"


def test_hits_consultations_and_report(app, client) -> None:  # type: ignore[no-untyped-def]
    article = publish(client, ARTICLE)
    as_(app, AGENT)
    shown = client.post("/api/kb/hits", json={"call_id": "1700000000.1", "article_ids": [article["id"]],
                                              "kind": "shown", "source": "pop"})
    assert shown.json() == {"recorded": 1}
    client.post("/api/kb/hits", json={"call_id": "1700000000.1", "article_ids": [article["id"]], "kind": "used"})
    first = client.post("/api/kb/consultations", json={"call_id": "1700000000.1"}).json()
    assert first["answered_on_call"] is True and first["unit_code"] == "fs-scjg"
    second = client.post("/api/kb/consultations", json={"call_id": "1700000000.2", "unit_code": "fs-scjg",
                                                        "dispatched": True}).json()
    assert second["answered_on_call"] is False
    as_(app, SUPERVISOR)
    report = client.get("/api/kb/reports/one-time-answer-rate").json()
    assert report["target"] == 0.9
    assert report["by_unit"] == [{"category": None, "category_label": None, "unit_code": "fs-scjg",
                                  "consultations": 2, "answered_on_call": 1, "rate": 0.5, "below_target": True}]
    assert report["by_category"][0]["category_label"] == "咨询"
    period = client.get("/api/kb/reports/one-time-answer-rate", params={"since": "2100-01-01T00:00:00Z"}).json()
    assert period["by_unit"] == []


def test_openapi_schema_builds(client) -> None:  # type: ignore[no-untyped-def]
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/kb/search" in paths and "/api/kb/reports/one-time-answer-rate" in paths
