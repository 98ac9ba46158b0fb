"""The documents the ACD reads, each declared once: queue, escalation step, agent, pause request
and token request.

One pydantic model per document validates the TOML file (`acd.config.settings`), the API
bodies (`acd.service`), the queues read back from the store (`acd.storage`), and gives the
JSON Schemas of the OpenAPI document (`api/openapi.py`).

pydantic rather than msgspec, though msgspec is cheaper (bench/documents.py, results in
bench/results/documents.json: a queue document 10.7 µs with pydantic, 8.1 with msgspec, 14.7
with the hand-written v1 parser; a pause body 0.95, 0.18, 0.22), because the gap is under 0.1 %
of a whole request (1.2 ms for a pause, 2.8 ms for a queue PUT) and pydantic gets the error
contract right by itself: it reports where an error is as a structured path that keeps the
skill name (`queue.skills.german`, which msgspec reduces to `skills[...]` in a message to be
parsed), and its patterns end at `$` as JSON Schema's do (Python's `re`, which msgspec uses,
lets "support\n" through `^...$`).

The models are strict (a bool is not a number, "5" is not an integer) and refuse unknown keys
(a misspelt key is an error, not a silent default), with two readings JSON Schema shares, so
that whatever the schema allows is accepted: a whole number written 10.0 is the integer 10, and
escalation steps are kept in order of `after` whatever order they come in. A token's role and
agent go together (stated in the schema with if/then/else); that the agent exists needs the
directory, so acd/service/tokens.py checks it.

What reaches Asterisk follows acd/config/dialstrings.py: an agent's contact is one dial string
(the `[dial]` allow-lists arrive in the validation context, `validate(..., rules=...)`), a
queue's overflow a queue name or a dialplan target, its fallback and its exit_target a dialplan
target; the schema states each as a pattern built from the same grammar.

The router keeps its own type (`QueueConfig`) and its own invariants (acd/router/_validation.py);
a document converts to it with `to_config`, so the router never sees pydantic.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypeVar, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from acd.config.dialstrings import (
    DEFAULT_RULES,
    MAX_DIAL_LENGTH,
    TARGET_PATTERN,
    DialRules,
    DialStringError,
    check_target,
)
from acd.router.model import (
    MAX_LEVEL,
    MIN_LEVEL,
    AgentPolicy,
    EscalationStep,
    PauseReason,
    QueueConfig,
    RonaAction,
    frozen_skills,
)

log = logging.getLogger(__name__)


class ConfigError(ValueError):
    """A configuration value is invalid. `field` names it (dotted path) for error bodies."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class AgentSeed:
    """Who an agent is (the directory's record); its state lives in the router."""

    id: str
    name: str = ""
    contact: str = ""
    skills: Mapping[str, int] = field(default_factory=lambda: frozen_skills(None))


# --- the rules every document shares ------------------------------------------------------

#: Bounds that keep stored numbers inside what every backend and JSON encoder handles.
MAX_PRIORITY = 1_000_000
MAX_SECONDS = 10_000_000.0  # ~115 days: longer than any sensible wait, wrap-up or window
MAX_NAME_LENGTH = 64
MAX_TEXT_LENGTH = 200
MAX_PAUSE_REASON_LENGTH = 100

# Queue names become dialplan extensions (`acd-inbound,<name>`), agent ids appear in channel
# names and AMI headers: ASCII only, so `str.isalnum()`'s "é" is refused everywhere alike.
QUEUE_NAME_PATTERN = rf"^[A-Za-z0-9_-]{{1,{MAX_NAME_LENGTH}}}$"
QueueName = Annotated[str, Field(pattern=QUEUE_NAME_PATTERN)]
AgentId = Annotated[str, Field(pattern=rf"^[A-Za-z0-9_.-]{{1,{MAX_NAME_LENGTH}}}$")]


