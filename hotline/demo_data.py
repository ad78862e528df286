"""What the demo starts with: console users, handling units, published knowledge-base articles and a
repeat caller's past orders, so that the first screen pops already show history and KB hits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from agent_console.models import ConsoleUser
from agent_console.users import NewUser, create_user
from hotline.domain import Category
from hotline.kb.services import create_article, review_article, submit_article
from hotline.security import Role
from hotline.sla import DeadlineEngine
from hotline.units.services import create_unit
from hotline.workorders.services import NewOrder, create_order

# Demo logins, printed on the screen when the demo starts; they exist only in the demo database.
DEMO_USERS = (
    NewUser("agent1001", Role.agent, "demo-agent-1001", agent_id="1001", display_name="话务员 1001"),
    NewUser("agent1002", Role.agent, "demo-agent-1002", agent_id="1002", display_name="话务员 1002"),
    NewUser("expert2001", Role.expert, "demo-expert-2001", agent_id="2001", display_name="专家 2001"),
    NewUser("leader", Role.supervisor, "demo-leader", display_name="值班长"),
    NewUser("admin", Role.admin, "demo-admin", display_name="管理员"),
)

UNITS = (("RSJ", "市人力资源和社会保障局"), ("YBJ", "市医疗保障局"), ("ZJJ", "市住房和城乡建设局"),
         ("SCJ", "市市场监督管理局"), ("SWJT", "市水务集团"), ("GAJ", "市公安局"))

ARTICLES = (
    ("社保卡丢失如何补办", "携带身份证到任一社保经办网点或通过市民云App申请补办，新卡制作周期约7个工作日，"
     "补办期间可使用电子社保卡就医结算。", Category.consult, "RSJ"),
    ("异地就医备案办理流程", "参保人可通过国家医保服务平台App或市医保局窗口办理异地就医备案，"
     "备案后在备案地定点医疗机构直接结算。", Category.consult, "YBJ"),
    ("住房公积金提取条件", "购房、租房、退休等情形可申请提取住房公积金，租房提取每年一次，"
     "需提供租赁合同或无房证明。", Category.consult, "ZJJ"),
    ("停水停电信息查询", "计划停水信息提前24小时在水务集团公众号公布；突发停水可拨打水务集团24小时服务电话。",
     Category.help, "SWJT"),
    ("消费投诉受理范围", "消费者与经营者发生消费者权益争议的，可向市场监管部门投诉，需提供购物凭证和经营者信息。",
     Category.complaint, "SCJ"),
    ("户籍迁入办理指南", "符合条件的人员可持身份证、户口簿及相关证明材料到辖区派出所户籍窗口办理迁入。",
     Category.consult, "GAJ"),
    ("义务教育入学报名时间", "每年5月至6月开放义务教育阶段入学报名，具体时间以教育局公告为准。",
     Category.consult, "RSJ"),
)

REPEAT_CALLER = "13900000001"  # the simulator's first caller: the first pop shows a repeat caller


def seed(session_factory: sessionmaker[Session], engine: DeadlineEngine) -> None:
    """Idempotent: a demo restarted on the same database seeds nothing twice."""
    with session_factory() as session:
        if session.scalar(select(ConsoleUser).limit(1)) is not None:
            return
        for user in DEMO_USERS:
            create_user(session, user)
        units = {code: create_unit(session, code, name) for code, name in UNITS}
        session.flush()
        for title, body, category, owner in ARTICLES:
            article = create_article(session, {"title": title, "body": body, "category": category.value,
                                               "article_type": "business", "owner_unit": owner}, created_by="admin")
            session.flush()
            submit_article(session, article.id, by="admin")
            review_article(session, article.id, approve=True, by="admin", note="演示数据")
        earlier = datetime.now(UTC) - timedelta(days=3)
        create_order(session, engine, "agent1001", NewOrder(
            category=Category.complaint, content="小区门口夜间施工噪音扰民，已持续一周", caller_name="张三",
            caller_number=REPEAT_CALLER, location="雁江区建设路", lead_unit_id=units["ZJJ"].id), now=earlier)
        create_order(session, engine, "agent1002", NewOrder(
            category=Category.consult, content="咨询社保卡补办", caller_name="张三", caller_number=REPEAT_CALLER,
            answer="告知补办流程，已即时办结"), now=earlier - timedelta(days=20))
        session.commit()
