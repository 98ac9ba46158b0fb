"""The controller: the ACD's hands on Asterisk (AMI client, FastAGI server, effects).

`start_controller(settings, engine, directory, agent_service, recorder=None)` is the entry;
see controller.py for the data flow and asterisk-config/extensions_acd.conf for the dialplan.
"""

from acd.controller.controller import Controller, start_controller

__all__ = ["Controller", "start_controller"]
