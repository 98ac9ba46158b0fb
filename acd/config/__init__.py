"""Configuration: the settings file with its environment overrides, and the documents
(queue, agent) that the file, the API and the store share."""

from acd.config.documents import (
    AgentSeed,
    ConfigError,
    parse_agent,
    parse_queue,
    parse_skills,
    queue_to_dict,
)
from acd.config.settings import (
    AgiSettings,
    AmiSettings,
    HttpSettings,
    Settings,
    StorageSettings,
    load_settings,
)

__all__ = [
    "AgentSeed",
    "AgiSettings",
    "AmiSettings",
    "ConfigError",
    "HttpSettings",
    "Settings",
    "StorageSettings",
    "load_settings",
    "parse_agent",
    "parse_queue",
    "parse_skills",
    "queue_to_dict",
]
