"""What the API handlers reach: the use cases, and nothing else of the application."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CollectorRegistry

from acd.service import (
    AgentService,
    CallService,
    HealthService,
    QueueService,
    ReportService,
    TokenService,
)
from acd.service.monitor import MonitorService
from acd.service.transfer import TransferService
from api.events import EventHub


@dataclass(frozen=True, slots=True)
class ApiServices:
    queues: QueueService
    agents: AgentService
    calls: CallService
    tokens: TokenService
    reports: ReportService
    health: HealthService
    events: EventHub
    metrics: CollectorRegistry
    monitor: MonitorService
    transfers: TransferService


SERVICES = web.AppKey("services", ApiServices)
