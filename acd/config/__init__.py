"""Configuration: the settings file with its environment overrides, and the documents
(queue, agent, pause and token requests) that the file, the API and the store share."""

from acd.config.documents import (
    ROLES,
    AgentInput,
    AgentSeed,
    ConfigError,
    EscalationStepInput,
    PauseRequest,
    QueueInput,
    TokenInput,
    parse_agent,
    parse_pause,
    parse_queue,
    parse_skills,
    queue_to_dict,
    validate,
)
from acd.config.settings import (
    AgiSettings,
    AmiSettings,
    DialSettings,
    HttpSettings,
    Settings,
    StorageSettings,
    load_settings,
)

__all__ = [
    "ROLES",
    "AgentInput",
    "AgentSeed",
    "AgiSettings",
    "AmiSettings",
    "ConfigError",
    "DialSettings",
    "EscalationStepInput",
    "HttpSettings",
    "PauseRequest",
    "QueueInput",
    "Settings",
    "StorageSettings",
    "TokenInput",
    "load_settings",
    "parse_agent",
    "parse_pause",
    "parse_queue",
    "parse_skills",
    "queue_to_dict",
    "validate",
]