def _whole(value: Any) -> Any:
    """JSON's 10.0 is the number 10 (JSON Schema's "integer" says so too): a float with no
    fraction is that integer; anything else goes on to the strict check as it is."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


SkillName = Annotated[str, Field(min_length=1, max_length=MAX_NAME_LENGTH)]
Level = Annotated[int, Field(ge=MIN_LEVEL, le=MAX_LEVEL), BeforeValidator(_whole)]
Skills = Annotated[
    dict[SkillName, Level],
    Field(description=f"skill name → level (agents) or minimum level, {MIN_LEVEL}..{MAX_LEVEL}"),
]
Seconds = Annotated[float, Field(ge=0, le=MAX_SECONDS)]
Text = Annotated[str, Field(max_length=MAX_TEXT_LENGTH)]
Role = Literal["admin", "supervisor", "agent", "reader"]
ROLES: tuple[str, ...] = get_args(Role)
# Enums come as their values from JSON and TOML: strict mode would want enum instances.
Policy = Annotated[AgentPolicy, Field(strict=False)]
Rona = Annotated[RonaAction, Field(strict=False)]


class Document(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, frozen=True)


# --- what reaches Asterisk: dial strings and dialplan targets (acd/config/dialstrings.py) ---

#: The validation context's key for the DialRules of the `[dial]` settings; without one the
#: default (strictest shipped) rules apply, so a caller that forgets them cannot widen them.
RULES_CONTEXT = "dial_rules"


def contact_pattern(rules: DialRules) -> str:
    """The schema's statement of what `contact` accepts under `rules` (empty: no contact)."""
    return rf"^$|{rules.pattern()}"


#: A queue's overflow: another queue (no comma) or a dialplan target, as the router tells.
OVERFLOW_PATTERN = f"{QUEUE_NAME_PATTERN}|{TARGET_PATTERN}"


def _rules(info: ValidationInfo) -> DialRules:
    context = info.context
    rules = context.get(RULES_CONTEXT) if isinstance(context, Mapping) else None
    return rules if isinstance(rules, DialRules) else DEFAULT_RULES


def _dial_error(exc: DialStringError) -> PydanticCustomError:
    # The reason as context, not as the template: it quotes the value, which may hold braces.
    return PydanticCustomError("dial_string", "{reason}", {"reason": str(exc)})


def _checked_target(text: str) -> str:
    try:
        return check_target(text)
    except DialStringError as exc:
        raise _dial_error(exc) from None


_QUEUE = QueueConfig("")  # the defaults live with the router's type, not here

#: A dialplan target "context,exten,priority" as the schema states it (a queue's fallback and
#: exit_target; the validators check the grammar itself).
DialplanTarget = Annotated[
    str,
    Field(min_length=1, max_length=MAX_TEXT_LENGTH, json_schema_extra={"pattern": TARGET_PATTERN}),
]

#: A queue's transfer code: what an agent keys after *8 (acd-transfer-key reads digits).
TRANSFER_CODE_PATTERN = r"^[0-9]{1,6}$"


class EscalationStepInput(Document):
    """From `after` seconds in the queue on, the queue's base requirements become `skills`."""

    after: Seconds
    skills: Skills = {}


MAX_PAUSE_CODE_LENGTH = 16
MAX_PAUSE_LABEL_LENGTH = 40


class PauseReasonInput(Document):
    """One pause reason a UI offers: the code it sends, the label it shows."""

    code: Annotated[str, Field(pattern=rf"^[A-Za-z0-9_-]{{1,{MAX_PAUSE_CODE_LENGTH}}}$")]
    label: Annotated[str, Field(min_length=1, max_length=MAX_PAUSE_LABEL_LENGTH)]


#: A DTMF key a caller can press: one digit, `*` or `#` (the acd-wait pattern `_[0-9*#]`).
EXIT_KEY_PATTERN = r"^[0-9*#]$"
#: The key acd-wait gives the callback (extensions_acd.conf, `exten => 1`).
CALLBACK_KEY = "1"


