"""The controller: the ACD's hands on Asterisk over AMI (facts in, effects out).

    ami.py           the AMI link (panoramisk, with its sharp edges handled)
    facts.py         AMI events → typed facts (the only place AMI event headers are read)
    flow.py          what each fact means for calls and agents → router events
    calls.py         the channel ↔ call mapping (`CallTracker`, `LiveCall`)
    phases.py        every phase change of a live call, as a table
    effects.py       router decisions → AMI actions (Redirect, Originate, Setvar)
    snapshot.py      every channel with its ACD_* variables (one Status) → the calls found
                     (the only place the Status listing is read)
    adoption.py      a resync: settle the tracked calls, adopt the others (CallAdopted)
    fallback.py      each queue's fallback, published as Asterisk globals
    reachability.py  device state → agent reachability
    estimate.py      handle-time estimates for the expected-wait announcement
    controller.py    the controller: one fact consumer, resync after each (re)connect

See asterisk-config/extensions_acd.conf for the dialplan it drives.
"""

from acd.controller.controller import Controller, ControllerNotes

__all__ = ["Controller", "ControllerNotes"]
