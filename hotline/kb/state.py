"""The review life cycle of an article, as a state machine whose transitions are named after their events.

draft --submitted--> pending_review --approved / auto_accepted--> published --retired--> retired
pending_review --rejected--> draft;  draft --imported--> published (审批信息 arrive through the data
interface already approved, Foshan art. 51(4));  published --revised--> published (the owner unit keeps its
information current, Ziyang art. 17: 谁提供、谁负责、谁更新).
"""

from __future__ import annotations

from enum import StrEnum


class ArticleStatus(StrEnum):
    draft = "draft"                    # 草稿
    pending_review = "pending_review"  # 待审核
    published = "published"            # 已发布
    retired = "retired"                # 已下架

    @property
    def label(self) -> str:
        return {"draft": "草稿", "pending_review": "待审核", "published": "已发布", "retired": "已下架"}[self.value]


class ArticleType(StrEnum):
    """Foshan art. 51: the five kinds of information and how each is collected."""

    basic = "basic"            # 基本信息: functions, scope, contacts of a member unit
    business = "business"      # 业务信息: laws, policies, guides, FAQs
    collected = "collected"    # 收集信息: gathered by agents, confirmed by the unit (auto-accepted after 22 h)
    approval = "approval"      # 审批信息: approval guides imported through the data interface
    outlet = "outlet"          # 网点信息: service halls, hours, queues

    @property
    def label(self) -> str:
        return {"basic": "基本信息", "business": "业务信息", "collected": "收集信息", "approval": "审批信息",
                "outlet": "网点信息"}[self.value]


class ArticleEvent(StrEnum):
    submitted = "submitted"
    approved = "approved"
    rejected = "rejected"
    auto_accepted = "auto_accepted"
    imported = "imported"
    revised = "revised"
    retired = "retired"


S, E = ArticleStatus, ArticleEvent
TRANSITIONS: dict[tuple[ArticleStatus, ArticleEvent], ArticleStatus] = {
    (S.draft, E.submitted): S.pending_review,
    (S.draft, E.revised): S.draft,
    (S.draft, E.imported): S.published,
    (S.draft, E.retired): S.retired,
    (S.pending_review, E.approved): S.published,
    (S.pending_review, E.auto_accepted): S.published,
    (S.pending_review, E.rejected): S.draft,
    (S.pending_review, E.revised): S.pending_review,
    (S.pending_review, E.retired): S.retired,
    (S.published, E.revised): S.published,
    (S.published, E.retired): S.retired,
}
del S, E


class TransitionError(ValueError):
    """An event that the article's current state does not accept."""


def next_status(status: ArticleStatus | str, event: ArticleEvent) -> ArticleStatus:
    current = ArticleStatus(status)
    try:
        return TRANSITIONS[(current, event)]
    except KeyError:
        raise TransitionError(f"article in state {current.value} cannot be {event.value}") from None
