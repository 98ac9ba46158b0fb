"""The wire form of router inputs: what the leader appends to the replication stream and a
standby decodes and applies to its own Router.

A message is one JSON array, `[VERSION, tag, field, field, ...]`: the tag is the event's
class name, the fields follow the dataclass's field order (nested QueueConfig and
EscalationStep are arrays the same way, skill mappings objects in their iteration order,
enums their values). Every rule is derived from the dataclasses' type hints at import, so a
new event or field is covered or fails loudly at import, never silently.

Strict both ways: a value must have exactly its hinted type (an int where a float is hinted is
kept as an int, bool is not an int, a plain str is not an enum), floats must be finite (JSON has
no NaN; the router rejects a non-finite time as `invalid_event` anyway) and round-trip bit for
bit (Python's float repr is exact). Anything else raises `CodecError`, and only that: a standby
logs it and stops instead of diverging; an event the leader cannot encode is one its router
rejects as `invalid_event` before touching state, so not replicating it changes nothing.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from acd.router import events as ev

#: Bumped when the wire form changes incompatibly; a standby refuses any other version.
VERSION = 1


class CodecError(ValueError):
    """A router input that cannot be encoded, or a message that is not one this codec wrote."""


Encoder = Callable[[Any, str], Any]
Decoder = Callable[[Any, str], Any]


def _fail(where: str, expected: str, value: Any) -> CodecError:
    return CodecError(f"{where}: expected {expected}, got {type(value).__name__}")


def _exact(kind: type) -> tuple[Encoder, Decoder]:
    """str, bool, int: the value passes unchanged if its type is exactly `kind`."""

    def check(value: Any, where: str) -> Any:
        if type(value) is not kind:
            raise _fail(where, kind.__name__, value)
        return value

    return check, check


def _number(value: Any, where: str) -> Any:
    # An int stays an int (the router accepts both): the replica sees the leader's value.
    if type(value) is float:
        if not math.isfinite(value):
            raise CodecError(f"{where}: not a finite number")
        return value
    if type(value) is int:
        return value
    raise _fail(where, "float", value)


def _optional(inner: tuple[Encoder, Decoder]) -> tuple[Encoder, Decoder]:
    enc, dec = inner
    return (
        lambda value, where: None if value is None else enc(value, where),
        lambda value, where: None if value is None else dec(value, where),
    )


def _enum(kind: type[enum.Enum]) -> tuple[Encoder, Decoder]:
    def encode(value: Any, where: str) -> Any:
        if type(value) is not kind:
            raise _fail(where, kind.__name__, value)
        return value.value

    def decode(value: Any, where: str) -> Any:
        try:
            return kind(value)
        except (ValueError, TypeError):
            raise CodecError(f"{where}: {value!r} is not a {kind.__name__}") from None

    return encode, decode


def _mapping(key: tuple[Encoder, Decoder], val: tuple[Encoder, Decoder]) -> tuple[Encoder, Decoder]:
    kenc, kdec = key
    venc, vdec = val

    def encode(value: Any, where: str) -> Any:
        if not isinstance(value, Mapping):
            raise _fail(where, "a mapping", value)
        return {kenc(k, where): venc(v, f"{where}.{k}") for k, v in value.items()}

    def decode(value: Any, where: str) -> Any:
        if type(value) is not dict:
            raise _fail(where, "an object", value)
        # Iteration order kept (the leader's, usually sorted by frozen_skills), read-only.
        return types.MappingProxyType(
            {kdec(k, where): vdec(v, f"{where}.{k}") for k, v in value.items()}
        )

    return encode, decode


def _tuple_of(item: tuple[Encoder, Decoder]) -> tuple[Encoder, Decoder]:
    ienc, idec = item

    def encode(value: Any, where: str) -> Any:
        if type(value) is not tuple:
            raise _fail(where, "a tuple", value)
        return [ienc(v, f"{where}[{i}]") for i, v in enumerate(value)]

    def decode(value: Any, where: str) -> Any:
        if type(value) is not list:
            raise _fail(where, "an array", value)
        return tuple(idec(v, f"{where}[{i}]") for i, v in enumerate(value))

    return encode, decode


def _record(cls: type) -> tuple[Encoder, Decoder]:
    """A frozen dataclass as the array of its fields, in declaration order, all present."""
    hints = typing.get_type_hints(cls)
    fields = [
        (f.name, _rule(hints[f.name], f"{cls.__name__}.{f.name}")) for f in dataclasses.fields(cls)
    ]
    names = [name for name, _ in fields]
    encoders = [enc for _, (enc, _) in fields]
    decoders = [dec for _, (_, dec) in fields]
    count = len(fields)

    def encode(value: Any, where: str) -> Any:
        if type(value) is not cls:
            raise _fail(where, cls.__name__, value)
        return [
            enc(getattr(value, name), f"{where}.{name}")
            for name, enc in zip(names, encoders, strict=True)
        ]

    def decode(value: Any, where: str) -> Any:
        if type(value) is not list or len(value) != count:
            raise CodecError(f"{where}: expected {count} fields of {cls.__name__}")
        return cls(
            *(
                dec(v, f"{where}.{name}")
                for name, dec, v in zip(names, decoders, value, strict=True)
            )
        )

    return encode, decode


def _rule(hint: Any, where: str) -> tuple[Encoder, Decoder]:
    """The one rule from a type hint to its encoder and decoder."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is float:
        return _number, _number
    if hint in (str, int, bool):
        return _exact(hint)
    if origin in (types.UnionType, typing.Union) and len(args) == 2 and type(None) in args:
        (inner,) = (a for a in args if a is not type(None))
        return _optional(_rule(inner, where))
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return _enum(hint)
    if origin in (Mapping, dict) and len(args) == 2:
        return _mapping(_rule(args[0], where), _rule(args[1], where))
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return _tuple_of(_rule(args[0], where))
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _record(hint)
    raise TypeError(f"acd.cluster.codec has no rule for {where}: {hint!r}")


