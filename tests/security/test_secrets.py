"""Secrets only from the environment: nothing in the tracked files looks like a working secret default,
and the production entry points refuse to start without HOTLINE_AMI_SECRET / HOTLINE_SESSION_KEY."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECRET_NAME = re.compile(r"(secret|passw(or)?d|passwd|api_?key|token|session_key|private_key)", re.I)
# Where a literal is legitimate: the simulator plays the recorded rig's manager.conf login; the demo's
# constants are applied only with HOTLINE_DEMO=1 (hotline/settings.py); tests and benchmarks use their own.
ALLOWED_DIRS = ("tests/", "bench/", "pbxsim/")
ALLOWED_NAMES = {"DEMO_AMI_SECRET", "DEMO_SESSION_KEY"}
LOOKS_LIKE_KEY = [re.compile(p) for p in (r"-----BEGIN [A-Z ]*PRIVATE KEY-----", r"AKIA[0-9A-Z]{16}",
                                          r"ghp_[A-Za-z0-9]{36}", r"xox[baprs]-[A-Za-z0-9-]{10,}",
                                          r"sk-[A-Za-z0-9]{32,}")]


def tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if line]


def _literal_defaults(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, name) of every non-empty string literal bound to a secret-sounding name."""
    found = []

    def check(name: str | None, value: ast.AST | None, line: int) -> None:
        if (name and SECRET_NAME.search(name) and name not in ALLOWED_NAMES and isinstance(value, ast.Constant)
                and isinstance(value.value, str) and value.value.strip()):
            found.append((line, name))

    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                check(getattr(target, "id", getattr(target, "attr", None)), node.value, node.lineno)
        elif isinstance(node, ast.AnnAssign):
            check(getattr(node.target, "id", getattr(node.target, "attr", None)), node.value, node.lineno)
        elif isinstance(node, ast.keyword):
            check(node.arg, node.value, getattr(node.value, "lineno", 0))
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            args = node.args
            positional = args.posonlyargs + args.args
            for arg, default in zip(positional[len(positional) - len(args.defaults):], args.defaults, strict=True):
                check(arg.arg, default, node.lineno)
            for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
                check(arg.arg, default, node.lineno)
    return found


def test_no_secret_defaults_in_the_tracked_sources() -> None:
    offenders = []
    for rel in tracked_files():
        path = ROOT / rel
        if not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        offenders += [f"{rel}: matches {p.pattern}" for p in LOOKS_LIKE_KEY if p.search(text)]
        if rel.endswith(".py") and not rel.startswith(ALLOWED_DIRS):
            offenders += [f"{rel}:{line}: {name} = <literal>" for line, name in _literal_defaults(ast.parse(text))]
        if re.search(r"\.(env|ini|conf|ya?ml|toml)$", rel) and not rel.startswith(ALLOWED_DIRS):
            for n, line in enumerate(text.splitlines(), 1):
                key, sep, value = line.partition("=") if "=" in line else line.partition(":")
                if sep and SECRET_NAME.search(key) and value.strip().strip("\"'") and "${" not in value \
                        and not value.strip().startswith(("{{", "$", "%(")):
                    offenders.append(f"{rel}:{n}: {line.strip()[:80]}")
    assert offenders == [], "\n".join(offenders)


def _env_without_secrets() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env["DATABASE_URL"] = "sqlite:////nonexistent/never-opened.db"
    return env


@pytest.mark.parametrize("command", [["-m", "hotline.cli", "run", "--roles", "console"],
                                     ["-m", "agent_console"]])
@pytest.mark.parametrize("missing", ["HOTLINE_AMI_SECRET", "HOTLINE_SESSION_KEY", "both"])
def test_entry_points_refuse_to_start_without_secrets(command: list[str], missing: str) -> None:
    env = _env_without_secrets()
    if missing != "HOTLINE_AMI_SECRET":
        env["HOTLINE_AMI_SECRET"] = "from-the-environment"
    if missing != "HOTLINE_SESSION_KEY":
        env["HOTLINE_SESSION_KEY"] = "from-the-environment-0123456789abcdef"
    if missing == "both":
        env.pop("HOTLINE_AMI_SECRET"), env.pop("HOTLINE_SESSION_KEY")
    result = subprocess.run([sys.executable, *command], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode != 0
    names = ["HOTLINE_AMI_SECRET", "HOTLINE_SESSION_KEY"] if missing == "both" else [missing]
    for name in names:
        assert name in result.stderr, result.stderr[-2000:]


def test_demo_mode_is_the_only_way_to_the_built_in_secrets() -> None:
    from hotline.settings import Settings

    env_free = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    assert env_free is not None
    production = Settings(demo=False)
    if "HOTLINE_AMI_SECRET" not in os.environ:
        assert production.ami_secret is None
    if "HOTLINE_SESSION_KEY" not in os.environ:
        assert production.session_key is None
    demo = Settings(demo=True)
    assert demo.ami_secret is not None and demo.session_key is not None