class QueueInput(Document):
    """A queue; omitted keys take their defaults."""

    # The exit key's two rules across fields, for the schema (the validators below say them
    # again with the field to blame): a key needs a target; key 1 only with callbacks off.
    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                {
                    "if": {
                        "properties": {"exit_key": {"type": "string"}},
                        "required": ["exit_key"],
                    },
                    "then": {
                        "required": ["exit_target"],
                        "properties": {"exit_target": {"type": "string"}},
                    },
                },
                {
                    "if": {
                        "properties": {"exit_key": {"const": CALLBACK_KEY}},
                        "required": ["exit_key"],
                    },
                    "then": {
                        "required": ["callback"],
                        "properties": {"callback": {"const": False}},
                    },
                },
            ]
        }
    )

    # The keys are QueueConfig's fields (a test holds them equal), the defaults its defaults.

    name: QueueName
    skills: Skills = {}
    priority: Annotated[
        int,
        Field(ge=-MAX_PRIORITY, le=MAX_PRIORITY, description="higher is served first"),
        BeforeValidator(_whole),
    ] = _QUEUE.priority
    sl_threshold: Seconds = _QUEUE.sl_threshold
    wrap_up: Seconds = _QUEUE.wrap_up
    ring_timeout: Annotated[float, Field(gt=0, le=MAX_SECONDS)] = _QUEUE.ring_timeout
    max_wait: Annotated[Seconds | None, Field(description="null or 0: no limit")] = _QUEUE.max_wait
    overflow: Annotated[
        Annotated[
            str,
            Field(
                min_length=1,
                max_length=MAX_TEXT_LENGTH,
                json_schema_extra={"pattern": OVERFLOW_PATTERN},
            ),
        ]
        | None,
        Field(
            description="after max_wait: another queue's name, a dialplan target "
            "'context,exten,priority', or null (back to the dialplan with ACD_RESULT=timeout)"
        ),
    ] = _QUEUE.overflow
    escalation: Annotated[
        list[EscalationStepInput],
        Field(description="kept in order of after (steps with the same after: as given)"),
    ] = []
    policy: Policy = _QUEUE.policy
    primary_skill: SkillName | None = _QUEUE.primary_skill
    rona_action: Rona = _QUEUE.rona_action
    rona_delay: Seconds = _QUEUE.rona_delay
    join_empty: bool = _QUEUE.join_empty
    leave_empty: bool = _QUEUE.leave_empty
    announce_every: Seconds = _QUEUE.announce_every
    callback: bool = _QUEUE.callback
    short_abandon: Seconds = _QUEUE.short_abandon
    # v1 read 0 as 3600 without a word; a window of no length holds no calls, so 0 is refused.
    sl_window: Annotated[float, Field(gt=0, le=MAX_SECONDS)] = _QUEUE.sl_window
    fallback: Annotated[
        DialplanTarget | None,
        Field(
            description="dialplan target 'context,exten,priority' for callers who have been "
            "without a reachable controller for fallback_after seconds; null: keep waiting"
        ),
    ] = _QUEUE.fallback
    fallback_after: Annotated[
        Seconds, Field(description="seconds without a controller before fallback; 0: never")
    ] = _QUEUE.fallback_after
    sl_target: Annotated[
        float,
        Field(gt=0, le=1, description="the service-level objective: ratio within sl_threshold"),
    ] = _QUEUE.sl_target
    pause_reasons: Annotated[
        list[PauseReasonInput],
        Field(
            description="the pause reasons UIs offer this queue's agents; codes unique "
            "(checked by the server); a pause itself stays free text",
            json_schema_extra={"uniqueItems": True},
        ),
    ] = []
    exit_key: Annotated[
        Annotated[str, Field(pattern=EXIT_KEY_PATTERN)] | None,
        Field(
            description="the DTMF key (0-9, * or #) a waiting caller presses to leave the queue "
            "for exit_target; null: none. Not 1 while callback is on (1 asks for a callback)",
            validate_default=True,
        ),
    ] = _QUEUE.exit_key
    exit_target: Annotated[
        DialplanTarget | None,
        Field(
            description="dialplan target 'context,exten,priority' (voicemail, an IVR) a caller "
            "pressing exit_key goes to, with ACD_RESULT=exit_key; required with exit_key",
            validate_default=True,
        ),
    ] = _QUEUE.exit_target
    transfer_code: Annotated[
        Annotated[str, Field(pattern=TRANSFER_CODE_PATTERN)] | None,
        Field(
            description="the digits (1-6) an agent keys after *8 during a call to hand the "
            "caller on into this queue, keeping its place; null: none. Unique among queues "
            "(checked by the server: 409 transfer_code_in_use)"
        ),
    ] = _QUEUE.transfer_code

    @field_validator("pause_reasons")
    @classmethod
    def _unique_codes(cls, reasons: list[PauseReasonInput]) -> list[PauseReasonInput]:
        codes = [reason.code for reason in reasons]
        if len(set(codes)) != len(codes):
            raise PydanticCustomError("pause_reasons", "each code may appear only once")
        return reasons

    @field_validator("escalation")
    @classmethod
    def _in_order(cls, steps: list[EscalationStepInput]) -> list[EscalationStepInput]:
        # Each step says when it starts, so their order is that of `after`; refusing another
        # order would be a rule JSON Schema cannot state (a stable sort keeps equal ones).
        return sorted(steps, key=lambda step: step.after)

    @field_validator("overflow")
    @classmethod
    def _overflow(cls, overflow: str | None) -> str | None:
        if overflow is None or "," in overflow:
            return overflow if overflow is None else _checked_target(overflow)
        if re.fullmatch(QUEUE_NAME_PATTERN.strip("^$"), overflow) is None:
            raise PydanticCustomError(
                "overflow", "a queue name (letters, digits, _ and -) or a dialplan target"
            )
        return overflow

    @field_validator("fallback")
    @classmethod
    def _fallback(cls, fallback: str | None) -> str | None:
        return fallback if fallback is None else _checked_target(fallback)

    @field_validator("exit_key")
    @classmethod
    def _exit_key(cls, key: str | None, info: ValidationInfo) -> str | None:
        # Both are extensions of acd-wait: with callbacks on, `1` is the callback's.
        if key == CALLBACK_KEY and info.data.get("callback", _QUEUE.callback):
            raise PydanticCustomError(
                "exit_key", "1 is the callback key: choose another exit key or set callback false"
            )
        return key

    @field_validator("exit_target")
    @classmethod
    def _exit_target(cls, target: str | None, info: ValidationInfo) -> str | None:
        if target is None:
            if info.data.get("exit_key") is not None:
                raise PydanticCustomError(
                    "exit_target", "an exit_key needs an exit_target (context,exten,priority)"
                )
            return None
        return _checked_target(target)

    def to_config(self) -> QueueConfig:
        steps = (EscalationStep(s.after, frozen_skills(s.skills)) for s in self.escalation)
        return QueueConfig(
            **{
                **self.__dict__,  # the fields, as pydantic keeps them; dict(self) costs 5 µs
                "skills": frozen_skills(self.skills),
                "escalation": tuple(steps),
                "pause_reasons": tuple(PauseReason(r.code, r.label) for r in self.pause_reasons),
                # The router refuses a zero max wait (a call could bounce between queues).
                "max_wait": self.max_wait or None,
            }
        )


