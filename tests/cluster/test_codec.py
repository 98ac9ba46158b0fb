"""The codec of router inputs: every event type round-trips exactly, a Router fed the decoded
stream decides and ends exactly like one fed the original, and a bad message is a CodecError."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import inspect
import json
import random
import struct
import types
import typing
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# tests/ is on sys.path (its conftest.py puts it there); tests/router is a namespace package.
from router.router_streams import Pools, StreamMaker, assert_same_views

from acd.cluster import codec
from acd.cluster.codec import CodecError, decode, encode
from acd.router import events as ev
from acd.router.decisions import EventRejected
from acd.router.model import EscalationStep
from acd.router.router import Router

# --- a generated instance of every event type, independent of the codec's own rules ---------

_FLOATS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 5e-324, 1.7976931348623157e308, 0.1, 1 / 3, 1.0e16 + 2]),
    st.integers(-(2**63), 2**63),  # the router takes int times too; they must stay ints
)


def _strategy(hint: Any) -> st.SearchStrategy[Any]:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is float:
        return _FLOATS
    if origin in (types.UnionType, typing.Union):
        return st.one_of(*(_strategy(a) for a in args))
    if origin is Mapping:
        # Unsorted on purpose: the replica must see the leader's iteration order.
        return st.dictionaries(_strategy(args[0]), _strategy(args[1]), max_size=4).map(
            types.MappingProxyType
        )
    if origin is tuple:
        return st.lists(_strategy(args[0]), max_size=3).map(tuple)
    if dataclasses.is_dataclass(hint):
        hints = typing.get_type_hints(hint)
        fields = {f.name: _strategy(hints[f.name]) for f in dataclasses.fields(hint)}
        return st.builds(hint, **fields)
    return st.from_type(hint)


_EVENT_CLASSES = typing.get_args(ev.Event)
_ANY_EVENT = st.one_of(*(_strategy(cls) for cls in _EVENT_CLASSES))


def _exact(value: Any) -> str:
    """A fingerprint that tells -0.0 from 0.0, 1 from 1.0, a dict from a mappingproxy,
    key order and enum members apart (repr of a float is exact)."""
    return repr(value)


def _bits(x: float) -> bytes:
    return struct.pack("<d", x)


def test_the_codec_covers_every_event_class_of_the_module() -> None:
    """A new event class must join the Event union (and so the codec), not just exist."""
    defined = {
        obj
        for _, obj in inspect.getmembers(ev, inspect.isclass)
        if obj.__module__ == ev.__name__ and dataclasses.is_dataclass(obj)
    }
    assert defined == set(_EVENT_CLASSES) == set(codec.EVENT_TYPES)


@pytest.mark.parametrize("cls", _EVENT_CLASSES, ids=lambda c: c.__name__)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_event_type_round_trips_exactly(cls: type, data: st.DataObject) -> None:
    event = data.draw(_strategy(cls))
    back = decode(encode(event))  # type: ignore[arg-type]
    assert type(back) is cls
    assert back == event
    assert _exact(back) == _exact(event)
    for f in dataclasses.fields(cls):
        value = getattr(event, f.name)
        if type(value) is float:
            assert _bits(getattr(back, f.name)) == _bits(value), f.name


def test_floats_round_trip_bit_for_bit() -> None:
    rng = random.Random(12)
    for _ in range(20000):
        x = struct.unpack("<d", rng.randbytes(8))[0]
        if x - x != 0:  # NaN and infinities are refused, see below
            continue
        back = decode(encode(ev.Tick(x)))
        assert isinstance(back, ev.Tick)
        assert _bits(back.now) == _bits(x)


# --- the stronger property: a replica fed the decoded stream is the same router ------------


def _replicate(seed: int, steps: int, pools: Pools) -> tuple[int, int]:
    """Leader and replica Routers side by side; returns (replicated, refused) counts."""
    maker = StreamMaker(random.Random(seed), pools)
    leader, replica = Router(), Router()
    setup = maker.setup()
    replicated = refused = 0
    for n in range(len(setup) + steps):
        event = setup[n] if n < len(setup) else maker.event(leader)  # type: ignore[arg-type]
        expected = leader.handle(event)
        try:
            data = encode(event)
        except CodecError:
            # Not replicated: it must be one the router rejects before touching any state.
            refused += 1
            assert [type(d) for d in expected] == [EventRejected], f"step {n}: {event!r}"
            assert expected[0].code == "invalid_event", f"step {n}: {event!r}"  # type: ignore[union-attr]
        else:
            replicated += 1
            copy = decode(data)
            assert _exact(copy) == _exact(event), f"step {n}"
            assert replica.handle(copy) == expected, f"step {n}: {event!r}"
        assert_same_views(replica, leader, pools)  # type: ignore[arg-type]
    return replicated, refused


@pytest.mark.parametrize("seed", range(4))
def test_a_replica_fed_the_decoded_stream_decides_and_ends_like_the_leader(seed: int) -> None:
    replicated, refused = _replicate(seed, 1500, Pools())
    assert replicated > 1000
    assert refused > 0  # the stream carried its malformed events too


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(6))
def test_long_seeded_streams_replicate(seed: int) -> None:
    """The long stress streams of the differential tests, through the codec."""
    _replicate(seed, 3000, Pools(agents=20, calls=60, queues=4, skills=5, max_level=5))


# --- bad messages are a CodecError, never anything else -------------------------------------

_SAMPLES: list[ev.Event] = StreamMaker(random.Random(7)).setup()
_SAMPLES += [
    ev.AgentRestored(1.0, "a1", ev.AgentState.WRAP_UP, None, 0.5, "pause", "lunch", 3.0, None),
    ev.CallAdopted(2.0, "c1", "q0", ev.CallState.OFFERED, 1.0, 1.5, 3, {"s1": 2}, "a1"),  # type: ignore[arg-type]
    ev.CallArrived(3.0, "c2", "q1", 1, types.MappingProxyType({"s2": 1}), 2.5),
]


def _wire(event: ev.Event) -> list[Any]:
    wire: list[Any] = json.loads(encode(event))
    return wire


def _refused(message: Any) -> None:
    data = message if isinstance(message, bytes) else json.dumps(message).encode()
    with pytest.raises(CodecError):
        decode(data)


@pytest.mark.parametrize("event", _SAMPLES, ids=lambda e: type(e).__name__)
def test_truncated_messages_are_refused(event: ev.Event) -> None:
    data = encode(event)
    for end in range(len(data)):
        _refused(data[:end])
    wire = _wire(event)
    _refused(wire[:-1])  # a missing field


@pytest.mark.parametrize("event", _SAMPLES, ids=lambda e: type(e).__name__)
def test_wrong_or_extra_fields_are_refused(event: ev.Event) -> None:
    wire = _wire(event)
    _refused([*wire, None])  # an extra field
    for i in range(2, len(wire)):
        # Values no hint accepts: an array of an empty array, an object of one.
        for wrong in ([[]], {"x": [[]]}):
            _refused([*wire[:i], wrong, *wire[i + 1 :]])


def test_wrong_types_in_specific_fields_are_refused() -> None:
    good = _wire(ev.CallArrived(1.0, "c1", "q0", 2, types.MappingProxyType({"s1": 2}), 0.5))
    for i, wrong in [
        (2, "1.0"),  # a time as a string
        (2, True),  # bool is not a number here
        (3, 7),  # an id as a number
        (5, 1.5),  # a priority that is not an int
        (5, True),
        (6, {"s1": 2.0}),  # a level that is not an int
        (6, {"s1": True}),
        (6, ["s1", 2]),
        (7, "soon"),
    ]:
        _refused([*good[:i], wrong, *good[i + 1 :]])
    restored = _wire(ev.AgentRestored(1.0, "a1", ev.AgentState.PAUSED, "lunch", 0.5))
    _refused([*restored[:4], "napping", *restored[5:]])  # not an AgentState value
    _refused([*restored[:4], None, *restored[5:]])
    queue = _wire(ev.QueueUpserted(1.0, _SAMPLES[0].queue))  # type: ignore[union-attr]
    config = queue[3]
    _refused([*queue[:3], [*config, 1]])  # an extra field inside the QueueConfig
    _refused([*queue[:3], config[:-1]])
    _refused([*queue[:3], [*config[:8], [[1.0, {}, 3]], *config[9:]]])  # escalation step


def test_wrong_versions_tags_and_shapes_are_refused() -> None:
    wire = _wire(ev.Tick(1.0))
    v = codec.VERSION
    for message in (
        [v + 1, *wire[1:]],
        [v - 1, *wire[1:]],
        [0, *wire[1:]],
        [str(v), *wire[1:]],
        [True, *wire[1:]],
        [float(v), *wire[1:]],
        [v, "Tock", 1.0],
        [v, "tick", 1.0],
        [v, "__class__", 1.0],
        [v, None, 1.0],
        [v],
        [],
        {"v": 1, "t": "Tick", "now": 1.0},
        "Tick",
        None,
    ):
        _refused(message)
    good = f'[{v},"Tick",1.0]'.encode()
    assert decode(good) == ev.Tick(1.0)
    for data in (b"", b"\xff\xfe", good + b"]", good[:-1], b"[" * 100000):
        _refused(data)
    with pytest.raises(CodecError):
        decode(good.decode())  # type: ignore[arg-type]


def test_non_finite_numbers_are_refused_both_ways() -> None:
    for x in (float("nan"), float("inf"), float("-inf")):
        with pytest.raises(CodecError):
            encode(ev.Tick(x))
        with pytest.raises(CodecError):
            encode(ev.AgentRestored(1.0, "a1", ev.AgentState.WRAP_UP, None, 0.5, wrap_until=x))
    for data in (
        b'[1,"Tick",NaN]',
        b'[1,"Tick",Infinity]',
        b'[1,"Tick",-Infinity]',
        b'[1,"Tick",1e400]',
    ):
        _refused(data)


def test_ill_typed_events_are_refused_at_encode() -> None:
    for event in (
        ev.CallArrived(1.0, "c1", "q0", priority=1.5),  # type: ignore[arg-type]
        ev.AgentPaused(1.0, "a1", None),  # type: ignore[arg-type]
        ev.AgentRestored(1.0, "a1", "available", None, 1.0),  # type: ignore[arg-type]
        ev.AgentReachabilityChanged(1.0, "a1", 1),  # type: ignore[arg-type]
        ev.AgentUpserted(1.0, "a1", {"s1": True}),
        ev.Tick(True),
        "not an event",
    ):
        with pytest.raises(CodecError):
            encode(event)  # type: ignore[arg-type]


@settings(max_examples=400, deadline=None)
@given(data=st.binary(max_size=300))
def test_random_bytes_decode_or_raise_codec_error(data: bytes) -> None:
    with contextlib.suppress(CodecError):
        decode(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=_ANY_EVENT, at=st.integers(0, 10**6), byte=st.integers(0, 255))
def test_a_flipped_byte_decodes_or_raises_codec_error(event: ev.Event, at: int, byte: int) -> None:
    data = bytearray(encode(event))
    data[at % len(data)] = byte
    with contextlib.suppress(CodecError):
        decode(bytes(data))


def test_any_string_round_trips_lone_surrogates_and_controls_included() -> None:
    for text in ("\ud800", "a\x00b", 'é\u2028\n"\\', "\U0001f4de", ""):
        event = ev.AgentPaused(1.0, text, text)
        assert _exact(decode(encode(event))) == _exact(event)


#: The digest of `codec.schema()` each wire VERSION stands for. Reordering, adding or
#: retyping a field, an event or an enum value changes the layout: nodes on the old and the
#: new code would misread each other's messages, so the change needs a new VERSION.
_PINNED_SCHEMAS = {
    1: "e3ee8c8a66b51c957bbeb70b76e5139946062f73ad6b3c44b40e9ccfc7ea056d",
    2: "b2cc1346347aa217f31fe9c89dbae894191b03a160216f6147195310c5d6d124",
    3: "677a447dfbb606577b1ed607497c326d60e8ffa54ac55e3838c336c5a9f31776",
    4: "b868927833f8e18d6026b017b56f4f5c5771989b00db785a028f3b7d82bc4d56",
    5: "22cc193f5326da94272a9f1e733c6797f74067a6fe8c7177420a43805372f6a3",
}


def test_the_wire_layout_is_the_one_its_version_stands_for() -> None:
    digest = hashlib.sha256(codec.schema().encode()).hexdigest()
    assert digest == _PINNED_SCHEMAS[codec.VERSION], (
        "the events' fields changed: bump acd.cluster.codec.VERSION and pin the new digest\n"
        + codec.schema()
    )


def test_a_field_of_a_type_without_a_rule_fails_at_import() -> None:
    @dataclasses.dataclass(frozen=True)
    class Parked:
        now: float
        slots: frozenset[str]

    with pytest.raises(TypeError, match=r"Parked.slots"):
        codec._record(Parked)


def test_a_new_record_of_known_field_types_is_carried_by_the_one_rule() -> None:
    @dataclasses.dataclass(frozen=True)
    class Parked:
        now: float
        lot: str | None
        skills: Mapping[str, int]
        state: ev.CallState
        steps: tuple[EscalationStep, ...]

    enc, dec = codec._record(Parked)
    skills = types.MappingProxyType({"b": 2, "a": 1})
    value = Parked(1.0, None, skills, ev.CallState.WAITING, (EscalationStep(2.0, skills),))
    assert _exact(dec(json.loads(json.dumps(enc(value))))) == _exact(value)
