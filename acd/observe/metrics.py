"""Prometheus metrics with exactly the contract's names, labels and base units (seconds).

Everything is served by one custom collector on a `CollectorRegistry` of its own (never the
global one, so tests and embedders can build several). Counters and histograms are plain
numbers that `acd.observe.metrics_feed.MetricsFeed` adds to from the call records'
happenings, and at start from the stored records through the same handlers, so a restart
does not zero them; `acd.observe.dispatch` adds the dispatch latency. Live gauges are
computed at scrape time from the router's snapshots.

Series (label `queue` unless noted):
  acd_calls_offered_total               queue visits started (a call entering a queue, also
                                        by overflow; calls to unknown queues are not counted)
  acd_calls_answered_total              visits connected to an agent
  acd_calls_answered_within_threshold_total  answered with wait <= the queue's sl_threshold
  acd_calls_abandoned_total             lost: caller left while waiting or ringing, wait >=
                                        the queue's short_abandon
  acd_calls_short_abandoned_total       caller left before short_abandon
  acd_calls_overflowed_total            moved on to another queue after max_wait (counted in
                                        the source; the target counts an offer)
  acd_calls_callback_requested_total    callers who pressed for a callback
  acd_calls_transferred_total           answered visits an agent transferred onwards (counted
                                        in the source, also answered there; the target
                                        counts an offer)
  acd_service_level_ratio{queue,treatment}  over the calls answered or abandoned within the
                                        last sl_window seconds (acd.observe.kpi; NaN when undefined)
  acd_service_level_target_ratio{queue}  the queue's objective, its sl_target (configured
                                        queues only: it leaves with the queue)
  acd_calls_waiting                     calls not yet connected (waiting or ringing an agent)
  acd_oldest_call_wait_seconds          longest current wait in the queue (0 when none)
  acd_wait_seconds{queue,outcome}       histogram; outcome answered | abandoned (short
                                        abandons are not observed)
  acd_talk_seconds, acd_handle_seconds  histograms; handle = talk + wrap-up, observed when
                                        the wrap-up ends
  acd_agents{state}                     agents per state (every AgentState value, no queue)
  acd_dispatch_seconds                  histogram, no labels: see `Metrics.dispatched`
  acd_ami_connected                     1 while the controller's AMI link is up, else 0
  acd_records_dead_lettered_total{kind}  rows set aside instead of stored (the database
                                        refused them, or a bounded stop could not store
                                        them; `acd.storage.dead_letters`); kind call_record |
                                        agent_interval | agent_state; since the start
  acd_agi_refused_total{reason}         FastAGI requests refused before any route ran
                                        (agi/server.py): reason no_key | wrong_key |
                                        not_live | busy (closed at the connection cap);
                                        since the start
  acd_cluster_leader{node}              a cluster node only: 1 while this node leads, else 0
  acd_replication_lag_seconds{node}     a cluster node only: on a standby, its clock when it
                                        applied the last journal entry minus that input's
                                        time on the leader; 0 on the leader
"""

from __future__ import annotations

import math
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from acd.observe.kpi import SlCounts, Treatment, service_level
from acd.router.model import AgentState, AgentView, CallState, CallView, QueueConfig

INF = math.inf
WAIT_BUCKETS = (1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200, INF)
TALK_BUCKETS = (5, 10, 30, 60, 120, 180, 300, 600, 900, 1800, 3600, INF)
DISPATCH_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                    0.25, 0.5, 1, 2.5, INF)  # fmt: skip
DEFAULT_SL_WINDOW = 3600.0
DEAD_LETTER_KINDS = ("call_record", "agent_interval", "agent_state")
AGI_REFUSALS = ("no_key", "wrong_key", "not_live", "busy")

COUNTERS = {
    "acd_calls_offered": "Calls that entered the queue (also by overflow).",
    "acd_calls_answered": "Calls connected to an agent.",
    "acd_calls_answered_within_threshold": "Calls answered within the queue's sl_threshold.",
    "acd_calls_abandoned": "Lost calls: the caller left after the short-abandon threshold.",
    "acd_calls_short_abandoned": "Callers who left before the short-abandon threshold.",
    "acd_calls_overflowed": "Calls moved to another queue after max_wait (source queue).",
    "acd_calls_callback_requested": "Callers who asked for a callback.",
    "acd_calls_transferred": "Answered calls an agent transferred on (source queue).",
}


class LiveView(Protocol):
    """What the scrape reads from the router (acd.router.router.Router provides it)."""

    def calls(self) -> list[CallView]: ...
    def agents(self) -> list[AgentView]: ...
    def queues(self) -> list[QueueConfig]: ...
    def queue(self, name: str) -> QueueConfig | None: ...