class AgentInput(Document):
    id: AgentId
    name: Text = ""
    contact: Annotated[
        str,
        Field(
            max_length=MAX_DIAL_LENGTH,
            description="the channel to dial, empty for none: TECH/resource (PJSIP/1001) or "
            "Local/exten@context (Local/2001@acd-sim-agent); the technologies and Local "
            "contexts allowed are the [dial] settings' (checked by the server)",
            json_schema_extra={"pattern": contact_pattern(DEFAULT_RULES)},
        ),
    ] = ""
    skills: Skills = {}

    @field_validator("contact")
    @classmethod
    def _dialable(cls, contact: str, info: ValidationInfo) -> str:
        if not contact:
            return contact
        try:
            return _rules(info).check_dial(contact)
        except DialStringError as exc:
            raise _dial_error(exc) from None

    def to_seed(self) -> AgentSeed:
        return AgentSeed(self.id, self.name, self.contact, frozen_skills(self.skills))


class PauseRequest(Document):
    reason: Annotated[str, Field(max_length=MAX_PAUSE_REASON_LENGTH)] = ""


class TokenInput(Document):
    # The pairing of role and agent, stated for the schema: an agent token names its agent,
    # others none. That the agent exists needs the directory (acd/service/tokens.py).
    model_config = ConfigDict(
        json_schema_extra={
            "if": {"properties": {"role": {"const": "agent"}}, "required": ["role"]},
            "then": {"required": ["agent_id"], "properties": {"agent_id": {"type": "string"}}},
            "else": {"properties": {"agent_id": {"type": "null"}}},
        }
    )

    name: Annotated[str, Field(min_length=1, max_length=MAX_NAME_LENGTH)]
    role: Role
    agent_id: Annotated[
        AgentId | None,
        Field(
            description="role agent: a known agent (else 404), the only one it may change; "
            "other roles: null or absent",
            validate_default=True,
        ),
    ] = None

    @field_validator("agent_id")
    @classmethod
    def _paired(cls, agent_id: str | None, info: ValidationInfo) -> str | None:
        role = info.data.get("role")
        if role == "agent" and agent_id is None:
            raise PydanticCustomError("agent_id", "an agent token needs the id of an agent")
        if role is not None and role != "agent" and agent_id is not None:
            raise PydanticCustomError("agent_id", "only agent tokens name an agent")
        return agent_id


