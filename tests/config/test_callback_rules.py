"""Which number a caller's own caller ID may have called back, and how (`[dial]`
callback_dial and callback_numbers, acd/config/dialstrings.py).

CALLERID(num) is the caller's to choose. Before, any `+`/digit string was called back as
`PJSIP/<number>`: a caller claiming 1001 made the ACD ring agent 1001's phone, and behind a
trunk any number the caller claimed (a premium one: toll fraud) was dialled.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.config import ConfigError, load_settings
from acd.config.dialstrings import DialRules, DialStringError


def _trunk() -> DialRules:
    return DialRules(
        callback_template="PJSIP/{number}@trunk",
        # German numbers, without the premium (0900/+49900) and mass-call (0137) ranges.
        callback_numbers=r"\+49(?!900|137)[1-9][0-9]{6,12}",
    )


@pytest.mark.parametrize("number", ["1001", "1002", "100", "*97", "#1", "112", "0", ""])
def test_an_agent_s_extension_or_a_service_code_is_not_called_back(number: str) -> None:
    assert DialRules().callback_dial(number) is None


@pytest.mark.parametrize("number", ["+4930123456", "4930123456", "+15551234567", "5551234"])
def test_a_caller_s_own_e164_number_is_called_back_by_default(number: str) -> None:
    assert DialRules().callback_dial(number) == f"PJSIP/{number}"


def test_behind_a_trunk_only_the_numbers_the_pattern_allows_are_dialled() -> None:
    trunk = _trunk()
    assert trunk.callback_dial("+4930123456") == "PJSIP/+4930123456@trunk"
    for number in ("+49900123456", "+491371234567", "+88213123456", "1001", "+4930"):
        assert trunk.callback_dial(number) is None, number


@pytest.mark.parametrize(
    "number",
    ["+4930123456&PJSIP/1", "4930123456,tT", "49301/23456", "9001234567@trunk",
     "trunk/9001234567", "+4930123456\r\nAction: Originate"],
)  # fmt: skip
def test_the_pattern_never_widens_the_phone_number_alphabet(number: str) -> None:
    assert DialRules(callback_numbers=".*").callback_dial(number) is None


def test_an_empty_template_turns_caller_number_callbacks_off() -> None:
    assert DialRules(callback_template="").callback_dial("+4930123456") is None


def test_a_template_the_technologies_refuse_calls_nobody_back() -> None:
    """The default template with PJSIP left out of `technologies` (a file written before
    callback_dial existed) loads; no caller number is called back."""
    rules = DialRules(technologies=("SIP",))
    assert rules.callback_dial("+4930123456") is None
    with pytest.raises(DialStringError):
        rules.check_callback_template()


@pytest.mark.parametrize(
    ("template", "numbers"),
    [
        ("PJSIP/trunk", r"[0-9]+"),  # no {number}: every caller would call the same place
        ("PJSIP/{number}@{number}", r"[0-9]+"),
        ("PJSIP/{number}&PJSIP/1", r"[0-9]+"),
        ("PJSIP/{number}", "("),  # not a regular expression
    ],
)
def test_callback_rules_that_cannot_work_are_refused(template: str, numbers: str) -> None:
    with pytest.raises(DialStringError):
        DialRules(callback_template=template, callback_numbers=numbers)


def test_the_dial_section_sets_the_callback_rules(tmp_path: Path) -> None:
    path = tmp_path / "acd.toml"
    path.write_text(
        "[dial]\n"
        'callback_dial = "PJSIP/{number}@trunk"\n'
        "callback_numbers = '\\+49(?!900|137)[1-9][0-9]{6,12}'\n"
    )
    assert load_settings(path, env={}).dial.rules() == _trunk()
    env = {"ACD_DIAL_CALLBACK_DIAL": "IAX2/{number}", "ACD_DIAL_CALLBACK_NUMBERS": "[0-9]{7}"}
    rules = load_settings(None, env=env).dial.rules()
    assert rules.callback_dial("5551234") == "IAX2/5551234"
    assert rules.callback_dial("+4930123456") is None


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ('callback_dial = "PJSIP/trunk"', "dial.callback_dial"),
        ('callback_dial = "DAHDI/g1/{number}"', "dial.callback_dial"),  # not allowed
        ('callback_dial = "Local/{number}@trunk-out"', "dial.callback_dial"),  # not allowed
        ('callback_dial = "PJSIP/{number},tT"', "dial.callback_dial"),
        ("callback_dial = 1", "dial.callback_dial"),
        ('callback_numbers = "("', "dial.callback_numbers"),
        ("callback_numbers = []", "dial.callback_numbers"),
    ],
)
def test_the_dial_section_refuses_callback_rules_that_cannot_work(
    tmp_path: Path, line: str, field: str
) -> None:
    path = tmp_path / "acd.toml"
    path.write_text(f"[dial]\n{line}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    assert caught.value.field == field


def test_the_example_config_documents_the_callback_rules() -> None:
    example = Path(__file__).parents[2] / "acd.example.toml"
    text = example.read_text()
    assert "callback_dial" in text
    assert "callback_numbers" in text
    assert load_settings(example, env={}).dial.rules() == DialRules()
