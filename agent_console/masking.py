"""Caller numbers are personal data: events shown to a principal who need not see them are masked."""

from __future__ import annotations

from typing import Any

from hotline.security import Principal, mask_number

NUMBER_KEYS = frozenset({"caller_number", "callback_number", "caller", "number", "phone", "connected_number"})


def mask_numbers(value: Any) -> Any:
    """A copy of `value` with every phone-number field masked, at any depth."""
    if isinstance(value, dict):
        return {key: (mask_number(item) if key in NUMBER_KEYS and isinstance(item, str) else mask_numbers(item))
                for key, item in value.items()}
    if isinstance(value, list):
        return [mask_numbers(item) for item in value]
    return value


def for_principal(value: Any, principal: Principal) -> Any:
    return value if principal.sees_full_numbers else mask_numbers(value)
