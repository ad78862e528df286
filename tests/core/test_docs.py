"""Documentation that must not drift from the code: every setting in the README, every role in the
README's table, the Quick start exactly two commands."""

from __future__ import annotations

import re

from hotline.runtime import ROLES
from hotline.settings import PROJECT_ROOT, Settings

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented_in_the_readme() -> None:
    for name, field in Settings.model_fields.items():
        names = field.validation_alias.choices if field.validation_alias is not None else [f"HOTLINE_{name.upper()}"]
        assert any(f"`{env}`" in README for env in names), f"README does not document {names}"


def test_every_role_is_in_the_readme() -> None:
    for role in ROLES:
        assert re.search(rf"\| `{role}` \|", README), f"role {role} missing from the README's table"


def test_quick_start_is_exactly_make_demo_and_make_test() -> None:
    block = README.split("## Quick start", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    assert [line.strip() for line in block.strip().splitlines()] == ["make demo", "make test"]
