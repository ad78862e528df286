"""SLA policies as data: one YAML file per city (`policies/<city>.yaml`), read into typed rules.

A rule says: for these categories and urgencies, the deadline of `kind` falls `within` a span counted on one
clock from an anchor event, and which article says so. A rule naming urgencies beats a general rule of the
same kind (e.g. Foshan's 10-minute emergency dispatch replaces the 1-hour one).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from hotline.domain import Category, Urgency

POLICY_DIR = Path(__file__).parent / "policies"

# span units → (clock, hours per unit)
UNITS: dict[str, tuple[str, float]] = {
    "clock_minutes": ("clock", 1 / 60),
    "clock_hours": ("clock", 1),
    "office_hours": ("office", 1),              # 工作小时: office hours of working days
    "working_day_hours": ("working_day", 1),    # "N小时内（非工作日除外）": clock skipping non-working days
    "working_days": ("working_day", 24),        # 工作日: 24 h of working-day time each
}
ANCHORS = {"received", "accepted", "dispatched", "unit_accepted", "handled", "temp_closed",
           "progress_reported"}


class PolicyError(ValueError):
    """A policy file that does not say what it must."""


@dataclass(frozen=True, slots=True)
class Span:
    clock: str  # clock | office | working_day
    length: dt.timedelta
    text: str   # "5 working_days", for messages

    @classmethod
    def parse(cls, raw: Any, where: str) -> Span:
        if not isinstance(raw, dict) or len(raw) != 1:
            raise PolicyError(f"{where}: a span is one of {sorted(UNITS)} with a number, got {raw!r}")
        ((unit, amount),) = raw.items()
        if unit not in UNITS or not isinstance(amount, int | float) or amount <= 0:
            raise PolicyError(f"{where}: bad span {raw!r}; units: {sorted(UNITS)}, amount > 0")
        clock, hours = UNITS[unit]
        return cls(clock, dt.timedelta(hours=amount * hours), f"{amount} {unit}")


@dataclass(frozen=True, slots=True)
class Extension:
    max_count: int
    add: Span | None            # each extension adds this to the current due
    extend_to: Span | None      # or: the extended due is this span from the rule's anchor
    request_before: Span | None  # the request must come at least this long before the due
    article: str


@dataclass(frozen=True, slots=True)
class Rule:
    kind: str
    label: str                          # Chinese name of the step (签收, 办结, ...)
    categories: frozenset[Category]
    urgencies: frozenset[Urgency] | None  # None: any urgency (a general rule)
    anchors: tuple[str, ...]            # first known event starts the clock; "due:<kind>" = that deadline
    within: Span
    article: str                        # the citation stored with every deadline
    extension: Extension | None = None
    not_extendable: str | None = None   # why not, when the regulation says so explicitly
    recurring: bool = False


@dataclass(frozen=True, slots=True)
class AlertConfig:
    near_due_ratio: float = 0.8   # near due once this share of the allowed span has elapsed
    near_due_labels: tuple[str, str] = ("临期", "超期")


@dataclass(frozen=True, slots=True)
class Policy:
    city: str
    title: str
    document: str
    rules: tuple[Rule, ...]
    alerts: AlertConfig
    repeat_rules: dict[str, Any] = field(default_factory=dict)

    def rules_for(self, category: Category, urgency: Urgency) -> tuple[Rule, ...]:
        """The rules that apply, one per kind: urgency-specific rules replace general ones."""
        chosen: dict[str, Rule] = {}
        for rule in self.rules:
            if category not in rule.categories:
                continue
            if rule.urgencies is not None and urgency not in rule.urgencies:
                continue
            current = chosen.get(rule.kind)
            if current is None or (current.urgencies is None and rule.urgencies is not None):
                chosen[rule.kind] = rule
        return tuple(chosen.values())


def _categories(raw: Any, groups: dict[str, list[str]], where: str) -> frozenset[Category]:
    names = raw if isinstance(raw, list) else [raw]
    out: set[Category] = set()
    for name in names:
        if name == "all":
            out.update(Category)
        elif name in groups:
            out.update(_categories(groups[name], groups, where))
        else:
            try:
                out.add(Category(name))
            except ValueError:
                raise PolicyError(f"{where}: unknown category or group {name!r}") from None
    return frozenset(out)


def _rule(raw: dict[str, Any], groups: dict[str, list[str]], document: str, where: str) -> Rule:
    try:
        kind, label, article = raw["kind"], raw["label"], raw["article"]
    except KeyError as exc:
        raise PolicyError(f"{where}: missing {exc.args[0]!r}") from None
    anchors = tuple(raw.get("from", ["dispatched"]) if isinstance(raw.get("from"), list)
                    else [raw.get("from", "dispatched")])
    for anchor in anchors:
        if anchor not in ANCHORS and not anchor.startswith("due:"):
            raise PolicyError(f"{where}: unknown anchor {anchor!r}; known: {sorted(ANCHORS)} or due:<kind>")
    urgencies = raw.get("urgencies")
    try:
        urg = None if urgencies in (None, "all") else frozenset(Urgency(u) for u in urgencies)
    except ValueError as exc:
        raise PolicyError(f"{where}: {exc}") from None
    extension = None
    if (ext := raw.get("extension")) is not None:
        add = Span.parse(ext["add"], f"{where}.extension.add") if "add" in ext else None
        to = Span.parse(ext["extend_to"], f"{where}.extension.extend_to") if "extend_to" in ext else None
        if (add is None) == (to is None):
            raise PolicyError(f"{where}.extension: give exactly one of 'add' or 'extend_to'")
        before = Span.parse(ext["request_before"], f"{where}.extension") if "request_before" in ext else None
        extension = Extension(int(ext.get("max", 1)), add, to, before, f"{document} {ext['article']}")
    return Rule(kind=kind, label=label, categories=_categories(raw.get("categories", "all"), groups, where),
                urgencies=urg, anchors=anchors, within=Span.parse(raw.get("within"), where),
                article=f"{document} {article}", extension=extension,
                not_extendable=raw.get("not_extendable"), recurring=bool(raw.get("recurring", False)))


def parse_policy(data: dict[str, Any], source: str = "<policy>") -> Policy:
    try:
        city, title, document = data["city"], data["title"], data["document"]
        raw_rules = data["rules"]
    except (KeyError, TypeError) as exc:
        raise PolicyError(f"{source}: missing {exc}") from None
    groups = data.get("groups", {})
    rules = tuple(_rule(r, groups, document, f"{source} rule {i} ({r.get('kind')})") for i, r in enumerate(raw_rules))
    alerts_raw = data.get("alerts", {})
    alerts = AlertConfig(float(alerts_raw.get("near_due_ratio", 0.8)),
                         (alerts_raw.get("near_due_label", "临期"), alerts_raw.get("overdue_label", "超期")))
    if not 0 < alerts.near_due_ratio < 1:
        raise PolicyError(f"{source}: alerts.near_due_ratio must lie between 0 and 1")
    return Policy(city, title, document, rules, alerts, data.get("repeat_rules", {}))


@lru_cache(maxsize=8)
def load_policy(city: str) -> Policy:
    """The policy of `city` (settings.city_policy): `hotline/sla/policies/<city>.yaml`."""
    path = POLICY_DIR / f"{city}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in POLICY_DIR.glob("*.yaml"))
        raise PolicyError(f"no SLA policy for city {city!r}; known: {known}")
    return parse_policy(yaml.safe_load(path.read_text(encoding="utf-8")), str(path))
