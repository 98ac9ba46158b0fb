"""The use cases shared by the HTTP API (`api/`) and the dialplan's FastAGI routes (`agi/`).

Each use case validates its input, consults the directory and the router, persists through the
configuration store where configuration changes, and submits one event to the engine; a
rejection becomes a domain error (`acd.errors`). Nothing here knows about HTTP or AGI: the
edges map the errors.

Order of a configuration change: validate → check the router would accept it → persist → apply
to the router → update the directory. Persisting before applying means a crash in between
loses nothing: the next start restores the router from the store.

    queues.py   queue CRUD              agents.py   agent CRUD and state changes
    tokens.py   API tokens              calls.py    live calls and finished records
    entry.py    a caller entering, waiting, asking for a callback (the FastAGI routes)
    reports.py  live stats, reports     health.py   readiness
    directory.py  who each agent is (name, contact) outside the router
    monitor.py  a supervisor's listen / whisper / barge on an agent's call, its audit log
"""

from acd.service.agents import AgentRecord, AgentService
from acd.service.calls import CallService, LiveCall
from acd.service.directory import AgentDirectory
from acd.service.health import HealthService
from acd.service.queues import QueueService
from acd.service.reports import ReportService
from acd.service.tokens import IssuedToken, Principal, TokenService

__all__ = [
    "AgentDirectory",
    "AgentRecord",
    "AgentService",
    "CallService",
    "HealthService",
    "IssuedToken",
    "LiveCall",
    "Principal",
    "QueueService",
    "ReportService",
    "TokenService",
]
