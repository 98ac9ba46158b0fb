"""The lease's rules without I/O: a fake clock, replies handed in by the test."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acd.cluster.lease import Elected, LeaseRules, LeaseTiming, Role, SteppedDown

TIMING = LeaseTiming(ttl=3.0, renew_every=1.0, margin=0.5)


def leader(at: float = 0.0, token: int = 7) -> LeaseRules:
    rules = LeaseRules(TIMING)
    assert rules.acquired(sent=at, token=token, now=at + 0.01) == [Elected(token)]
    return rules


def test_a_follower_may_not_act_and_tries_at_once() -> None:
    rules = LeaseRules(TIMING)
    assert rules.role is Role.FOLLOWER
    assert not rules.may_act(0.0)
    assert rules.due(0.0)
    rules.not_acquired(0.0)
    assert not rules.due(0.2)
    assert rules.due(TIMING.retry_every)


def test_a_leader_acts_until_sent_plus_ttl_minus_margin_and_not_a_moment_longer() -> None:
    rules = leader(at=10.0)
    assert rules.may_act(10.0)
    assert rules.may_act(12.499)
    assert not rules.may_act(12.5)
    assert rules.tick(12.5) == [SteppedDown(7, "expired")]
    assert rules.role is Role.FOLLOWER
    assert rules.token is None


def test_the_deadline_counts_from_the_send_not_from_the_reply() -> None:
    rules = LeaseRules(TIMING)
    rules.acquired(sent=0.0, token=1, now=2.0)  # a slow network: the reply took 2 s
    assert rules.act_until == 2.5
    assert not rules.may_act(2.5)


def test_a_reply_later_than_the_deadline_does_not_make_a_leader() -> None:
    rules = LeaseRules(TIMING)
    assert rules.acquired(sent=0.0, token=1, now=2.5) == []
    assert rules.role is Role.FOLLOWER
    assert not rules.may_act(2.5)


def test_renewing_keeps_the_lease_and_moves_the_deadline() -> None:
    rules = leader(at=0.0)
    assert not rules.due(0.99)
    assert rules.due(1.0)
    for k in range(1, 50):  # well past many ttls
        sent = float(k)
        assert rules.renewed(sent=sent, now=sent + 0.05) == []
        assert rules.may_act(sent + 2.49)
    assert rules.act_until == 49 + 2.5
    assert rules.token == 7


def test_failed_renews_keep_acting_only_until_the_deadline_then_step_down() -> None:
    rules = leader(at=0.0)
    assert rules.renew_failed(1.0) == []
    assert rules.may_act(1.0)
    assert rules.due(1.0 + TIMING.retry_every)
    assert rules.renew_failed(2.0) == []
    assert rules.may_act(2.49)
    assert rules.renew_failed(2.5) == [SteppedDown(7, "expired")]
    assert not rules.may_act(2.5)


def test_a_late_renew_success_after_the_deadline_does_not_revive_the_leader() -> None:
    rules = leader(at=0.0)
    assert rules.renewed(sent=1.0, now=2.6) == [SteppedDown(7, "expired")]
    assert rules.role is Role.FOLLOWER


def test_a_renew_that_finds_another_holder_steps_down_at_once() -> None:
    rules = leader(at=0.0)
    assert rules.lost(1.0) == [SteppedDown(7, "lost")]
    assert not rules.may_act(1.0)


def test_a_frozen_node_sees_may_act_false_the_moment_its_clock_jumped() -> None:
    rules = leader(at=0.0)
    assert rules.may_act(0.9)
    # SIGSTOP at 0.9, SIGCONT at 30: no reply, no renew, only the clock read again.
    assert not rules.may_act(30.0)
    assert rules.tick(30.0) == [SteppedDown(7, "expired")]


def test_a_first_token_waits_a_ttl_before_acting_as_redis_may_have_lost_an_old_lease() -> None:
    rules = LeaseRules(TIMING)
    rules.acquired(sent=10.0, token=1, now=10.01)
    assert rules.role is Role.LEADER
    assert not rules.may_act(12.99)
    rules.renewed(sent=11.0, now=11.01)
    rules.renewed(sent=12.0, now=12.01)
    assert not rules.may_act(12.99)
    assert rules.may_act(13.0)
    # an old leader renewed last at 9.99 (before the loss, before this send): its deadline
    assert 9.99 + TIMING.ttl - TIMING.margin <= rules.act_from


def test_release_steps_down_and_a_new_acquisition_needs_a_new_token() -> None:
    rules = leader(at=0.0, token=3)
    assert rules.released(0.5) == [SteppedDown(3, "released")]
    assert rules.acquired(sent=1.0, token=4, now=1.01) == [Elected(4)]
    assert rules.token == 4


def test_the_next_wakeup_of_a_leader_is_its_renew_or_its_deadline() -> None:
    rules = leader(at=0.0)
    assert rules.next_wakeup() == 1.0
    rules.renew_failed(2.4)
    assert rules.next_wakeup() == 2.5  # the deadline comes before the retry at 2.65
    assert rules.attempt_timeout(2.4) == pytest.approx(0.1)


@given(
    sent=st.floats(0, 1e6),
    up=st.floats(0, 10),
    down=st.floats(0, 10),
    rate=st.floats(0.9, 1.1),  # the node's clock rate against Redis's, within 10 %
)
def test_the_deadline_falls_before_redis_can_expire_the_lease(
    sent: float, up: float, down: float, rate: float
) -> None:
    """Redis starts the ttl when the command arrives (`up` after the send), the reply takes
    `down` more. On Redis's timeline the lease lives until `sent + up + ttl`; the node stops
    acting at its own `sent + ttl - margin`, which on Redis's timeline (the node's clock runs
    at `rate`) is `(ttl - margin) / rate` after the send, never later than the expiry when the
    margin covers the rate difference (0.5 s of 3 s ≥ 10 %·2.5 s)."""
    rules = LeaseRules(TIMING)
    if not rules.acquired(sent=sent, token=1, now=sent + (up + down) * rate):
        return  # too late to lead: nothing to check
    local_span = rules.act_until - sent
    assert local_span / rate <= up + TIMING.ttl


@pytest.mark.parametrize(
    ("ttl", "renew_every", "margin"),
    [(3.0, 2.5, 0.5), (3.0, 3.0, 0.5), (0.0, 1.0, 0.5), (3.0, -1.0, 0.5), (3.0, 1.0, 0.0),
     (float("nan"), 1.0, 0.5), (3.0, 1.0, 3.0), (True, 1.0, 0.5)],
)  # fmt: skip
def test_timing_that_would_let_a_leader_act_unrenewed_is_refused(
    ttl: float, renew_every: float, margin: float
) -> None:
    with pytest.raises(ValueError, match=r"must"):
        LeaseTiming(ttl, renew_every, margin)
