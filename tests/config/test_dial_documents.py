"""Dial strings and dialplan targets in the documents: an agent's contact, a queue's overflow
and fallback follow acd/config/dialstrings.py, with the allow-lists of the `[dial]` settings.

Each value below was accepted before and would have reached Asterisk as it is: a CR/LF is a
second AMI action (or AGI command), a `&` a second device, a `,` Dial()'s next argument, a `"`
the end of the dialplan's `$["${ACD_DESTINATION}" != ""]` expression.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.config import ConfigError, load_settings, parse_agent, parse_queue
from acd.config.dialstrings import DialRules
from acd.config.documents import AgentInput, validate

BAD_CONTACTS = [
    "PJSIP/1001\r\nAction: Originate",
    "PJSIP/1001\nEXEC AGI /bin/sh",
    "PJSIP/1001&PJSIP/trunk/0900123",
    "PJSIP/1001,,tT",
    "PJSIP/1001)",
    'PJSIP/"1001"',
    "PJSIP/10 01",
    "PJSIP/${EXTEN}",
    "DAHDI/g1/0900123",  # a technology outside the allow-list
    "Local/0900123@trunk-out",  # a Local context outside the allow-list
    "Local/1001",  # a Local channel without a context
    "1001",
]

GOOD_CONTACTS = [
    "",  # no contact: the agent cannot be offered calls, but exists
    "PJSIP/1001",
    "pjsip/1001",
    "PJSIP/trunk/sip:+4930123@host",
    "IAX2/peer",
    "Local/2001@acd-sim-agent",
    "Local/2001@acd-sim-agent/n",
]


@pytest.mark.parametrize("contact", BAD_CONTACTS)
def test_a_contact_outside_the_grammar_is_refused(contact: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_agent({"id": "a1", "contact": contact})
    assert caught.value.field == "agent.contact"


@pytest.mark.parametrize("contact", GOOD_CONTACTS)
def test_a_dial_string_as_asterisk_writes_one_is_a_contact(contact: str) -> None:
    assert parse_agent({"id": "a1", "contact": contact}).contact == contact


def test_the_rules_in_the_validation_context_are_the_ones_applied() -> None:
    rules = DialRules(technologies=("SIP", "Local"), local_contexts=("agents",))
    for contact in ("SIP/1001", "Local/1@agents"):
        agent = validate(AgentInput, {"id": "a", "contact": contact}, "agent", rules=rules)
        assert agent.contact == contact
    for contact in ("PJSIP/1001", "Local/1@acd-sim-agent"):
        with pytest.raises(ConfigError, match="not allowed"):
            validate(AgentInput, {"id": "a", "contact": contact}, "agent", rules=rules)


BAD_TARGETS = [
    'x" != "" | "1',  # out of $["${ACD_DESTINATION}" != ""]
    "ivr,s,1\r\nAction: Originate",
    "ivr,s,1\n",
    "ivr,s",  # all three parts, as Goto() would otherwise guess
    "ivr, s, 1",
    "ivr,s,1,2",
    "ivr,s,${X}",
    "ivr;x,s,1",
]


@pytest.mark.parametrize("target", BAD_TARGETS)
def test_an_overflow_is_a_queue_name_or_a_dialplan_target(target: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_queue({"name": "q", "overflow": target})
    assert caught.value.field == "queue.overflow"


@pytest.mark.parametrize("target", [*BAD_TARGETS, "sales"])
def test_a_fallback_is_a_dialplan_target(target: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_queue({"name": "q", "fallback": target})
    assert caught.value.field == "queue.fallback"


def test_good_overflows_and_fallbacks() -> None:
    for overflow in ("sales", "sales-2", "acd-inbound,sales,1", "ivr,_X.,start", "vm,*98#,1"):
        assert parse_queue({"name": "q", "overflow": overflow}).overflow == overflow
    queue = parse_queue({"name": "q", "fallback": "acd-fallback,s,1", "fallback_after": 5})
    assert queue.fallback == "acd-fallback,s,1"


def test_the_dial_section_of_the_settings_file_sets_the_allow_lists(tmp_path: Path) -> None:
    path = tmp_path / "acd.toml"
    path.write_text(
        '[dial]\ntechnologies = ["SIP", "Local"]\nlocal_contexts = ["agents"]\n'
        '[[agents]]\nid = "a1"\ncontact = "SIP/1001"\n'
        '[[agents]]\nid = "a2"\ncontact = "Local/2@agents"\n'
    )
    settings = load_settings(path, env={})
    assert settings.dial.rules() == DialRules(("SIP", "Local"), ("agents",))
    assert [a.contact for a in settings.agents] == ["SIP/1001", "Local/2@agents"]
    path.write_text('[dial]\ntechnologies = ["SIP"]\n[[agents]]\nid = "a1"\ncontact = "PJSIP/1"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    assert caught.value.field == "agents[0].contact"


def test_the_dial_section_defaults_and_refuses_what_is_not_a_name(tmp_path: Path) -> None:
    assert load_settings(None, env={}).dial.rules() == DialRules()
    path = tmp_path / "acd.toml"
    for bad in ('technologies = "PJSIP"', 'technologies = ["PJ SIP"]', 'local_contexts = [1]',
                'local_contexts = ["a,b"]', "other = 1"):  # fmt: skip
        path.write_text(f"[dial]\n{bad}\n")
        with pytest.raises(ConfigError) as caught:
            load_settings(path, env={})
        assert caught.value.field.startswith("dial"), bad


def test_the_dial_allow_lists_from_the_environment(tmp_path: Path) -> None:
    env = {"ACD_DIAL_TECHNOLOGIES": "PJSIP, SIP", "ACD_DIAL_LOCAL_CONTEXTS": ""}
    rules = load_settings(None, env=env).dial.rules()
    assert rules == DialRules(("PJSIP", "SIP"), ())


def test_the_example_config_documents_the_dial_section() -> None:
    example = Path(__file__).parents[2] / "acd.example.toml"
    text = example.read_text()
    assert "[dial]" in text
    assert load_settings(example, env={}).dial.rules() == DialRules()