class _Histogram:
    def __init__(self, buckets: Sequence[float]) -> None:
        self.buckets = tuple(buckets)
        self.counts: dict[tuple[str, ...], list[int]] = {}
        self.sums: dict[tuple[str, ...], float] = {}

    def observe(self, labels: tuple[str, ...], value: float) -> None:
        counts = self.counts.setdefault(labels, [0] * len(self.buckets))
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                counts[i] += 1
                break
        self.sums[labels] = self.sums.get(labels, 0.0) + value

    def family(self, name: str, doc: str, label_names: Sequence[str]) -> HistogramMetricFamily:
        family = HistogramMetricFamily(name, doc, labels=list(label_names))
        for labels in sorted(self.counts):
            cumulative, rows = 0, []
            for bound, count in zip(self.buckets, self.counts[labels], strict=True):
                cumulative += count
                rows.append(("+Inf" if bound == INF else repr(float(bound)), float(cumulative)))
            family.add_metric(list(labels), rows, self.sums[labels])
        return family


class ClusterGauges(Protocol):
    @property
    def node_id(self) -> str: ...
    @property
    def leading(self) -> bool: ...
    @property
    def lag(self) -> float: ...


def cluster_families(cluster: ClusterGauges) -> Iterator[Metric]:
    """`acd_cluster_leader` and `acd_replication_lag_seconds` of a cluster node (also what a
    node that just stepped down serves, before its standby side is up)."""
    node, leading = cluster.node_id, cluster.leading
    leader = GaugeMetricFamily(
        "acd_cluster_leader", "1 while this node leads the cluster.", labels=["node"]
    )
    leader.add_metric([node], float(leading))
    yield leader
    replication = GaugeMetricFamily(
        "acd_replication_lag_seconds",
        "Standby: applied minus the input's time on the leader (0 on the leader).",
        labels=["node"],
    )
    replication.add_metric([node], 0.0 if leading else cluster.lag)
    yield replication


class ClusterRegistry(CollectorRegistry):
    """A registry of the cluster gauges alone (`cluster_families`)."""

    def __init__(self, cluster: ClusterGauges) -> None:
        super().__init__(auto_describe=False)
        self._cluster = cluster

    def collect(self) -> Iterator[Metric]:
        yield from cluster_families(self._cluster)


