"""What the ACD hands to Asterisk as a place to call or a place to go, declared once.

Two grammars, applied to the API bodies, the settings file, the store and everything read from
a caller's channel alike:

- a **dial string** (`Dial()`'s and `Originate`'s channel argument), as Asterisk writes one
  device: `TECH/resource`, TECH from an allow-list (`DialRules.technologies`), the resource
  from a small alphabet (letters, digits and `_ . + * # @ : = -`, up to two `/` segments, as
  `PJSIP/trunk/sip:+4930123@host` needs). A `Local/` dial string is `Local/<exten>@<context>`
  (optionally `/n`) with the context from an allow-list (`DialRules.local_contexts`): a Local
  channel runs dialplan, and an open one would let a callback number reach a trunk context.
  Never a `&` (a second device), `,` (Dial's next argument), `$`, quotes, spaces or control
  characters.
- a **dialplan target** (`Goto()`'s argument): `context,exten,priority`, all three, from the
  same small alphabets Asterisk's dialplan names use; the priority a number or a label.

A caller's own number (`CALLERID(num)`, which the caller's side chooses) becomes a dial string
only when it is a phone number (`+` and digits, `*` and `#`) that the `callback_numbers` pattern
allows (by default E.164-like: 7 to 15 digits, no leading 0, so no agent's extension such as
1001, no service code), put into the `callback_template` (`PJSIP/{number}` by default;
`PJSIP/{number}@trunk` behind a trunk), and the result is again a dial string these rules
allow. That an agent's own phone is not called back this way is for the caller of
`callback_dial` to check: only the agent directory knows the contacts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_DIAL_LENGTH = 120

#: Technologies a contact or callback may use unless the settings say otherwise.
DEFAULT_TECHNOLOGIES: tuple[str, ...] = ("PJSIP", "IAX2", "Local")
#: Contexts a `Local/` dial string may enter unless the settings say otherwise: the simulated
#: agents and callers of asterisk-config/extensions.conf.
DEFAULT_LOCAL_CONTEXTS: tuple[str, ...] = ("acd-sim-agent", "acd-sim-caller")

_NAME = r"[A-Za-z0-9_-]{1,80}"
_EXTEN = r"[A-Za-z0-9_+*#.-]{1,80}"
_PRIORITY = r"(?:[1-9][0-9]{0,5}|[A-Za-z][A-Za-z0-9_]{0,39})"
_SEGMENT = r"[A-Za-z0-9_.+*#@:=-]{1,80}"

_RESOURCE = rf"{_SEGMENT}(?:/{_SEGMENT})?"
#: The place holder of `callback_template` the caller's number goes into.
NUMBER = "{number}"
#: Where a caller's own number is called back unless the settings say otherwise.
DEFAULT_CALLBACK_TEMPLATE = f"PJSIP/{NUMBER}"
#: Which caller numbers are called back unless the settings say otherwise: E.164-like.
DEFAULT_CALLBACK_NUMBERS = r"\+?[1-9][0-9]{6,14}"
#: Stands in for a caller's number when a template is checked.
_SAMPLE_NUMBER = "15551234567"
#: The names of a technology and of a Local context (the allow-lists' entries).
TECHNOLOGY_NAME = r"[A-Za-z][A-Za-z0-9]{0,15}"
CONTEXT_NAME = _NAME

_DIAL = re.compile(rf"(?P<tech>{TECHNOLOGY_NAME})/(?P<resource>{_RESOURCE})")
_LOCAL = re.compile(rf"(?P<exten>{_EXTEN})@(?P<context>{_NAME})(?:/n)?")
_TARGET = re.compile(rf"(?P<context>{_NAME}),(?P<exten>{_EXTEN}),(?P<priority>{_PRIORITY})")
#: The same grammar for JSON Schema (ECMA-262 reads it as Python does: no named groups).
TARGET_PATTERN = rf"^{_NAME},{_EXTEN},{_PRIORITY}$"
_PHONE_NUMBER = re.compile(r"\+?[0-9*#]{1,32}")


class DialStringError(ValueError):
    """A dial string or dialplan target outside the grammar; the message says why."""


@dataclass(frozen=True, slots=True)
class DialRules:
    """The allow-lists: which technologies, and which contexts a `Local/` channel may enter.
    Technology names compare without case, as Asterisk's do."""

    technologies: tuple[str, ...] = DEFAULT_TECHNOLOGIES
    local_contexts: tuple[str, ...] = DEFAULT_LOCAL_CONTEXTS
    #: Where a caller's own number is called back: a dial string with one NUMBER in it;
    #: empty: a caller's number is never called back (only the dialplan's ACD_CALLBACK_TO).
    callback_template: str = DEFAULT_CALLBACK_TEMPLATE
    #: The regular expression a caller's number must match, whole (on top of the phone
    #: number alphabet, which it cannot widen).
    callback_numbers: str = DEFAULT_CALLBACK_NUMBERS

    def __post_init__(self) -> None:
        try:
            re.compile(self.callback_numbers)
        except (re.error, TypeError) as exc:
            raise DialStringError(f"callback_numbers is not a regular expression: {exc}") from None
        if not self.callback_template:
            return
        if self.callback_template.count(NUMBER) != 1:
            raise DialStringError(f"a callback template holds {NUMBER} exactly once")
        if _DIAL.fullmatch(self.callback_template.replace(NUMBER, _SAMPLE_NUMBER)) is None:
            raise DialStringError(
                f"the callback template {shown(self.callback_template)} is no dial string"
            )

    def check_callback_template(self) -> None:
        """DialStringError unless the callback template gives dial strings these rules allow
        (the default's PJSIP may be left out of `technologies`: no caller's number is then
        called back, and each refusal is logged)."""
        if self.callback_template:
            try:
                self.check_dial(self.callback_template.replace(NUMBER, _SAMPLE_NUMBER))
            except DialStringError as exc:
                raise DialStringError(f"the callback template is refused: {exc}") from None

    def check_dial(self, text: str) -> str:
        """`text` if it is one dial string these rules allow; else DialStringError."""
        if len(text) > MAX_DIAL_LENGTH:
            raise DialStringError(f"a dial string has at most {MAX_DIAL_LENGTH} characters")
        match = _DIAL.fullmatch(text)
        if match is None:
            raise DialStringError(
                f"{shown(text)} is not a dial string TECH/resource (letters, digits and "
                "_ . + * # @ : = - only; no '&', ',', spaces or quotes)"
            )
        tech = match["tech"]
        allowed = {t.lower(): t for t in self.technologies}
        if tech.lower() not in allowed:
            raise DialStringError(
                f"technology {tech!r} is not allowed (allowed: {', '.join(self.technologies)})"
            )
        if tech.lower() == "local":
            local = _LOCAL.fullmatch(match["resource"])
            if local is None:
                raise DialStringError(f"{shown(text)}: a Local dial string is Local/exten@context")
            if local["context"] not in self.local_contexts:
                raise DialStringError(
                    f"context {local['context']!r} is not allowed for Local channels "
                    f"(allowed: {', '.join(self.local_contexts) or 'none'})"
                )
        return text

    def pattern(self) -> str:
        """The dial strings these rules allow as one regular expression for JSON Schema
        (ECMA-262 has no case-insensitive group, so each technology is spelt out by letter).
        The length limit is MAX_DIAL_LENGTH, stated beside it as maxLength."""
        devices = [
            rf"{_any_case(tech)}/{_RESOURCE}"
            for tech in self.technologies
            if tech.lower() != "local" and re.fullmatch(TECHNOLOGY_NAME, tech)
        ]
        contexts = [c for c in self.local_contexts if re.fullmatch(_NAME, c)]
        if contexts and "local" in {t.lower() for t in self.technologies}:
            local = rf"{_EXTEN}@(?:{'|'.join(contexts)})(?:/n)?"
            devices.append(rf"{_any_case('Local')}/{local}")
        return rf"^(?:{'|'.join(devices) or '(?!)'})$"

    def callback_dial(self, number: str) -> str | None:
        """The dial string that calls a caller's own number back (`callback_template`), or
        None when these rules do not call that number (a caller ID is the caller's to
        choose): not a phone number, not one `callback_numbers` allows, or no template."""
        if not self.callback_template or not _PHONE_NUMBER.fullmatch(number):
            return None
        if not re.fullmatch(self.callback_numbers, number):
            return None
        try:
            return self.check_dial(self.callback_template.replace(NUMBER, number))
        except DialStringError:
            return None


DEFAULT_RULES = DialRules()


def check_target(text: str) -> str:
    """`text` if it is a dialplan target `context,exten,priority`; else DialStringError."""
    if _TARGET.fullmatch(text) is None:
        raise DialStringError(
            f"{shown(text)} is not a dialplan target context,exten,priority (letters, digits, "
            "_ and -; the extension also + * # .; the priority a number or a label)"
        )
    return text


def _any_case(word: str) -> str:
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in word)


def shown(text: str, limit: int = 40) -> str:
    """A value from outside as an error message or a log line shows it: quoted (control
    characters escaped) and cut to `limit` characters."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


#: What nothing handed to Asterisk may contain, whatever the protocol: CR and LF end an AMI
#: header or action and an AGI command (the rest would be read as another one), NUL ends a C
#: string in Asterisk. The AMI and AGI writers refuse it as their last line of defence.
LINE_BREAKING = frozenset("\r\n\0")


def breaks_lines(text: str) -> bool:
    """Whether `text` holds a character of LINE_BREAKING (never to be sent to Asterisk)."""
    return not LINE_BREAKING.isdisjoint(text)
