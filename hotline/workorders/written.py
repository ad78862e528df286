"""Entities for rows the current transaction has just written, without reading them back.

After an INSERT the service knows every column of the new rows; a SELECT would only hand the same values
back. `loaded(Model, row)` builds the instance a query's loader would (no constructor, no events, nothing
pending), with the values as the database returns them: datetimes in UTC (`UtcDateTime`), JSON as a copy.
`attach` makes such an entity persistent in a session, its relationships set to the children given.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import inspect
from sqlalchemy.orm import Mapper, Session, configure_mappers, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state, set_committed_value

T = TypeVar("T")


def _as_returned(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC)  # every timestamp column is a UtcDateTime
    if isinstance(value, dict | list):
        return copy.deepcopy(value)  # a JSON column gives a fresh object
    return value


@cache
def _columns(model: type) -> tuple[Mapper, tuple[str, ...]]:
    mapper = inspect(model)
    return mapper, tuple(attribute.key for attribute in mapper.column_attrs)


def loaded(model: type[T], row: Mapping[str, Any]) -> T:
    """A detached `model` whose loaded state is `row` (every column: a missing key is stored NULL)."""
    mapper, columns = _columns(model)
    if not mapper.configured:
        configure_mappers()  # new_instance() does not do it, unlike a constructor or a query
    entity = mapper.class_manager.new_instance()
    values = instance_state(entity).dict
    for key in columns:
        values[key] = _as_returned(row.get(key))
    return entity


def attach(session: Session, entity: Any, children: Mapping[str, Iterable[Any]] | None = None) -> bool:
    """Make `entity` (from `loaded`) and its `children` (relationship → entities from `loaded`) persistent in
    `session`, as if a query had loaded them. Relationships not given load when first used.

    False, and nothing attached, when the session already holds an entity with one of these identities
    (a row of a rolled-back transaction whose id the database handed out again): the caller loads instead.
    """
    every = [entity, *(child for group in (children or {}).values() for child in group)]
    for item in every:
        if instance_state(item).mapper.identity_key_from_instance(item) in session.identity_map:
            return False
    for name, group in (children or {}).items():
        set_committed_value(entity, name, list(group))
    for item in every:
        make_transient_to_detached(item)  # identity key set, the values committed, nothing pending
    session.add(entity)  # cascades to the children given
    return True
