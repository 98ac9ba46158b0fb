"""FastAGI endpoints: the dialplan asks the controller here (see asterisk-config/).

The routes live in `acd.controller.agi` (type-checked with the controller); this package
re-exports them for readers looking for "the AGI".
"""

from acd.controller.agi import AgiRoutes, contact_of, parse_skills

__all__ = ["AgiRoutes", "contact_of", "parse_skills"]
