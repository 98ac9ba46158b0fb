"""What validating one API body costs: the declarations (pydantic, acd/config/documents.py), a
msgspec candidate with the same rules, and the hand-written parser they replaced (the reference,
bench/_documents_reference.py), measured in the same run.

    python bench/documents.py                   median of 7 runs of 20 000 documents each
    python bench/documents.py --quick           3 runs of 2 000
    python bench/documents.py --out FILE.json   also write the figures as JSON
    python bench/documents.py --requests        and, for scale, whole API requests

Workloads: a body as `json.loads` gives it → what the service layer needs (the router's
QueueConfig, the directory's AgentSeed, the pause reason) or a ConfigError naming the field.
  queue      the example config's support queue: skills, overflow, two escalation steps
  agent      an agent with a name, a contact and three skills
  bad queue  that queue with level 11 in its second escalation step (queue.escalation[1]...)
  bad agent  an agent whose id has a space
  pause      {"reason": "lunch"}, the body agents send most often
The reference runs the v1 parser and then the service layer's bounds, as the v1 API did.
Figures: µs per document, median (min-max) over runs, each run after a warm-up; ratio is the
median against the reference's median (below 1: cheaper). `--requests` times whole requests
through the real wiring (aiohttp test client, SQLite in a temporary directory): POST
/agents/1001/pause with that body, PUT /agents/1001 and PUT /queues/support with the documents.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

import msgspec
from msgspec import Meta

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _documents_reference as reference

from acd.config import ConfigError, parse_agent, parse_pause, parse_queue
from acd.router.model import AgentPolicy, EscalationStep, QueueConfig, RonaAction, frozen_skills

QUEUE: dict[str, Any] = {
    "name": "support", "skills": {"support": 3}, "priority": 0, "sl_threshold": 20,
    "wrap_up": 5, "ring_timeout": 15, "max_wait": 300, "overflow": "sales",
    "escalation": [{"after": 30, "skills": {"support": 1}},
                   {"after": 60, "skills": {"english": 1}}],
}  # fmt: skip
AGENT: dict[str, Any] = {"id": "1001", "name": "Ada Lovelace", "contact": "PJSIP/1001",
         "skills": {"support": 5, "sales": 2, "english": 5}}  # fmt: skip
BAD_QUEUE = {**QUEUE, "escalation": [QUEUE["escalation"][0], {"after": 60, "skills": {"x": 11}}]}
BAD_AGENT = {**AGENT, "id": "10 01"}
PAUSE = {"reason": "lunch"}


# --- the msgspec candidate: the same rules as acd/config/documents.py ------------------------

Level = Annotated[int, Meta(ge=1, le=10)]
Skills = dict[Annotated[str, Meta(min_length=1, max_length=64)], Level]
Seconds = Annotated[float, Meta(ge=0, le=10_000_000.0)]
Positive = Annotated[float, Meta(gt=0, le=10_000_000.0)]
# `\Z`, not `$`: Python's re (msgspec's) lets "x\n" through `^...$`; but `\Z` is not JSON Schema.
Name = Annotated[str, Meta(pattern=r"^[A-Za-z0-9_-]{1,64}\Z")]


class MStep(msgspec.Struct, forbid_unknown_fields=True):
    after: Seconds
    skills: Skills = {}


class MQueue(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    skills: Skills = {}
    priority: Annotated[int, Meta(ge=-1_000_000, le=1_000_000)] = 0
    sl_threshold: Seconds = 20.0
    wrap_up: Seconds = 5.0
    ring_timeout: Positive = 15.0
    max_wait: Seconds | None = 300.0
    overflow: Annotated[str, Meta(min_length=1, max_length=200)] | None = None
    escalation: list[MStep] = []
    policy: AgentPolicy = AgentPolicy.LONGEST_IDLE
    primary_skill: Annotated[str, Meta(min_length=1, max_length=64)] | None = None
    rona_action: RonaAction = RonaAction.PAUSE
    rona_delay: Seconds = 0.0
    join_empty: bool = True
    leave_empty: bool = False
    announce_every: Seconds = 30.0
    callback: bool = True
    short_abandon: Seconds = 5.0
    sl_window: Positive = 3600.0

    def __post_init__(self) -> None:
        if any(b.after < a.after for a, b in itertools.pairwise(self.escalation)):
            raise ValueError("steps must be in non-decreasing order of after")


class MAgent(msgspec.Struct, forbid_unknown_fields=True):
    id: Annotated[str, Meta(pattern=r"^[A-Za-z0-9_.-]{1,64}\Z")]
    name: Annotated[str, Meta(max_length=200)] = ""
    contact: Annotated[str, Meta(max_length=200)] = ""
    skills: Skills = {}


class MPause(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, Meta(max_length=100)] = ""


_AT = re.compile(r" - at `\$(.*)`$")
_UNKNOWN = re.compile(r"unknown field `(.*)`")


def _field(error: msgspec.ValidationError, data: Any, where: str) -> str:
    """msgspec puts the path in its message and drops dict keys (`skills[...]`): find them."""
    message = str(error)
    match = _AT.search(message)
    path = match.group(1) if match else ""
    unknown = _UNKNOWN.search(message)
    if unknown:
        path += f".{unknown.group(1)}"
    if path.endswith("[...]"):
        mapping: Any = data
        for part in re.findall(r"\.(\w+)|\[(\d+)\]", path[:-5]):
            mapping = mapping[part[0]] if part[0] else mapping[int(part[1])]
        bad = next(k for k, v in mapping.items() if type(v) is not int or not 1 <= v <= 10)
        path = f"{path[:-5]}.{bad}"
    return where + path


def msgspec_queue(data: Any, where: str = "queue") -> QueueConfig:
    try:
        doc = msgspec.convert(data, MQueue)
    except msgspec.ValidationError as exc:
        raise ConfigError(_field(exc, data, where), str(exc)) from None
    fields = {f: getattr(doc, f) for f in doc.__struct_fields__}
    fields.update(
        skills=frozen_skills(doc.skills),
        escalation=tuple(EscalationStep(s.after, frozen_skills(s.skills)) for s in doc.escalation),
        max_wait=doc.max_wait or None,
    )
    return QueueConfig(**fields)


def msgspec_agent(data: Any, where: str = "agent") -> reference.AgentSeed:
    try:
        doc = msgspec.convert(data, MAgent)
    except msgspec.ValidationError as exc:
        raise ConfigError(_field(exc, data, where), str(exc)) from None
    return reference.AgentSeed(doc.id, doc.name, doc.contact, frozen_skills(doc.skills))


def msgspec_pause(data: Any) -> str:
    try:
        return msgspec.convert(data, MPause).reason
    except msgspec.ValidationError as exc:
        raise ConfigError("reason" if "$.reason" in str(exc) else "body", str(exc)) from None


# --- the reference: v1's parser, then the v1 service layer's bounds --------------------------


def reference_queue(data: Any) -> QueueConfig:
    queue = reference.parse_queue(data, "queue")
    reference.check_queue_bounds(queue)
    return queue


def reference_agent(data: Any) -> reference.AgentSeed:
    agent = reference.parse_agent(data, "agent")
    reference.check_agent_bounds(agent)
    return agent


def reference_pause(body: Any) -> str:
    """v1's api/handlers.py pause_agent and AgentService.pause, without the I/O."""
    if not isinstance(body, dict) or set(body) - {"reason"}:
        raise ConfigError("body", 'expected {"reason": "..."}')
    reason = body.get("reason", "")
    if not isinstance(reason, str):
        raise ConfigError("reason", "must be a string")
    if len(reason) > reference.MAX_PAUSE_REASON_LENGTH:
        raise ConfigError("reason", "too long")
    return reason