MonitorMode = Literal["listen", "whisper", "barge"]
MONITOR_MODES: tuple[str, ...] = get_args(MonitorMode)


class MonitorRequest(Document):
    """A supervisor's listen / whisper / barge on an agent's connected call."""

    mode: Annotated[
        MonitorMode,
        Field(
            description="listen: hear both sides, unheard; whisper: also talk to the agent "
            "only; barge: talk to both"
        ),
    ]
    contact: Annotated[
        str,
        Field(
            max_length=MAX_DIAL_LENGTH,
            description="the supervisor's phone, called first: TECH/resource (PJSIP/1003); "
            "the [dial] rules apply (checked by the server)",
            json_schema_extra={"pattern": DEFAULT_RULES.pattern()},
        ),
    ]

    @field_validator("contact")
    @classmethod
    def _dialable(cls, contact: str, info: ValidationInfo) -> str:
        try:
            return _rules(info).check_dial(contact)
        except DialStringError as exc:
            raise _dial_error(exc) from None


#: A transfer note: shown to the next agent, set on the caller's channel, kept in the record.
MAX_TRANSFER_NOTE_LENGTH = 500


#: No C0 or C1 control character (a CR/LF would end an AMI header): JSON Schema's and
#: pydantic's regex engines both read these escapes.
NO_CONTROLS_PATTERN = r"^[^\u0000-\u001f\u007f-\u009f]*$"


