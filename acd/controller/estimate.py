"""Expected wait for the caller's announcement: a deliberately simple estimate.

expected wait ~ position * (mean talk + wrap-up) / agents able to serve the queue, with the
mean talk an exponential moving average of the calls the controller saw end (Asterisk's own
timestamps). Before any call ended the queue's assumed talk time is `DEFAULT_TALK` seconds.
"""

from __future__ import annotations

import math

DEFAULT_TALK = 120.0
SMOOTHING = 0.2


class HandleTimes:
    def __init__(self) -> None:
        self._talk: dict[str, float] = {}

    def observe(self, queue: str, talk: float) -> None:
        old = self._talk.get(queue)
        self._talk[queue] = talk if old is None else old + SMOOTHING * (talk - old)

    def mean_talk(self, queue: str) -> float:
        return self._talk.get(queue, DEFAULT_TALK)

    def expected_wait(self, queue: str, position: int, wrap_up: float, agents: int) -> int:
        """Whole seconds, rounded up; 0 for position 0."""
        if position <= 0:
            return 0
        per_call = self.mean_talk(queue) + wrap_up
        return math.ceil(position * per_call / max(1, agents))
