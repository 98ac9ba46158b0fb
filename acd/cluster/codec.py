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
logs it and stops instead of diverging. A leader must not apply an event it cannot encode
(what is not in the stream is not on the standbys). Every such event the differential streams
make is one the router rejects as `invalid_event` before touching state anyway; the exception
is a non-finite float in a QueueConfig field routing does not check (announce_every, sl_window,
...), which the queue documents (`allow_inf_nan=False`) never produce.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from acd.router import events as ev

#: Bumped when the wire form changes incompatibly; a standby refuses any other version.
#: 2: AgentWrapUpDone; QueueConfig's sl_target and pause_reasons (PauseReason records).
#: 3: AgentRestored's state_since.
#: 4: QueueConfig's exit_key, exit_target and transfer_code; CallTransferred (a blind transfer).
#: 5: TransferCompleted (a warm transfer).
VERSION = 5


class CodecError(ValueError):
    """A router input that cannot be encoded, or a message that is not one this codec wrote."""


#: An encoder or decoder takes one value and returns its other form; it raises CodecError
#: with the path inside the value (a parent prefixes its own part), so the hot path builds no
#: strings.
Rule = Callable[[Any], Any]


def _fail(expected: str, value: Any) -> CodecError:
    return CodecError(f"expected {expected}, got {type(value).__name__}")


def _within(part: str, error: CodecError) -> CodecError:
    inner = str(error)
    if inner.startswith("expected"):
        return CodecError(f"{part}: {inner}")
    return CodecError(f"{part}{'' if inner.startswith('[') else '.'}{inner}")


def _exact(kind: type) -> tuple[Rule, Rule]:
    """str, bool, int: the value passes unchanged if its type is exactly `kind`."""

    def check(value: Any) -> Any:
        if type(value) is not kind:
            raise _fail(kind.__name__, value)
        return value

    return check, check


def _number(value: Any) -> Any:
    # An int stays an int (the router accepts both): the replica sees the leader's value.
    if type(value) is float:
        if value - value != 0:  # NaN or an infinity
            raise CodecError("expected a finite number")
        return value
    if type(value) is int:
        return value
    raise _fail("float", value)


def _optional(inner: tuple[Rule, Rule]) -> tuple[Rule, Rule]:
    enc, dec = inner
    return (
        lambda value: None if value is None else enc(value),
        lambda value: None if value is None else dec(value),
    )


def _enum(kind: type[enum.Enum]) -> tuple[Rule, Rule]:
    def encode(value: Any) -> Any:
        if type(value) is not kind:
            raise _fail(kind.__name__, value)
        return value.value

    def decode(value: Any) -> Any:
        try:
            return kind(value)
        except (ValueError, TypeError):
            raise CodecError(f"expected a {kind.__name__}, got {value!r}") from None

    return encode, decode


def _mapping(key: tuple[Rule, Rule], val: tuple[Rule, Rule]) -> tuple[Rule, Rule]:
    kenc, kdec = key
    venc, vdec = val

    def encode(value: Any) -> Any:
        if not isinstance(value, Mapping):
            raise _fail("a mapping", value)
        out = {}
        for k, v in value.items():
            try:
                out[kenc(k)] = venc(v)
            except CodecError as exc:
                raise _within(repr(k), exc) from None
        return out

    def decode(value: Any) -> Any:
        if type(value) is not dict:
            raise _fail("an object", value)
        out = {}
        for k, v in value.items():
            try:
                out[kdec(k)] = vdec(v)
            except CodecError as exc:
                raise _within(repr(k), exc) from None
        # Iteration order kept (the leader's, usually sorted by frozen_skills), read-only.
        return types.MappingProxyType(out)

    return encode, decode


def _tuple_of(item: tuple[Rule, Rule]) -> tuple[Rule, Rule]:
    ienc, idec = item

    def each(rule: Rule, values: Any) -> list[Any]:
        out = []
        for i, v in enumerate(values):
            try:
                out.append(rule(v))
            except CodecError as exc:
                raise _within(f"[{i}]", exc) from None
        return out

    def encode(value: Any) -> Any:
        if type(value) is not tuple:
            raise _fail("a tuple", value)
        return each(ienc, value)

    def decode(value: Any) -> Any:
        if type(value) is not list:
            raise _fail("an array", value)
        return tuple(each(idec, value))

    return encode, decode


