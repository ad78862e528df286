"""Cross-reference checks over a rendered Asterisk configuration directory. Each check returns the
problems it found (empty = fine), so the tests and `python -m asterisk_config check DIR` share them."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from acd.config import AcdConfig
from asterisk_config.ami_privileges import ACTION_PRIVILEGES, permitted
from asterisk_config.parse import Step, dialplan_steps, load_sections, resolved

# Contexts the platform itself sends calls into over AMI (Redirect, BlindTransfer, Originate).
PLATFORM_PACKAGES = ("hotline", "bridge", "acd", "agent_console", "ivr", "metrics")
AMI_TARGET_CONTEXTS = ("transfer-emergency", "threeway-citizen", "threeway-member", "hotline-experts",
                       "from-agents")


def _split_args(args: str) -> list[str]:
    return [a.strip() for a in args.split(",")]


def check_queues(conf_dir: Path, config: AcdConfig) -> list[str]:
    problems = []
    queues = {s.name for s in load_sections(conf_dir / "queues.conf")} - {"general"}
    rules = {s.name for s in load_sections(conf_dir / "queuerules.conf")}
    configured = {q.name for q in config.queues}
    if queues != configured:
        problems.append(f"queues.conf {sorted(queues)} differs from acd/skills.yaml {sorted(configured)}")
    for section in load_sections(conf_dir / "queues.conf"):
        rule = section.get("defaultrule")
        if rule and rule not in rules:
            problems.append(f"queue {section.name}: defaultrule {rule} missing in queuerules.conf")
    steps, _ = dialplan_steps(conf_dir / "extensions.conf")
    for step in _all(steps):
        if step.app == "Queue":
            args = _split_args(step.args)
            if args[0] not in queues:
                problems.append(f"extensions.conf:{step.line}: Queue({args[0]}) is not in queues.conf")
            if len(args) > 7 and args[7] and args[7] not in rules:
                problems.append(f"extensions.conf:{step.line}: queue rule {args[7]} is not in queuerules.conf")
    return problems


def _all(steps: dict[str, list[Step]]) -> Iterable[Step]:
    for context_steps in steps.values():
        yield from context_steps


def check_contexts(conf_dir: Path) -> list[str]:
    problems = []
    steps, includes = dialplan_steps(conf_dir / "extensions.conf")
    contexts = set(steps)
    referenced: list[tuple[str, str]] = []
    for step in _all(steps):
        if step.app in ("Goto", "GotoIf"):
            branches = step.args.rsplit("?", 1)[1].split(":") if step.app == "GotoIf" else [step.args]
            for branch in branches:
                parts = _split_args(branch)
                if len(parts) == 3:  # context,exten,priority (a lone label stays in its context)
                    referenced.append((parts[0], f"extensions.conf:{step.line}"))
    for context, included in includes.items():
        referenced += [(name, f"include in [{context}]") for name in included]
    pjsip = load_sections(conf_dir / "pjsip.conf")
    for section in pjsip:
        settings = resolved(pjsip, section)
        if settings.get("type") == "endpoint" and not section.is_template:
            referenced.append((settings.get("context", ""), f"pjsip endpoint {section.name}"))
    for section in load_sections(conf_dir / "queues.conf"):
        if section.get("context"):
            referenced.append((section.get("context") or "", f"queue {section.name}"))
    referenced += [(name, "platform AMI actions") for name in AMI_TARGET_CONTEXTS]
    for name, where in referenced:
        if "${" in name:
            continue  # computed at run time; the literal candidates are checked where they are set
        if name not in contexts:
            problems.append(f"{where}: context {name!r} does not exist")
    return problems


def check_agi(conf_dir: Path, host: str, port: int, flows: Iterable[str]) -> list[str]:
    """Every AGI() in the dialplan is a FastAGI URL on the IVR service naming a flow the IVR serves.
    The dialplan is read by the IVR's own reader (hotline.fastagi.dialplan), which it also runs at start-up."""
    from hotline.fastagi.dialplan import agi_calls

    problems = []
    known = set(flows)
    calls = agi_calls(conf_dir / "extensions.conf")
    if not calls:
        problems.append("extensions.conf calls no FastAGI script at all")
    for call in calls:
        location = urlsplit(call.url)
        if (location.hostname, location.port) != (host, port):
            problems.append(f"[{call.context}] AGI({call.url}) does not point at the IVR service {host}:{port}")
        elif call.script not in known:
            problems.append(f"[{call.context}] AGI({call.url}): the IVR has no flow {call.script!r}")
    return problems