class Metrics(Collector):
    def __init__(
        self, view: LiveView | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.view = view
        self._clock = clock
        self._counts: dict[str, Counter[str]] = {name: Counter() for name in COUNTERS}
        self._wait = _Histogram(WAIT_BUCKETS)
        self._talk = _Histogram(TALK_BUCKETS)
        self._handle = _Histogram(TALK_BUCKETS)
        self._dispatch = _Histogram(DISPATCH_BUCKETS)
        self._sl_events: dict[str, deque[tuple[float, SlCounts]]] = {}
        self.ami_connected = False
        self._dead_lettered: Counter[str] = Counter(dict.fromkeys(DEAD_LETTER_KINDS, 0))
        self._agi_refused: Counter[str] = Counter(dict.fromkeys(AGI_REFUSALS, 0))
        #: A cluster node (its id, whether it leads, its replica's lag); None: a single node.
        self.cluster: ClusterGauges | None = None
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    # --- what the records and the dispatch listener report ---------------------------------

    def offered(self, queue: str) -> None:
        self._counts["acd_calls_offered"][queue] += 1

    def answered(self, queue: str, at: float, wait: float, threshold: float) -> None:
        self._counts["acd_calls_answered"][queue] += 1
        within = wait <= threshold
        if within:
            self._counts["acd_calls_answered_within_threshold"][queue] += 1
        self._wait.observe((queue, "answered"), wait)
        self._sl(queue, at, SlCounts(a_in=1) if within else SlCounts(a_out=1))

    def abandoned(self, queue: str, at: float, wait: float, threshold: float) -> None:
        self._counts["acd_calls_abandoned"][queue] += 1
        self._wait.observe((queue, "abandoned"), wait)
        self._sl(queue, at, SlCounts(b_in=1) if wait <= threshold else SlCounts(b_out=1))

    def short_abandoned(self, queue: str) -> None:
        self._counts["acd_calls_short_abandoned"][queue] += 1

    def overflowed(self, queue: str) -> None:
        self._counts["acd_calls_overflowed"][queue] += 1

    def callback_requested(self, queue: str) -> None:
        self._counts["acd_calls_callback_requested"][queue] += 1

    def transferred(self, queue: str) -> None:
        self._counts["acd_calls_transferred"][queue] += 1

    def talked(self, queue: str, talk: float) -> None:
        self._talk.observe((queue,), talk)

    def handled(self, queue: str, handle: float) -> None:
        self._handle.observe((queue,), handle)

    def dispatched(self, seconds: float) -> None:
        """Dispatch latency of one offer: from the moment that made it possible (the event's
        time, or the deadline of a timed step such as a wrap-up end — the router stamps the
        reservation with it) to the moment the offer reached `acd.observe.dispatch`, on the
        engine's clock. It covers timer lateness and the router's work; time an event spent
        in the engine's ingress queue before being stamped is not in it."""
        self._dispatch.observe((), max(0.0, seconds))

    def dead_lettered(self, kind: str) -> None:
        """One row set aside (`acd.storage.dead_letters.DeadLetters` is told through this)."""
        self._dead_lettered[kind] += 1

    def agi_refused(self, reason: str) -> None:
        """One FastAGI request refused (`agi.server.FastAgiServer.on_refused`)."""
        self._agi_refused[reason] += 1

    def set_ami_connected(self, connected: bool) -> None:
        self.ami_connected = connected

    def count(self, name: str, queue: str) -> int:
        """A counter's current value (for tests and live stats); `name` without `_total`."""
        return self._counts[name][queue]

    def _sl(self, queue: str, at: float, counts: SlCounts) -> None:
        events = self._sl_events.setdefault(queue, deque())
        events.append((at, counts))
        self._prune(queue, self._clock())

    def _prune(self, queue: str, now: float) -> None:
        events = self._sl_events.get(queue)
        if not events:
            return
        horizon = now - self._sl_window(queue)
        while events and events[0][0] < horizon:
            events.popleft()

    def _sl_window(self, queue: str) -> float:
        config = self.view.queue(queue) if self.view is not None else None
        return config.sl_window if config is not None else DEFAULT_SL_WINDOW

    def window_counts(self, queue: str) -> SlCounts:
        """A_in/A_out/B_in/B_out over the queue's rolling window, ending now."""
        self._prune(queue, self._clock())
        total = SlCounts()
        for _, counts in self._sl_events.get(queue, ()):
            total = total + counts
        return total

    # --- the scrape -----------------------------------------------------------------------

    def collect(self) -> Iterator[Metric]:
        now = self._clock()
        configured = [q.name for q in self.view.queues()] if self.view is not None else []
        known = set(configured)
        for counts in self._counts.values():
            known.update(counts)
        queues = sorted(known)

        for name, doc in COUNTERS.items():
            family = CounterMetricFamily(name, doc, labels=["queue"])
            for queue in queues:
                family.add_metric([queue], float(self._counts[name][queue]))
            yield family

        ratio = GaugeMetricFamily(
            "acd_service_level_ratio",
            "Service level over the queue's rolling sl_window (NaN when undefined).",
            labels=["queue", "treatment"],
        )
        for queue in sorted(known | set(self._sl_events)):
            window = self.window_counts(queue)
            for treatment in Treatment:
                value = service_level(window, treatment)
                ratio.add_metric([queue, treatment.value], math.nan if value is None else value)
        yield ratio
        target = GaugeMetricFamily(
            "acd_service_level_target_ratio",
            "The queue's service-level objective (sl_target), a ratio.",
            labels=["queue"],
        )
        objectives = {q.name: q.sl_target for q in self.view.queues()} if self.view else {}
        for queue in sorted(objectives):
            target.add_metric([queue], objectives[queue])
        yield target

        calls = self.view.calls() if self.view is not None else []
        waiting: Counter[str] = Counter(dict.fromkeys(configured, 0))
        oldest: dict[str, float] = dict.fromkeys(configured, 0.0)
        for call in calls:
            if call.state is CallState.CONNECTED:
                continue
            waiting[call.queue] += 1
            oldest[call.queue] = max(oldest.get(call.queue, 0.0), now - call.queue_entered_at)
        gauge = GaugeMetricFamily(
            "acd_calls_waiting", "Calls waiting or ringing an agent.", labels=["queue"]
        )
        for queue in sorted(waiting):
            gauge.add_metric([queue], float(waiting[queue]))
        yield gauge
        gauge = GaugeMetricFamily(
            "acd_oldest_call_wait_seconds",
            "Wait so far of the longest-waiting call not yet connected.",
            labels=["queue"],
        )
        for queue in sorted(oldest):
            gauge.add_metric([queue], max(0.0, oldest[queue]))
        yield gauge

        yield self._wait.family(
            "acd_wait_seconds", "Entry to answer or abandon.", ["queue", "outcome"]
        )
        yield self._talk.family("acd_talk_seconds", "Answer to hangup.", ["queue"])
        yield self._handle.family("acd_handle_seconds", "Talk plus wrap-up.", ["queue"])

        agents: Counter[AgentState] = Counter(
            a.state for a in (self.view.agents() if self.view is not None else [])
        )
        gauge = GaugeMetricFamily("acd_agents", "Agents per state.", labels=["state"])
        for state in AgentState:
            gauge.add_metric([state.value], float(agents[state]))
        yield gauge

        yield self._dispatch.family(
            "acd_dispatch_seconds", "Agent free or call arrived to offer sent.", []
        )
        yield GaugeMetricFamily(
            "acd_ami_connected", "1 while the AMI link is up.", value=float(self.ami_connected)
        )
        family = CounterMetricFamily(
            "acd_records_dead_lettered",
            "Rows set aside in the dead letters instead of stored.",
            labels=["kind"],
        )
        for kind in sorted(self._dead_lettered):
            family.add_metric([kind], float(self._dead_lettered[kind]))
        yield family
        refused = CounterMetricFamily(
            "acd_agi_refused", "FastAGI requests refused (key or live channel).", labels=["reason"]
        )
        for reason in sorted(self._agi_refused):
            refused.add_metric([reason], float(self._agi_refused[reason]))
        yield refused
        if self.cluster is not None:
            yield from cluster_families(self.cluster)
