"""The simulator configured from the Asterisk files the platform renders (asterisk_config, from acd/skills.yaml):
queues.conf, queuerules.conf and the `[hotline-queue]` context of extensions.conf, read with asterisk_config's
own parser. The simulator then runs what Asterisk would load, so the two cannot disagree: a setting or a
dialplan step that changes routing and that pbxsim does not model is refused here instead of being ignored."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

from pbxsim.config import QueueConfig, QueueEntry, SimConfig
from pbxsim.rules import PenaltyChange, rule_lists

RENDERED = ("queues.conf", "queuerules.conf", "extensions.conf")
QUEUE_CONTEXT = "hotline-queue"

# queues.conf settings: the ones the simulator models, and the ones that do not change who is rung when
# (announcements, variables, the exit-key context: see docs/areas/pbxsim.md "What is not modelled")
_GENERAL_MODELLED = {"autofill", "shared_lastcall"}
_GENERAL_IRRELEVANT = {"persistentmembers", "log_membername_as_agent", "monitor-type", "updatecdr",
                       "log_unpause_on_reason_change"}
_QUEUE_MODELLED = {"strategy", "timeout", "retry", "wrapuptime", "servicelevel", "joinempty", "leavewhenempty",
                   "ringinuse", "defaultrule", "autofill", "timeoutpriority", "penaltymemberslimit"}
_QUEUE_IRRELEVANT = {"context", "musicclass", "announce-frequency", "announce-position", "announce-holdtime",
                     "announce-position-limit", "announce-round-seconds", "min-announce-frequency",
                     "periodic-announce", "periodic-announce-frequency", "setinterfacevar", "setqueuevar",
                     "setqueueentryvar", "reportholdtime", "announce", "queue-youarenext", "queue-thereare",
                     "queue-callswaiting", "queue-holdtime", "queue-minutes", "queue-seconds",
                     "queue-thankyou", "queue-reporthold", "maxlen"}

_SKIP_IF_EMPTY = re.compile(r'^\$\["\$\{(?P<var>\w+)\}" = ""\]\?\w+$')
_DIAL_VARIABLE = re.compile(r"^PJSIP/\$\{(?P<var>\w+)\},(?P<timeout>\d+)(?:,(?P<options>\w*))?$")
_AFTER_ANSWER = re.compile(r'^\$\["\$\{DIALSTATUS\}" = "ANSWER"\]\?[\w-]+,\w+,1$')
_AFTER_QUEUE = re.compile(r"^[\w-]+,\$\{QUEUESTATUS\},1$")
_LITERAL_SET = re.compile(r"^(?P<name>\w+)=(?P<value>[^$]*)$")


class UnsupportedConfig(ValueError):
    """The rendered configuration asks for something the simulator does not model."""


def _true(value: str) -> bool:
    return value.strip().lower() in ("yes", "true", "y", "t", "1", "on")


def _false(value: str) -> bool:
    return value.strip().lower() in ("no", "false", "n", "f", "0", "off")


def load_queues(path: Path) -> list[QueueConfig]:
    from asterisk_config.parse import load_sections

    queues = []
    general_autofill = False     # queue_reset_global_params: autofill_default = 0
    for section in load_sections(path):
        settings = dict(section.items)
        if section.name == "general":
            unknown = set(settings) - _GENERAL_MODELLED - _GENERAL_IRRELEVANT
            if unknown:
                raise UnsupportedConfig(f"queues.conf [general]: pbxsim does not model {sorted(unknown)}")
            if not _true(settings.get("shared_lastcall", "no")):
                raise UnsupportedConfig("queues.conf: pbxsim models shared_lastcall = yes only")
            general_autofill = _true(settings.get("autofill", "no"))
            continue
        unknown = set(settings) - _QUEUE_MODELLED - _QUEUE_IRRELEVANT
        if unknown:
            raise UnsupportedConfig(f"queues.conf [{section.name}]: pbxsim does not model {sorted(unknown)}")
        if not _true(settings.get("joinempty", "yes")) or not _false(settings.get("leavewhenempty", "no")):
            raise UnsupportedConfig(f"queues.conf [{section.name}]: pbxsim models joinempty=yes, leavewhenempty=no")
        queues.append(QueueConfig(
            name=section.name, strategy=settings.get("strategy", "ringall"),
            timeout=float(settings.get("timeout", 15)), retry=float(settings.get("retry", 5)),
            wrapuptime=float(settings.get("wrapuptime", 0)), servicelevel=int(settings.get("servicelevel", 0)),
            ringinuse=_true(settings.get("ringinuse", "yes")), defaultrule=settings.get("defaultrule") or None,
            autofill=_true(settings["autofill"]) if "autofill" in settings else general_autofill,
            timeoutpriority=settings.get("timeoutpriority", "app"),
            penaltymemberslimit=int(settings.get("penaltymemberslimit", 0))))
    return queues


def load_rules(path: Path) -> dict[str, list[PenaltyChange]]:
    from asterisk_config.parse import load_sections

    return rule_lists((section.name, section.items) for section in load_sections(path))


def load_queue_entries(path: Path) -> dict[str, QueueEntry]:
    """`[hotline-queue]`: per queue, literal Set()s, then optionally the last agent's Dial() guarded by two
    GotoIf()s, then Queue() and the Goto() on QUEUESTATUS. Any other step is refused."""
    from asterisk_config.parse import dialplan_steps

    steps, _includes = dialplan_steps(path)
    by_exten: dict[str, list[Any]] = {}
    for step in steps.get(QUEUE_CONTEXT, []):
        by_exten.setdefault(step.exten, []).append(step)
    return {exten: _entry(exten, exten_steps) for exten, exten_steps in by_exten.items()}


def _entry(exten: str, steps: list[Any]) -> QueueEntry:
    variables: list[tuple[str, str]] = []
    values: dict[str, Any] = {}
    pending = list(steps)

    def refuse(step: Any) -> UnsupportedConfig:
        return UnsupportedConfig(f"extensions.conf:{step.line}: pbxsim does not run {step.app}({step.args}) "
                                 f"in [{QUEUE_CONTEXT}] {exten}")

    while pending and pending[0].app == "Set":
        match = _LITERAL_SET.match(pending[0].args)
        if not match:
            raise refuse(pending[0])
        variables.append((match["name"], match["value"]))
        pending.pop(0)
    if pending and pending[0].app == "GotoIf":
        skip, dial, answered = [*pending, None, None, None][:3]
        skip_match = _SKIP_IF_EMPTY.match(skip.args)
        dial_match = _DIAL_VARIABLE.match(dial.args) if dial is not None and dial.app == "Dial" else None
        if not (skip_match and dial_match and dial_match["var"] == skip_match["var"] and answered is not None
                and answered.app == "GotoIf" and _AFTER_ANSWER.match(answered.args)):
            raise refuse(skip)
        values |= {"last_agent_variable": dial_match["var"], "last_agent_timeout": float(dial_match["timeout"]),
                   "last_agent_options": dial_match["options"] or ""}
        del pending[:3]
    if not pending or pending[0].app != "Queue":
        raise refuse(pending[0]) if pending else UnsupportedConfig(f"[{QUEUE_CONTEXT}] {exten}: no Queue()")
    queue_step = pending.pop(0)
    args = [a.strip() for a in queue_step.args.split(",")] + [""] * 9
    if args[0] != exten or args[2] or args[3] or args[5] or args[6] or args[8]:
        raise refuse(queue_step)   # URL, announce override, AGI, gosub, position: not modelled
    values |= {"options": args[1], "timeout": float(args[4]) if args[4] else 0.0, "rule": args[7] or None}
    if pending and pending[0].app == "Goto" and _AFTER_QUEUE.match(pending[0].args):
        pending.pop(0)   # hotline-after-queue: the survey / callback AGI is not modelled; the call ends
    if pending:
        raise refuse(pending[0])
    return QueueEntry(queue=exten, variables=tuple(variables), **values)


def load_rendered(conf_dir: Path) -> tuple[list[QueueConfig], dict[str, list[PenaltyChange]], dict[str, QueueEntry]]:
    queues = load_queues(conf_dir / "queues.conf")
    rules = load_rules(conf_dir / "queuerules.conf")
    entries = load_queue_entries(conf_dir / "extensions.conf")
    for queue in queues:
        if queue.defaultrule and queue.defaultrule not in rules:
            raise UnsupportedConfig(f"queue {queue.name}: defaultrule {queue.defaultrule} is not in queuerules.conf")
        entry = entries.get(queue.name)
        if entry is not None:
            if entry.rule and entry.rule not in rules:
                raise UnsupportedConfig(f"[{QUEUE_CONTEXT}] {queue.name}: rule {entry.rule} is not in queuerules.conf")
            if entry.timeout:
                queue.max_wait = entry.timeout
    return queues, rules, entries


def sim_config_from_platform(acd_config: Any = None, **overrides: Any) -> SimConfig:
    """Render asterisk_config's files for `acd_config` (default: acd/skills.yaml) and configure the simulator
    from them. The AMI secret and seat passwords the renderer insists on are placeholders: only the three
    routing files are read, in a temporary directory, and then deleted."""
    from acd.config import default_acd_config
    from asterisk_config.render import Deployment, render, write

    config = acd_config or default_acd_config()
    deployment = Deployment()
    env = {"HOTLINE_AMI_SECRET": "pbxsim-placeholder",
           **{f"HOTLINE_SEAT_PASSWORD_{seat.id}": "pbxsim-placeholder" for seat in config.seats}}
    files = render(config, deployment, env)
    with tempfile.TemporaryDirectory(prefix="pbxsim-conf-") as tmp:
        write(Path(tmp), {name: files[name] for name in RENDERED})
        queues, rules, entries = load_rendered(Path(tmp))
    values: dict[str, Any] = {"queues": queues, "rules": rules, "queue_entries": entries,
                              "default_queue": deployment.default_queue,
                              "agent_numbers": tuple(seat.id for seat in config.seats)}
    values.update(overrides)
    return SimConfig(**values)
