"""acd: an event-driven, skills-based ACD for Asterisk."""

__version__ = "0.1.0"
