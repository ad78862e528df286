"""The hotline's shared vocabulary: work-order categories, urgencies, statuses and channels.

Codes are English identifiers; `label` is the Chinese the UI and the regulations use.
"""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    consult = "consult"                          # 咨询
    help = "help"                                # 求助
    complaint = "complaint"                      # 投诉
    report = "report"                            # 举报
    suggestion = "suggestion"                    # 建议
    praise = "praise"                            # 表扬
    consumer_complaint = "consumer_complaint"    # 消费投诉 (Foshan art. 36-38)
    economic_violation = "economic_violation"    # 经济违法行为举报 (Foshan art. 39-41)
    admin_efficiency = "admin_efficiency"        # 行政效能投诉 (Foshan art. 42-44)

    @property
    def label(self) -> str:
        return CATEGORY_LABELS[self]


CATEGORY_LABELS = {
    Category.consult: "咨询", Category.help: "求助", Category.complaint: "投诉", Category.report: "举报",
    Category.suggestion: "建议", Category.praise: "表扬", Category.consumer_complaint: "消费投诉",
    Category.economic_violation: "经济违法行为举报", Category.admin_efficiency: "行政效能投诉",
}


class Urgency(StrEnum):
    normal = "normal"                  # 一般
    special = "special"                # 特殊 (Ziyang art. 13(4))
    special_urgent = "special_urgent"  # 特殊紧急 (Ziyang art. 13(4)) / 重大紧急 (Foshan art. 55-58)

    @property
    def label(self) -> str:
        return {"normal": "一般", "special": "特殊", "special_urgent": "特殊紧急"}[self.value]


class OrderStatus(StrEnum):
    accepted = "accepted"        # 受理
    dispatched = "dispatched"    # 转办
    signed = "signed"            # 签收
    handling = "handling"        # 办理
    returned = "returned"        # 退回
    extended = "extended"        # 延期
    completed = "completed"      # 办结
    revisited = "revisited"      # 回访
    archived = "archived"        # 归档
    terminal = "terminal"        # 终结件 (Ziyang art. 15)

    @property
    def label(self) -> str:
        return ORDER_STATUS_LABELS[self]


ORDER_STATUS_LABELS = {
    OrderStatus.accepted: "受理", OrderStatus.dispatched: "转办", OrderStatus.signed: "签收",
    OrderStatus.handling: "办理", OrderStatus.returned: "退回", OrderStatus.extended: "延期",
    OrderStatus.completed: "办结", OrderStatus.revisited: "回访", OrderStatus.archived: "归档",
    OrderStatus.terminal: "终结件",
}


class Channel(StrEnum):
    phone = "phone"
    web = "web"
    letter = "letter"
    visit = "visit"


class EmergencyService(StrEnum):
    police = "110"
    fire = "119"
    ambulance = "120"


# IVR choice (HOTLINE_CATEGORY channel variable, as in the recordings: "complaint") → category.
IVR_CATEGORY = {c.value: c for c in Category}