def _event_types() -> tuple[type, ...]:
    return typing.get_args(ev.Event)


_ENCODE: dict[type, tuple[str, Encoder]] = {}
_DECODE: dict[str, Decoder] = {}
for _cls in _event_types():
    _enc, _dec = _record(_cls)
    _ENCODE[_cls] = (_cls.__name__, _enc)
    _DECODE[_cls.__name__] = _dec

#: The event types the codec carries (the `acd.router.events.Event` union).
EVENT_TYPES: tuple[type, ...] = tuple(_ENCODE)


def to_wire(event: ev.Event) -> list[Any]:
    """The JSON-ready array of `event` (the serializer is separate so the benchmark can swap it)."""
    entry = _ENCODE.get(type(event))
    if entry is None:
        raise CodecError(f"not a router event: {type(event).__name__}")
    tag, enc = entry
    fields: list[Any] = enc(event, tag)
    return [VERSION, tag, *fields]


def from_wire(message: Any) -> ev.Event:
    if type(message) is not list or len(message) < 2:
        raise CodecError("a message is an array [version, tag, fields...]")
    version, tag = message[0], message[1]
    if type(version) is not int or version != VERSION:
        raise CodecError(f"unknown codec version {version!r} (this node reads {VERSION})")
    dec = _DECODE.get(tag) if type(tag) is str else None
    if dec is None:
        raise CodecError(f"unknown event tag {tag!r}")
    try:
        event: ev.Event = dec(message[2:], tag)
    except CodecError:
        raise
    except Exception as exc:  # a constructor refusing the values: still a bad message
        raise CodecError(f"{tag}: {exc}") from None
    return event


def encode(event: ev.Event) -> bytes:
    """The message for `event`; CodecError when it is not a well-typed router event."""
    wire = to_wire(event)
    return json.dumps(wire, separators=(",", ":"), allow_nan=False).encode("ascii")


def _no_constant(name: str) -> Any:
    raise CodecError(f"{name} is not a finite number")


def decode(data: bytes) -> ev.Event:
    """The event `data` carries; CodecError (never anything else) when it is not a message
    this codec version wrote."""
    if type(data) is not bytes:
        raise CodecError(f"a message is bytes, got {type(data).__name__}")
    try:
        message = json.loads(data, parse_constant=_no_constant)
    except CodecError:
        raise
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError
        raise CodecError(f"not a JSON message: {exc}") from None
    return from_wire(message)
