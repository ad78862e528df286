"""The prompt catalogue: every prompt id, its Chinese text and its sound file name."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from hotline.domain import ORDER_STATUS_LABELS

CATALOGUE_FILE = Path(__file__).with_name("catalogue.yaml")


@lru_cache(maxsize=1)
def _load() -> tuple[str, dict[str, str]]:
    data = yaml.safe_load(CATALOGUE_FILE.read_text(encoding="utf-8"))
    prompts = {str(k): str(v) for k, v in data["prompts"].items()}
    for status, label in ORDER_STATUS_LABELS.items():  # one source for status names: hotline/domain.py
        prompts.setdefault(f"status/{status.value}", label)
    return str(data.get("sound_prefix", "hotline")), prompts


def catalogue() -> dict[str, str]:
    return dict(_load()[1])


def sound_prefix() -> str:
    return _load()[0]


def sound(prompt_id: str, prefix: str | None = None) -> str:
    """The sound file name for STREAM FILE; unknown ids are a programming error, caught here."""
    if prompt_id not in _load()[1]:
        raise KeyError(f"prompt {prompt_id!r} is not in {CATALOGUE_FILE.name}")
    return f"{prefix or sound_prefix()}/{prompt_id}"
