"""Schemathesis hooks of tests/api/test_schema_fuzz.py (loaded by SCHEMATHESIS_HOOKS).

The report's `from`, `to` and `interval` are each what the schema states; together they must
also make `from` before `to` and hold at most MAX_INTERVALS intervals, which JSON Schema cannot
say (the parameter's description does; tests/api/test_api_reports.py and test_api_fuzz.py test
the refusals). A generated combination that breaks only that rule loses its `from` (the
default, 24 h before `to`, fits); anything else is sent as generated.
"""

from __future__ import annotations

import time
from typing import Any

import schemathesis

from acd.errors import Invalid
from acd.service.reports import MAX_INTERVALS
from api.bodies import parse_instant, parse_whole

REPORTS = "/reports/queues"


def _range_fits(query: dict[str, Any]) -> bool:
    try:
        start = parse_instant(str(query["from"]), "from")
        end = parse_instant(str(query["to"]), "to") if "to" in query else time.time()
        interval = parse_whole(str(query.get("interval", 900)), "interval", 1, 10**9)
    except (Invalid, TypeError, ValueError):
        return True  # not this rule's case: a value the schema forbids, sent as it is
    return start < end and (end - start) / interval <= MAX_INTERVALS


@schemathesis.hook
def map_query(context: schemathesis.HookContext, query: Any) -> Any:
    operation = context.operation
    if operation is None or operation.path != REPORTS or not isinstance(query, dict):
        return query
    if "from" in query and not _range_fits(query):
        return {key: value for key, value in query.items() if key != "from"}
    return query


@schemathesis.hook
def filter_failure(
    context: schemathesis.HookContext, failure: Any, case: Any, response: Any
) -> bool:
    """The coverage phase's boundary values bypass map_query: a failure of such a case that
    only breaks the range rule is not a disagreement with the schema."""
    operation = context.operation
    if operation is None or operation.path != REPORTS or not isinstance(case.query, dict):
        return True
    return "from" not in case.query or _range_fits(case.query)
