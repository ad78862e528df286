"""The rendered Asterisk configuration: parsed with pyst2's config parser, every cross-reference checked,
secrets only from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.config import load_acd_config
from asterisk_config import checks
from asterisk_config.parse import dialplan_steps, load_sections, resolved
from asterisk_config.render import FILES, TEMPLATES, Deployment, MissingSecret, render, write
from hotline.settings import PROJECT_ROOT
from ivr.app import FLOWS

CONFIG = load_acd_config()
SECRETS = {"HOTLINE_AMI_SECRET": "ami-test-secret",
           **{f"HOTLINE_SEAT_PASSWORD_{seat.id}": f"seat-{seat.id}-pw" for seat in CONFIG.seats}}


@pytest.fixture(scope="module")
def conf_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("asterisk")
    write(out, render(CONFIG, Deployment(agi_host="10.0.0.5", agi_port=4573), SECRETS))
    return out


def test_every_file_is_rendered_and_parses_with_pyst2(conf_dir: Path) -> None:
    for name in FILES:
        sections = load_sections(conf_dir / name)
        assert sections or name == "acl.conf", name


def test_queues_cross_reference(conf_dir: Path) -> None:
    assert checks.check_queues(conf_dir, CONFIG) == []


def test_contexts_cross_reference(conf_dir: Path) -> None:
    assert checks.check_contexts(conf_dir) == []


def test_agi_urls_point_at_the_ivr_service(conf_dir: Path) -> None:
    assert checks.check_agi(conf_dir, "10.0.0.5", 4573, tuple(FLOWS)) == []
    assert checks.check_agi(conf_dir, "127.0.0.1", 4573, tuple(FLOWS)), "a wrong IVR host must be reported"


def test_endpoints_rooms_and_transfer_codes(conf_dir: Path) -> None:
    assert checks.check_endpoints_and_rooms(conf_dir, CONFIG) == []


def test_every_dialplan_application_has_its_module_loaded(conf_dir: Path) -> None:
    assert checks.check_modules(conf_dir) == []
    modules = (conf_dir / "modules.conf").read_text(encoding="utf-8")
    assert "autoload = no" in modules and "load => app_queue.so" in modules


def test_manager_user_may_send_every_action_the_platform_uses(conf_dir: Path) -> None:
    used = checks.actions_used_by(PROJECT_ROOT, checks.PLATFORM_PACKAGES)
    # the one-key transfer, three-way calls and agent states need at least these
    used |= {"QueueAdd", "QueueRemove", "QueuePause", "QueuePenalty", "QueueStatus", "CoreShowChannels",
             "Redirect", "BlindTransfer", "Originate", "Hangup", "ConfbridgeList", "Ping"}
    assert checks.check_manager(conf_dir, "hotline", used) == []
    assert checks.check_manager(conf_dir, "hotline", {"MixMonitor"}), "system-class actions must be refused"


def test_manager_privileges_are_least(conf_dir: Path) -> None:
    section = next(s for s in load_sections(conf_dir / "manager.conf") if s.name == "hotline")
    assert set(section.get("write").split(",")) == {"call", "agent", "originate", "reporting"}
    assert "all" not in section.get("read").split(",")
    assert any(name.startswith("eventfilter(action(exclude)") for name, _ in section.items)


def test_per_skill_queue_penalties_and_widening_come_from_the_platform_config(conf_dir: Path) -> None:
    rules = {s.name: s.getall("penaltychange") for s in load_sections(conf_dir / "queuerules.conf")}
    general = CONFIG.queue("hotline-general")
    assert rules[general.rule_name] == [f"{step.after},{step.max_penalty}" for step in general.widen]
    queues = {s.name: s for s in load_sections(conf_dir / "queues.conf")}
    assert queues["hotline-general"].get("strategy") == general.strategy
    assert queues["hotline-general"].get("timeout") == str(general.timeout)


def test_the_12345_entry_runs_ivr_then_queue_with_priority(conf_dir: Path) -> None:
    steps, _ = dialplan_steps(conf_dir / "extensions.conf")
    entry = [s for s in steps["from-carrier"] if s.exten == "12345"]
    apps = [s.app for s in entry]
    assert apps.index("Answer") < apps.index("MixMonitor") < apps.index("AGI")
    assert any(s.app == "Set" and s.args.startswith("QUEUE_PRIO=") for s in entry)
    assert "${UNIQUEID}" in next(s for s in entry if s.app == "MixMonitor").args
    first_step = {}
    for step in steps["hotline-after-queue"]:
        first_step.setdefault(step.exten, step)
    assert first_step["CONTINUE"].app == "AGI" and first_step["CONTINUE"].args.endswith("/survey")


def test_webrtc_seats_use_the_wss_transport(conf_dir: Path) -> None:
    sections = load_sections(conf_dir / "pjsip.conf")
    for seat in CONFIG.seats:
        endpoint = next(s for s in sections if s.name == seat.id and resolved(sections, s).get("type") == "endpoint")
        settings = resolved(sections, endpoint)
        assert (settings.get("webrtc") == "yes") == (seat.softphone == "webrtc")
    assert any(s.name == "transport-wss" and s.get("protocol") == "wss" for s in sections)


def test_secrets_come_from_the_environment_only(conf_dir: Path) -> None:
    manager = (conf_dir / "manager.conf").read_text(encoding="utf-8")
    assert "secret = ami-test-secret" in manager
    assert "password = seat-1001-pw" in (conf_dir / "pjsip.conf").read_text(encoding="utf-8")
    for template in TEMPLATES.iterdir():
        text = template.read_text(encoding="utf-8")
        assert "ami-test-secret" not in text and "seat-1001-pw" not in text
    with pytest.raises(MissingSecret, match="HOTLINE_SEAT_PASSWORD_1001"):
        render(CONFIG, Deployment(), {k: v for k, v in SECRETS.items() if k != "HOTLINE_SEAT_PASSWORD_1001"})
    with pytest.raises(MissingSecret, match="line breaks"):
        render(CONFIG, Deployment(), {**SECRETS, "HOTLINE_AMI_SECRET": "x\n[evil]"})
    assert (conf_dir / "manager.conf").stat().st_mode & 0o077 == 0
