"""Caller history as the screen pop and the console show it: the service's dataclasses, validated and
serialised by pydantic (one definition of each view, in hotline/history/services.py)."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from hotline.history.services import CallerHistory

_HISTORY = TypeAdapter(CallerHistory)


def history_json(history: CallerHistory) -> dict[str, Any]:
    """The history as JSON-ready values (datetimes as ISO strings), as the API returns it."""
    return _HISTORY.dump_python(history, mode="json")