def _record(cls: type) -> tuple[Rule, Rule]:
    """A frozen dataclass as the array of its fields, in declaration order, all present."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    rules = [_rule(hints[name], f"{cls.__name__}.{name}") for name in names]
    encoders = [enc for enc, _ in rules]
    decoders = [dec for _, dec in rules]
    count = len(names)

    def which(values: Any, rules: list[Rule]) -> CodecError:
        """Only on failure: the first field that fails, named."""
        for name, rule, v in zip(names, rules, values, strict=True):
            try:
                rule(v)
            except CodecError as exc:
                return _within(name, exc)
        return CodecError("inconsistent field")  # unreachable: some field failed

    def encode(value: Any) -> Any:
        if type(value) is not cls:
            raise _fail(cls.__name__, value)
        values = [getattr(value, name) for name in names]
        try:
            return [enc(v) for enc, v in zip(encoders, values, strict=True)]
        except CodecError:
            raise which(values, encoders) from None

    def decode(value: Any) -> Any:
        if type(value) is not list or len(value) != count:
            raise CodecError(f"expected the {count} fields of {cls.__name__}")
        try:
            return cls(*[dec(v) for dec, v in zip(decoders, value, strict=True)])
        except CodecError:
            raise which(value, decoders) from None

    return encode, decode


def _rule(hint: Any, where: str) -> tuple[Rule, Rule]:
    """The one rule from a type hint to its encoder and decoder (`where` names the field
    for the error raised at import when a hint has no rule)."""
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


_ENCODE: dict[type, tuple[str, Rule]] = {}
_DECODE: dict[str, Rule] = {}
for _cls in _event_types():
    _enc, _dec = _record(_cls)
    _ENCODE[_cls] = (_cls.__name__, _enc)
    _DECODE[_cls.__name__] = _dec

#: The event types the codec carries (the `acd.router.events.Event` union).
EVENT_TYPES: tuple[type, ...] = tuple(_ENCODE)


def _hint_name(hint: Any) -> str:
    if isinstance(hint, type):
        return hint.__name__
    return str(hint).replace("collections.abc.", "").replace("acd.router.model.", "")


def schema() -> str:
    """The wire layout this VERSION means: every record's fields and hints, in order. Nodes of
    one cluster must agree on it; a change to it needs a new VERSION (a test pins it)."""
    lines: list[str] = []
    seen: set[type] = set()

    def walk(cls: type) -> None:
        if cls in seen:
            return
        seen.add(cls)
        hints = typing.get_type_hints(cls)
        names = [f.name for f in dataclasses.fields(cls)]
        fields = ", ".join(f"{n}: {_hint_name(hints[n])}" for n in names)
        lines.append(f"{cls.__name__}({fields})")
        for name in names:
            for part in (hints[name], *typing.get_args(hints[name])):
                for inner in (part, *typing.get_args(part)):
                    if isinstance(inner, type) and dataclasses.is_dataclass(inner):
                        walk(inner)
                    elif isinstance(inner, type) and issubclass(inner, enum.Enum):
                        lines.append(f"{inner.__name__}{[m.value for m in inner]}")

    for cls in EVENT_TYPES:
        walk(cls)
    return "\n".join(dict.fromkeys(lines))


def to_wire(event: ev.Event) -> list[Any]:
    """The JSON-ready array of `event` (the serializer is separate so the benchmark can swap it)."""
    entry = _ENCODE.get(type(event))
    if entry is None:
        raise CodecError(f"not a router event: {type(event).__name__}")
    tag, enc = entry
    try:
        fields: list[Any] = enc(event)
    except CodecError as exc:
        raise _within(tag, exc) from None
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
        event: ev.Event = dec(message[2:])
    except CodecError as exc:
        raise _within(tag, exc) from None
    except Exception as exc:  # a constructor refusing the values: still a bad message
        raise CodecError(f"{tag}: {exc}") from None
    return event


def encode(event: ev.Event) -> bytes:
    """The message for `event`; CodecError when it is not a well-typed router event."""
    # ASCII output (non-ASCII escaped): any str, a lone surrogate included, round-trips.
    return _JSON_ENCODE(to_wire(event)).encode("ascii")


def _no_constant(name: str) -> Any:
    raise CodecError(f"{name} is not a finite number")


# Built once: json.dumps/loads with options build a new encoder/decoder on every call.
_JSON_ENCODE = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode
_JSON_DECODE = json.JSONDecoder(parse_constant=_no_constant).decode


def decode(data: bytes) -> ev.Event:
    """The event `data` carries; CodecError (never anything else) when it is not a message
    this codec version wrote."""
    if type(data) is not bytes:
        raise CodecError(f"a message is bytes, got {type(data).__name__}")
    try:
        message = _JSON_DECODE(data.decode("utf-8"))
    except CodecError:
        raise
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError
        raise CodecError(f"not a JSON message: {exc}") from None
    return from_wire(message)