# --- timing -----------------------------------------------------------------------------------

CANDIDATES: dict[str, dict[str, Callable[[Any], object]]] = {
    "reference": {"queue": reference_queue, "agent": reference_agent, "pause": reference_pause},
    "pydantic": {"queue": parse_queue, "agent": parse_agent, "pause": parse_pause},
    "msgspec": {"queue": msgspec_queue, "agent": msgspec_agent, "pause": msgspec_pause},
}
WORKLOADS: dict[str, tuple[str, Mapping[str, Any], str | None]] = {
    # name: (kind, document, the field its error must name; None: valid)
    "queue": ("queue", QUEUE, None),
    "agent": ("agent", AGENT, None),
    "bad queue": ("queue", BAD_QUEUE, "queue.escalation[1].skills.x"),
    "bad agent": ("agent", BAD_AGENT, "agent.id"),
    "pause": ("pause", PAUSE, None),
}


def _once(validate: Callable[[Any], object], document: Any, expected: str | None) -> None:
    """Every candidate must give the same verdict and name the same field, or timing is moot."""
    field = None
    try:
        validate(document)
    except ConfigError as exc:
        field = exc.field
    if field != expected:
        raise AssertionError(f"{validate.__name__}: field {field!r}, expected {expected!r}")


def _run(validate: Callable[[Any], object], document: Any, bad: bool, number: int) -> float:
    """µs per document over `number` documents."""
    start = time.perf_counter()
    if bad:
        for _ in range(number):
            try:  # noqa: SIM105 (contextlib.suppress would add its own cost to every document)
                validate(document)
            except ConfigError:
                pass
    else:
        for _ in range(number):
            validate(document)
    return (time.perf_counter() - start) / number * 1e6