class TransferRequest(Document):
    """A blind transfer of a connected call into a queue: the caller hears the queue's music
    while the next agent is found, and the agent on the call is freed into its wrap-up."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["queue"], "properties": {"queue": {"type": "string"}}},
                {"required": ["skills"], "properties": {"skills": {"minProperties": 1}}},
            ]
        }
    )

    queue: Annotated[
        QueueName | None,
        Field(description="the queue the caller goes to; null or absent: the call's own"),
    ] = None
    skills: Annotated[
        Skills,
        Field(
            description="required skills added to the call's own (its ACD_SKILLS)",
            validate_default=True,
        ),
    ] = {}
    note: Annotated[
        str,
        Field(
            max_length=MAX_TRANSFER_NOTE_LENGTH,
            pattern=NO_CONTROLS_PATTERN,
            description="free text for the next agent (no control characters)",
        ),
    ] = ""
    keep_place: Annotated[
        bool,
        Field(
            description="true: ordered by its first entry into the ACD, ahead of callers who "
            "came later; false: behind those waiting in the target queue now (a warm "
            "transfer's consultation is ordered by its own start: not with warm)"
        ),
    ] = False
    warm: Annotated[
        bool,
        Field(
            description="true: a consultation first — the caller hears music while the agent "
            "is connected to a specialist of the target, then POST .../transfer/complete "
            "joins caller and specialist, .../transfer/cancel returns the agent to the caller"
        ),
    ] = False

    @field_validator("skills")
    @classmethod
    def _something_to_do(cls, skills: dict[str, int], info: ValidationInfo) -> dict[str, int]:
        if not skills and info.data.get("queue") is None:
            raise PydanticCustomError("transfer_target", "name a queue, skills, or both")
        return skills


DOCUMENTS: tuple[type[Document], ...] = (
    QueueInput,
    AgentInput,
    PauseRequest,
    TokenInput,
    MonitorRequest,
    TransferRequest,
)


# --- validating: a document or a ConfigError naming the field -----------------------------

D = TypeVar("D", bound=Document)

#: pydantic's wording where ours was shorter or is relied on ("unknown key": scenario files).
_MESSAGES = {
    "extra_forbidden": "unknown key",
    "missing": "is required",
    "model_type": "expected an object",
    "dict_type": "expected an object",
}


def _path(where: str, loc: tuple[int | str, ...]) -> str:
    if len(loc) >= 2 and loc[-1] == "[key]":
        loc = loc[:-2]  # a bad skill name: the error is the mapping's, as the name may be ""
    path = where
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else part
    return path


def _config_error(where: str, error: ErrorDetails) -> ConfigError:
    return ConfigError(_path(where, error["loc"]), _MESSAGES.get(error["type"], error["msg"]))


def validate(document: type[D], data: Any, where: str, *, rules: DialRules = DEFAULT_RULES) -> D:
    """`data` as `document`, or a ConfigError for its first problem, `where` leading the path.
    `rules`: which dial strings a contact may be (the `[dial]` settings)."""
    try:
        return document.model_validate(data, context={RULES_CONTEXT: rules})
    except ValidationError as exc:
        raise _config_error(where, exc.errors(include_url=False)[0]) from None


def parse_queue(data: Any, where: str = "queue") -> QueueConfig:
    return validate(QueueInput, data, where).to_config()


#: What a stored queue may lose at load and still serve its callers: where they go after
#: max_wait (without it: back to the dialplan) and without a controller (without it: they wait).
_DROPPABLE = ("overflow", "fallback")


def parse_stored_queue(data: Any, where: str) -> QueueConfig:
    """A queue read back from the store. An overflow or fallback stored before the dialplan
    target rules is left out, with an error in the log, rather than the whole queue: the row
    stays as it was for an operator to PUT again. Any other problem is a ConfigError."""
    for _ in _DROPPABLE:
        try:
            return parse_queue(data, where)
        except ConfigError as exc:
            key = exc.field.removeprefix(f"{where}.")
            if key not in _DROPPABLE or not isinstance(data, Mapping) or data.get(key) is None:
                raise
            log.error("%s: %s left out (PUT the queue again): %s", where, key, exc.message)
            data = {**data, key: None}
    return parse_queue(data, where)


def transfer_code_holder(queue: QueueConfig, others: Iterable[QueueConfig]) -> str | None:
    """The other queue that has `queue`'s transfer code already, if any: a code names one
    queue (the file's queues and the API's alike)."""
    if queue.transfer_code is None:
        return None
    for other in others:
        if other.name != queue.name and other.transfer_code == queue.transfer_code:
            return other.name
    return None


def parse_agent(data: Any, where: str = "agent", rules: DialRules = DEFAULT_RULES) -> AgentSeed:
    return validate(AgentInput, data, where, rules=rules).to_seed()


_SKILLS: TypeAdapter[dict[str, int]] = TypeAdapter(Skills, config=Document.model_config)


def parse_skills(value: Any, where: str) -> Mapping[str, int]:
    """A skills mapping on its own (stored agents, scenario groups); None is no skills."""
    if value is None:
        return frozen_skills(None)
    try:
        return frozen_skills(_SKILLS.validate_python(value))
    except ValidationError as exc:
        raise _config_error(where, exc.errors(include_url=False)[0]) from None


def parse_pause(data: Any) -> str:
    """The pause body's reason. Its errors name `reason`, or `body` for the rest (since v1)."""
    if data is None:
        return ""
    try:
        return validate(PauseRequest, data, "").reason
    except ConfigError as exc:
        raise ConfigError("reason" if exc.field == "reason" else "body", exc.message) from None


def queue_to_dict(queue: QueueConfig) -> dict[str, Any]:
    """The queue document of a QueueConfig: the API's answer and the stored form."""
    document = {name: getattr(queue, name) for name in QueueInput.model_fields}
    document.update(
        skills=dict(queue.skills),
        escalation=[{"after": s.after, "skills": dict(s.skills)} for s in queue.escalation],
        pause_reasons=[{"code": r.code, "label": r.label} for r in queue.pause_reasons],
        policy=queue.policy.value,
        rona_action=queue.rona_action.value,
    )
    return document