def check_endpoints_and_rooms(conf_dir: Path, config: AcdConfig) -> list[str]:
    problems = []
    pjsip = load_sections(conf_dir / "pjsip.conf")
    endpoints = {s.name for s in pjsip if not s.is_template and resolved(pjsip, s).get("type") == "endpoint"}
    for seat in config.seats:
        if seat.id not in endpoints:
            problems.append(f"seat {seat.id} has no pjsip endpoint")
    bridge_profiles, user_profiles = set(), {}
    for section in load_sections(conf_dir / "confbridge.conf"):
        kind = section.get("type")
        if kind == "bridge":
            bridge_profiles.add(section.name)
        elif kind == "user":
            user_profiles[section.name] = dict(section.items)
    steps, _ = dialplan_steps(conf_dir / "extensions.conf")
    for step in _all(steps):
        if step.app == "Dial":
            target = _split_args(step.args)[0]
            match = re.fullmatch(r"PJSIP/(?:[^@]+@)?([\w-]+|\$\{EXTEN\})", target)
            if match and "${" not in match[1] and match[1] not in endpoints:
                problems.append(f"extensions.conf:{step.line}: Dial({target}): no endpoint {match[1]}")
        if step.app == "ConfBridge":
            args = _split_args(step.args)
            if len(args) < 3 or args[1] not in bridge_profiles or args[2] not in user_profiles:
                problems.append(f"extensions.conf:{step.line}: ConfBridge({step.args}) names a missing profile")
    citizen = user_profiles.get("hotline_citizen", {})
    member = user_profiles.get("hotline_member", {})
    if citizen.get("marked") != "yes" or member.get("end_marked") != "yes":
        problems.append("confbridge.conf: the citizen must be marked and the others end_marked")
    features = {name: value for s in load_sections(conf_dir / "features.conf") for name, value in s.items}
    if not features.get("atxfer"):
        problems.append("features.conf: no atxfer code (AMI Atxfer would fail)")
    return problems


def check_modules(conf_dir: Path) -> list[str]:
    """Every application and function the dialplan uses comes from a module modules.conf loads."""
    from asterisk_config.modules import APP_MODULES, FUNCTION_MODULES

    loaded = {s for _name, s in next(iter(load_sections(conf_dir / "modules.conf"))).items if _name == "load"}
    problems = []
    steps, _ = dialplan_steps(conf_dir / "extensions.conf")
    text = (conf_dir / "extensions.conf").read_text(encoding="utf-8")
    for step in _all(steps):
        module = APP_MODULES.get(step.app)
        if module is None:
            problems.append(f"extensions.conf:{step.line}: application {step.app} has no module in APP_MODULES")
        elif module != "pbx" and module not in loaded:
            problems.append(f"extensions.conf:{step.line}: {step.app} needs {module}, which is not loaded")
    for function, module in FUNCTION_MODULES.items():
        if f"{function}(" in text and module not in loaded:
            problems.append(f"extensions.conf uses {function}() but {module} is not loaded")
    return problems


def check_manager(conf_dir: Path, user: str, actions: Iterable[str]) -> list[str]:
    problems = []
    section = next((s for s in load_sections(conf_dir / "manager.conf") if s.name == user), None)
    if section is None:
        return [f"manager.conf: no user [{user}]"]
    write = tuple(c.strip() for c in (section.get("write") or "").split(","))
    if "all" in write or "system" in write:
        problems.append("manager.conf: the platform's user must not have write=all or system")
    for action in sorted(set(actions)):
        if action not in ACTION_PRIVILEGES:
            problems.append(f"AMI action {action} is unknown to ami_privileges.ACTION_PRIVILEGES")
        elif not permitted(action, write):
            problems.append(f"manager user {user} may not send {action} (write={','.join(write)})")
    return problems


ACTION_IN_CODE = re.compile(r"""["']Action["']\s*:\s*["'](?P<name>[A-Za-z]+)["']""")


def actions_used_by(root: Path, packages: Iterable[str]) -> set[str]:
    """The AMI actions the platform's code sends (`{"Action": "Name", ...}` literals)."""
    found: set[str] = set()
    for package in packages:
        for path in (root / package).rglob("*.py"):
            found.update(m["name"] for m in ACTION_IN_CODE.finditer(path.read_text(encoding="utf-8")))
    return found
