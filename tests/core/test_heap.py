"""The collector policy of role processes (hotline.heap): survivors of a full collection are frozen, a cycle
among them is reclaimed after the thaw, and a full collection then walks only what is new."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from hotline.heap import SurvivorFreezer


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


@pytest.fixture
def freezer() -> Iterator[SurvivorFreezer]:
    now = [0.0]
    policy = SurvivorFreezer(thaw_every_s=60.0, clock=lambda: now[0])
    policy.now = now  # type: ignore[attr-defined]
    gc.unfreeze()
    enabled = gc.isenabled()
    gc.disable()  # only the tests' own collections: an automatic one in between would change the counts
    policy.install()
    yield policy
    policy.uninstall()
    if enabled:
        gc.enable()


def test_survivors_of_a_full_collection_are_frozen_and_the_next_one_walks_only_new_objects(
        freezer: SurvivorFreezer) -> None:
    kept = [Node() for _ in range(1000)]
    gc.collect()
    assert freezer.freezes == 1
    assert gc.get_freeze_count() >= len(kept)
    tracked = {id(o) for o in gc.get_objects(generation=2)}
    assert not any(id(node) in tracked for node in kept)  # out of the collector's walks
    fresh = [Node() for _ in range(10)]
    gc.collect()
    assert freezer.freezes == 2 and len(gc.get_objects(generation=2)) < len(kept)  # only what came since
    assert all(node.me is node for node in kept + fresh)  # frozen objects stay alive and usable


def test_a_dead_cycle_among_frozen_objects_waits_for_the_thaw_then_is_reclaimed(freezer: SurvivorFreezer) -> None:
    node = Node()
    ref = weakref.ref(node)
    gc.collect()  # node survives: frozen
    del node
    gc.collect()
    assert ref() is not None  # garbage, but frozen: not walked
    freezer.now[0] += 61  # type: ignore[attr-defined]
    gc.collect()  # this full collection finds the thaw due: everything goes back to the collector
    assert freezer.thaws == 1 and gc.get_freeze_count() == 0
    gc.collect()
    assert ref() is None
    assert freezer.freezes == 3  # and freezing resumes after the thaw


def test_uninstalling_gives_everything_back(freezer: SurvivorFreezer) -> None:
    gc.collect()
    assert gc.get_freeze_count() > 0
    freezer.uninstall()
    assert gc.get_freeze_count() == 0 and freezer._on_gc not in gc.callbacks
    gc.collect()
    assert freezer.freezes == 1
