"""The Prometheus counters and histograms, fed by the call records' happenings.

Each handler reads only the record a happening carries (`record.wait`, `record.outcome`, …),
and `restore` feeds the stored records at start through the same handlers, so the counters
are the records, counted, live and after a restart alike:

    VisitOpened        acd_calls_offered_total
    VisitAnswered      acd_calls_answered_total (+ within threshold), acd_wait_seconds
                       {answered}, the service-level window
    VisitEnded         abandoned (acd_wait_seconds{abandoned}, the window), short abandoned
                       or overflowed by its outcome; acd_talk_seconds for an answered one,
                       acd_calls_transferred_total too when it ended by a transfer
    WrapUpEnded        acd_handle_seconds
    CallbackRequested  acd_calls_callback_requested_total

Dispatch latency is a measure of the running process, not of the records:
`acd.observe.dispatch` feeds it. The AMI gauge is set by the controller (`Metrics`).
"""

from __future__ import annotations

from collections.abc import Iterable

from acd.observe.happenings import (
    CallbackRequested,
    RecordHappening,
    VisitAnswered,
    VisitEnded,
    VisitOpened,
    WrapUpEnded,
)
from acd.observe.metrics import Metrics
from acd.storage.record_store import CallRecord


class MetricsFeed:
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def on_record(self, happening: RecordHappening) -> None:
        match happening:
            case VisitOpened(record=record):
                self._opened(record)
            case VisitAnswered(record=record):
                self._answered(record)
            case VisitEnded(record=record):
                self._ended(record)
            case WrapUpEnded(record=record):
                self._wrapped_up(record)
            case CallbackRequested(record=record):
                self._callback(record)
            case _:
                pass  # offers, ring-no-answer, notes and agent intervals count nowhere

    def restore(self, records: Iterable[CallRecord]) -> None:
        """Count stored records as if their happenings were seen again, one record after
        the other (in entry order, as the store returns them)."""
        for record in records:
            if record.exit_reason != "unknown_queue":  # such a call never opened a visit
                self._opened(record)
            if record.callback_requested:
                self._callback(record)
            if record.answered is not None:
                self._answered(record)
            if record.ended is not None:
                self._ended(record)
            if record.wrap_up is not None:
                self._wrapped_up(record)

    def _opened(self, record: CallRecord) -> None:
        self._metrics.offered(record.queue)

    def _answered(self, record: CallRecord) -> None:
        if record.answered is not None and record.wait is not None:
            self._metrics.answered(record.queue, record.answered, record.wait, record.sl_threshold)

    def _ended(self, record: CallRecord) -> None:
        m, queue = self._metrics, record.queue
        if record.outcome == "answered" and record.transferred_to is not None:
            m.transferred(queue)  # still answered here; its talk ends at the transfer
        if record.outcome == "answered" and record.talk is not None:
            m.talked(queue, record.talk)
        elif record.outcome == "abandoned" and record.wait is not None:
            at = record.ended if record.ended is not None else record.entered
            m.abandoned(queue, at, record.wait, record.sl_threshold)
        elif record.outcome == "short_abandoned":
            m.short_abandoned(queue)
        elif record.outcome == "overflowed":
            m.overflowed(queue)

    def _wrapped_up(self, record: CallRecord) -> None:
        if record.talk is not None and record.wrap_up is not None:
            self._metrics.handled(record.queue, record.talk + record.wrap_up)

    def _callback(self, record: CallRecord) -> None:
        self._metrics.callback_requested(record.queue)
