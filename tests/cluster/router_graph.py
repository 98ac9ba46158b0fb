"""`assert_same_graph`: two routers hold the same state, record for record (the snapshot and
replica tests' strongest comparison: views alone do not show heaps, counters or sharing)."""

from __future__ import annotations

import enum
import types
from typing import Any

from acd.router.router import _NO_SKILLS, Router

ATOMS = (str, int, float, bool, type(None), bytes)


def assert_same_graph(left: Router, right: Router) -> None:
    """`right` holds what `left` holds: the same types and values, dicts and slots in the same
    order, enums the same members, and objects shared in one graph exactly where they are
    shared in the other. Equal strings may differ in identity (interning), and so may the
    router's never-mutated empty skills (`_NO_SKILLS`), which a snapshot copies once."""
    there: dict[int, int] = {}
    back: dict[int, int] = {}
    keep: list[Any] = []  # keeps the ids of walked objects from being reused meanwhile
    todo: list[tuple[Any, Any, str]] = [(left.__getstate__(), right.__getstate__(), "router")]
    while todo:
        a, b, path = todo.pop()
        assert type(a) is type(b), (path, type(a), type(b))
        if isinstance(a, ATOMS):
            assert repr(a) == repr(b), path  # repr: -0.0, nan and inf compared exactly
            continue
        if isinstance(a, enum.Enum):
            assert a is b, path
            continue
        if a is _NO_SKILLS or b is _NO_SKILLS:  # a constant: a loaded router has its own copy
            assert a == b == {}, path
            continue
        if id(a) in there or id(b) in back:
            assert there.get(id(a)) == id(b), f"{path}: shared in one graph only"
            assert back.get(id(b)) == id(a), f"{path}: shared in one graph only"
            continue
        there[id(a)], back[id(b)] = id(b), id(a)
        keep.extend((a, b))
        if isinstance(a, tuple | list):
            assert len(a) == len(b), path
            todo.extend((x, y, f"{path}[{i}]") for i, (x, y) in enumerate(zip(a, b, strict=True)))
        elif isinstance(a, dict | types.MappingProxyType):
            assert list(a) == list(b), path
            todo.extend((a[k], b[k], f"{path}[{k!r}]") for k in a)
        else:
            names = [n for cls in type(a).__mro__ for n in getattr(cls, "__slots__", ())]
            assert names, f"{path}: {type(a).__name__} is not a router record"
            todo.extend((getattr(a, n), getattr(b, n), f"{path}.{n}") for n in names)
