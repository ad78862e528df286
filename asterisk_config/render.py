"""Renders the Asterisk 22 configuration from the platform's own configuration (acd/skills.yaml) and the
environment. Secrets (AMI secret, seat passwords) come only from the environment at render time."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from acd.config import AcdConfig, load_acd_config
from asterisk_config.ami_privileges import EXCLUDED_EVENTS, EXCLUDED_VARSETS, READ_CLASSES, WRITE_CLASSES
from asterisk_config.modules import LOADS
from hotline.domain import EmergencyService

TEMPLATES = Path(__file__).with_name("templates")
FILES = ("pjsip.conf", "extensions.conf", "queues.conf", "queuerules.conf", "confbridge.conf", "features.conf",
         "manager.conf", "musiconhold.conf", "modules.conf", "logger.conf", "http.conf", "rtp.conf", "cdr.conf",
         "cel.conf", "acl.conf", "udptl.conf", "pjproject.conf", "indications.conf", "ccss.conf")


class MissingSecret(RuntimeError):
    pass


@dataclass
class Deployment:
    """Where things are; read from HOTLINE_* variables by `from_env`."""

    agi_host: str = "127.0.0.1"
    agi_port: int = 4573
    ami_user: str = "hotline"
    ami_port: int = 5038
    ami_bind: str = "127.0.0.1"
    ami_permit: list[str] = field(default_factory=lambda: ["127.0.0.1/255.255.255.255"])
    sip_bind: str = "0.0.0.0"
    sip_port: int = 5060
    http_bind: str = "0.0.0.0"
    carrier_host: str = "127.0.0.1:5070"
    emergency_gateway: str = "127.0.0.1:7000"
    recordings_dir: str = "/var/spool/asterisk/monitor/hotline"
    tls_cert: str = "/etc/asterisk/keys/asterisk.crt"
    tls_key: str = "/etc/asterisk/keys/asterisk.key"
    rtp_start: int = 10000
    rtp_end: int = 20000
    announce_frequency: int = 45
    default_queue: str = "hotline-general"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Deployment:
        deployment = cls()
        for name, current in vars(cls()).items():
            raw = env.get(f"HOTLINE_AST_{name.upper()}")
            if raw is None:
                continue
            if isinstance(current, int):
                setattr(deployment, name, int(raw))
            elif isinstance(current, list):
                setattr(deployment, name, [part.strip() for part in raw.split(",") if part.strip()])
            else:
                setattr(deployment, name, raw)
        deployment.agi_port = int(env.get("HOTLINE_FASTAGI_PORT", deployment.agi_port))
        deployment.ami_port = int(env.get("HOTLINE_AMI_PORT", deployment.ami_port))
        deployment.ami_user = env.get("HOTLINE_AMI_USER", deployment.ami_user)
        return deployment


def secrets_from_env(config: AcdConfig, env: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    ami_secret = env.get("HOTLINE_AMI_SECRET", "")
    from_file: dict[str, str] = {}
    if env.get("HOTLINE_SEAT_PASSWORDS_FILE"):  # a mounted secret: `seat id: password` lines (YAML)
        loaded = yaml.safe_load(Path(env["HOTLINE_SEAT_PASSWORDS_FILE"]).read_text(encoding="utf-8")) or {}
        from_file = {str(k): str(v) for k, v in loaded.items()}
    passwords = {seat.id: env.get(f"HOTLINE_SEAT_PASSWORD_{seat.id}") or from_file.get(seat.id, "")
                 for seat in config.seats}
    missing = ([] if ami_secret else ["HOTLINE_AMI_SECRET"]) + [
        f"HOTLINE_SEAT_PASSWORD_{seat}" for seat, password in passwords.items() if not password]
    if missing:
        raise MissingSecret("set these in the environment before rendering: " + ", ".join(missing))
    for name, value in [("HOTLINE_AMI_SECRET", ami_secret), *passwords.items()]:
        if any(c in value for c in "\r\n;"):
            raise MissingSecret(f"{name}: a secret may not contain ';' or line breaks (Asterisk comment/line)")
    return ami_secret, passwords


def render(config: AcdConfig, deployment: Deployment, env: Mapping[str, str]) -> dict[str, str]:
    ami_secret, seat_passwords = secrets_from_env(config, env)
    jinja = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined, trim_blocks=True,
                        lstrip_blocks=True, keep_trailing_newline=True, autoescape=False)
    context = {
        **vars(deployment),
        "queues": config.queues,
        "seats": config.seats,
        "seat_passwords": seat_passwords,
        "ami_secret": ami_secret,
        "ami_read": READ_CLASSES,
        "ami_write": WRITE_CLASSES,
        "excluded_events": EXCLUDED_EVENTS,
        "excluded_varsets": EXCLUDED_VARSETS,
        "emergency_numbers": [service.value for service in EmergencyService],
        "modules": LOADS,
    }
    return {name: jinja.get_template(f"{name}.j2").render(context) for name in FILES}


def write(out_dir: Path, files: dict[str, str]) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in files.items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        if name in ("manager.conf", "pjsip.conf"):
            path.chmod(0o600)  # they hold secrets
        written.append(path)
    return written


def render_from_env(out_dir: Path, config_path: Path | None = None, env: Mapping[str, str] | None = None) -> list[Path]:
    env = os.environ if env is None else env
    config = load_acd_config(config_path)
    return write(out_dir, render(config, Deployment.from_env(env), env))
