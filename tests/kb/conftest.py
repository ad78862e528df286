"""Fixtures of the KB tests: a small article set, a live index and an API app with a fixed principal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from hotline.kb import services
from hotline.kb.resources import router
from hotline.kb.search import KnowledgeBase
from hotline.security import Principal, Role

NOW = datetime.now(UTC)

# (title, body, category, type, unit)
FIXTURES = [
    ("医保异地就医备案办理指南",
     "参保人到外地长期居住或工作，可通过国家医保服务平台或佛山医保窗口办理异地就医备案，备案后可直接结算。",
     "consult", "business", "fs-ybj"),
    ("住房公积金提取条件",
     "职工购买、建造、翻建、大修自住住房，或者离休、退休，可以申请提取公积金账户余额。",
     "consult", "business", "fs-gjj"),
    ("停水通知查询方式",
     "因管网维修需要计划停水的，供水企业提前24小时在官网和小区公告栏发布通知，市民可拨打供水热线查询。",
     "consult", "business", "fs-water"),
    ("小区物业服务投诉处理流程",
     "业主对物业公司服务质量不满意的，可先向物业服务企业反映，协商不成的向属地住建部门投诉。",
     "complaint", "business", "fs-zjj"),
    ("户籍迁入办理材料",
     "办理户口迁入需提供居民户口簿、居民身份证、房产证明等材料，到辖区派出所户籍窗口办理。",
     "consult", "business", "fs-gaj"),
    ("社保卡补办流程",
     "社会保障卡遗失的，可到银行网点或人社窗口申请挂失补办，补办期间可使用电子社保卡。",
     "consult", "business", "fs-rsj"),
    ("禅城区行政服务中心网点信息",
     "地址：禅城区季华五路。服务时间：工作日上午9:00-12:00，下午13:30-17:30。可办理社保、公积金等事项。",
     "consult", "outlet", "fs-zwb"),
    ("新生儿参加城乡居民医保",
     "新生儿出生后可在出生医院或社区网点办理城乡居民基本医疗保险参保登记，父母代为缴费。",
     "consult", "business", "fs-ybj"),
]


def add_article(session, title: str, body: str, category: str = "consult", article_type: str = "business",
                unit: str = "fs-test", *, publish: bool = True, effective_from: datetime | None = None,
                effective_until: datetime | None = None) -> int:
    article = services.create_article(session, {
        "title": title, "body": body, "category": category, "article_type": article_type, "owner_unit": unit,
        "effective_from": effective_from, "effective_until": effective_until}, created_by="editor")
    if publish:
        services.submit_article(session, article.id, "editor")
        services.review_article(session, article.id, True, "reviewer")
    return article.id


@pytest.fixture
def fixture_ids(db_session) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {title: add_article(db_session, title, body, cat, kind, unit) for title, body, cat, kind, unit in FIXTURES}


@pytest.fixture
def kb(db_session_factory) -> KnowledgeBase:  # type: ignore[no-untyped-def]
    return KnowledgeBase(db_session_factory, check_interval=0)


def make_app(session_factory, principal: Principal | None) -> FastAPI:  # type: ignore[no-untyped-def]
    app = FastAPI()
    app.state.session_factory = session_factory
    app.state.kb = KnowledgeBase(session_factory, check_interval=0)
    app.state.principal = principal

    @app.middleware("http")
    async def put_principal(request: Request, call_next):  # type: ignore[no-untyped-def]
        # Tests switch the user by setting app.state.principal between requests.
        if request.app.state.principal is not None:
            request.state.principal = request.app.state.principal
        return await call_next(request)

    app.include_router(router)
    return app


@pytest.fixture
def app(db_session_factory) -> FastAPI:  # type: ignore[no-untyped-def]
    return make_app(db_session_factory, Principal("zhang", Role.supervisor))


@pytest.fixture
def client(app: FastAPI):  # type: ignore[no-untyped-def]
    with TestClient(app) as c:
        yield c


AGENT = Principal("li", Role.agent, agent_id="1001")
SUPERVISOR = Principal("zhang", Role.supervisor)
ADMIN = Principal("root", Role.admin)
YESTERDAY = NOW - timedelta(days=1)
