"""SLA policies (one YAML file per city), the working calendar and the deadline engine."""

from hotline.sla.alerts import Alert, AlertLevel, Thresholds, evaluate
from hotline.sla.calendar import CalendarUnavailable, WorkCalendar
from hotline.sla.engine import Deadline, DeadlineEngine, ExtensionRefused
from hotline.sla.policy import Policy, PolicyError, load_policy

__all__ = [
    "Alert", "AlertLevel", "CalendarUnavailable", "Deadline", "DeadlineEngine", "ExtensionRefused", "Policy",
    "PolicyError", "Thresholds", "WorkCalendar", "evaluate", "load_policy",
]
