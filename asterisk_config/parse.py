"""Asterisk .conf parsing on pyst2's `asterisk.config`, extended for what Asterisk 22 files contain and
pyst2 0.5.1 rejects: template sections `[name](!)` / `[name](!,parent)` and UTF-8 text."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from asterisk import config as pyst2_config

SECTION = re.compile(r"^\[(?P<name>[^\]]+)\](?:\((?P<options>[^)]*)\))?\s*$")


class ConfigFile(pyst2_config.Config):
    """pyst2's Config, reading UTF-8 and accepting section options; `sections` keeps every [name] in order
    (Asterisk allows a name to repeat, e.g. pjsip endpoint/auth/aor sharing one id)."""

    def load(self) -> None:
        self.raw_lines = Path(self.filename).read_text(encoding="utf-8").splitlines(keepends=True)

    def parse(self) -> None:
        cooked = []
        self.section_options: dict[int, list[str]] = {}
        for number, line in enumerate(self.raw_lines, start=1):
            stripped = line.split(";", 1)[0].strip()
            match = SECTION.match(stripped)
            if match and match.group("options") is not None:
                self.section_options[number] = [o.strip() for o in match.group("options").split(",") if o.strip()]
                line = f"[{match.group('name')}]\n"
            cooked.append(line)
        self.raw_lines = cooked
        super().parse()

    def sections(self) -> list[Section]:
        out = []
        for category in self.categories:
            options = self.section_options.get(category.number, [])
            items = [(item.name, item.value.strip()) for item in category.items]
            out.append(Section(category.name, "!" in options, [o for o in options if o != "!"], items))
        return out


@dataclass
class Section:
    name: str
    is_template: bool
    parents: list[str]
    items: list[tuple[str, str]] = field(default_factory=list)

    def get(self, key: str) -> str | None:
        for name, value in self.items:
            if name == key:
                return value
        return None

    def getall(self, key: str) -> list[str]:
        return [value for name, value in self.items if name == key]


def load_sections(path: Path) -> list[Section]:
    return ConfigFile(str(path)).sections()


def resolved(sections: list[Section], section: Section) -> dict[str, str]:
    """A section's settings with its templates' settings underneath (Asterisk's inheritance)."""
    templates = {s.name: s for s in sections if s.is_template}
    merged: dict[str, str] = {}
    for parent in section.parents:
        if parent in templates:
            merged.update(resolved(sections, templates[parent]))
    merged.update(dict(section.items))
    return merged


# ---- the dialplan ----

APP = re.compile(r"^(?P<app>[A-Za-z]+)\((?P<args>.*)\)$")


@dataclass
class Step:
    context: str
    exten: str
    app: str
    args: str
    line: int


def dialplan_steps(path: Path) -> tuple[dict[str, list[Step]], dict[str, list[str]]]:
    """Every `exten =>`/`same =>` step by context, and each context's `include =>` list."""
    parsed = ConfigFile(str(path))
    steps: dict[str, list[Step]] = {}
    includes: dict[str, list[str]] = {}
    for category in parsed.categories:
        steps.setdefault(category.name, [])
        includes.setdefault(category.name, [])
        exten = ""
        for item in category.items:
            value = item.value.strip()
            if item.name == "include":
                includes[category.name].append(value)
                continue
            if item.name not in ("exten", "same"):
                continue
            if item.name == "exten":
                exten, _prio, rest = value.split(",", 2)
            else:
                _prio, rest = value.split(",", 1)
            match = APP.match(rest.strip())
            if match:
                steps[category.name].append(Step(category.name, exten, match["app"], match["args"], item.number))
    return steps, includes