def measure(runs: int, number: int) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for workload, (kind, document, expected) in WORKLOADS.items():
        medians: dict[str, float] = {}
        for candidate, functions in CANDIDATES.items():
            validate = functions[kind]
            _once(validate, document, expected)  # the same verdict, and the same field
            _run(validate, document, expected is not None, number // 10)  # warm-up
            times = [_run(validate, document, expected is not None, number) for _ in range(runs)]
            medians[candidate] = statistics.median(times)
            results.append({
                "workload": workload, "candidate": candidate, "median_us": medians[candidate],
                "min_us": min(times), "max_us": max(times),
                "ratio": medians[candidate] / medians["reference"],
            })  # fmt: skip
    return results


async def _requests(number: int) -> dict[str, float]:
    """µs per whole request (client and server in one process, so an upper bound)."""
    import tempfile

    from aiohttp.test_utils import TestClient, TestServer

    from acd.compose import assemble
    from acd.config import Settings, StorageSettings

    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as var_dir:
        settings = Settings(
            storage=StorageSettings(var_dir=var_dir), api_token="bench",
            queues=(parse_queue(QUEUE), parse_queue({"name": "sales"})),
            agents=(parse_agent(AGENT),),
        )  # fmt: skip
        assembly = await assemble(settings)
        client = TestClient(TestServer(assembly.app))
        await client.start_server()
        headers = {"Authorization": "Bearer bench"}
        try:
            await client.post("/api/v1/agents/1001/login", headers=headers)
            for name, method, path, body in (
                ("pause request", "POST", "/api/v1/agents/1001/pause", PAUSE),
                ("agent request", "PUT", "/api/v1/agents/1001", AGENT),
                ("queue request", "PUT", "/api/v1/queues/support", QUEUE),
            ):
                start = time.perf_counter()
                for _ in range(number):
                    async with client.request(method, path, json=body, headers=headers) as r:
                        assert r.status == 200, await r.text()
                figures[name] = (time.perf_counter() - start) / number * 1e6
        finally:
            await client.close()
            await assembly.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="3 runs of 2 000 documents")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--number", type=int, default=20_000, help="documents per run")
    parser.add_argument("--out", type=Path, help="also write the results as JSON")
    parser.add_argument("--requests", action="store_true", help="also time whole requests")
    args = parser.parse_args()
    runs, number = (3, 2_000) if args.quick else (args.runs, args.number)
    results = measure(runs, number)
    print(f"{'workload':<10} {'candidate':<10} {'µs/doc':>8} {'min-max':>13} {'ratio':>6}")
    for r in results:
        spread = f"{r['min_us']:.2f}-{r['max_us']:.2f}"
        print(f"{r['workload']:<10} {r['candidate']:<10} {r['median_us']:8.2f} {spread:>13} "
              f"{r['ratio']:6.2f}")  # fmt: skip
    requests: dict[str, float] = {}
    if args.requests:
        import asyncio

        requests = asyncio.run(_requests(max(number // 20, 100)))
        for name, micros in requests.items():
            print(f"{name:<21} {micros:8.0f} µs (whole request, pydantic)")
    if args.out:
        versions = {"python": platform.python_version(), "msgspec": msgspec.__version__}
        versions["pydantic"] = __import__("pydantic").VERSION
        report = {"runs": runs, "number": number, "versions": versions, "results": results,
                  "requests_us": requests}  # fmt: skip
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
