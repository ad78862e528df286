"""Policy files: selection by city, validation, citations."""

from __future__ import annotations

import pytest

from hotline.domain import Category, Urgency
from hotline.settings import Settings
from hotline.sla import PolicyError, load_policy
from hotline.sla.policy import parse_policy


def test_settings_select_the_city_file() -> None:
    for city in ("ziyang", "foshan"):
        policy = load_policy(Settings(city_policy=city).city_policy)
        assert policy.city == city
    with pytest.raises(PolicyError, match="no SLA policy for city 'atlantis'"):
        load_policy("atlantis")


def test_every_rule_cites_an_article() -> None:
    for city in ("ziyang", "foshan"):
        policy = load_policy(city)
        for rule in policy.rules:
            assert rule.article.startswith(policy.document + " 第"), rule
            assert "条" in rule.article and rule.label
            if rule.extension:
                assert "条" in rule.extension.article


def test_urgency_rules_replace_general_ones() -> None:
    foshan = load_policy("foshan")
    dispatch = {r.kind: r for r in foshan.rules_for(Category.help, Urgency.special_urgent)}["dispatch"]
    assert dispatch.within.text == "10 clock_minutes"
    dispatch = {r.kind: r for r in foshan.rules_for(Category.help, Urgency.normal)}["dispatch"]
    assert dispatch.within.text == "1 office_hours"


BASE = {"city": "x", "title": "t", "document": "d"}


@pytest.mark.parametrize(("rules", "message"), [
    ([{"kind": "sign", "label": "签收", "within": {"office_hours": 5}}], "missing 'article'"),
    ([{"kind": "sign", "label": "签收", "article": "第一条", "within": {"fortnights": 1}}], "bad span"),
    ([{"kind": "sign", "label": "签收", "article": "第一条", "within": {"office_hours": -1}}], "bad span"),
    ([{"kind": "sign", "label": "签收", "article": "第一条", "within": {"office_hours": 1}, "from": "dawn"}],
     "unknown anchor"),
    ([{"kind": "sign", "label": "签收", "article": "第一条", "within": {"office_hours": 1},
       "categories": ["gossip"]}], "unknown category"),
    ([{"kind": "complete", "label": "办结", "article": "第一条", "within": {"working_days": 1},
       "extension": {"article": "第二条"}}], "exactly one of"),
])
def test_bad_policies_are_refused_clearly(rules: list, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_policy({**BASE, "rules": rules})
