"""Live calls and finished call records, as the API reads them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from acd.engine import Engine
from acd.errors import NotFound
from acd.router.model import CallView


class CallerInfoSource(Protocol):
    """Caller data the controller learned at entry (ACD_CALLER_DATA, caller id)."""

    def caller_info(self, call_id: str) -> Mapping[str, object] | None: ...


class FinishedCalls(Protocol):
    async def get_call(self, call_id: str) -> Mapping[str, object] | None:
        """The stored record: the latest visit's fields plus every visit as `legs`."""
        ...


@dataclass(frozen=True, slots=True)
class LiveCall:
    view: CallView
    position: int | None
    caller: Mapping[str, object] | None


class CallService:
    def __init__(
        self,
        engine: Engine,
        finished: FinishedCalls | None = None,
        caller_info: CallerInfoSource | None = None,
    ) -> None:
        self.engine = engine
        self.finished = finished
        self.caller_info = caller_info

    def live(self) -> list[LiveCall]:
        return [self._live(view) for view in self.engine.router.calls()]

    async def get(self, call_id: str) -> LiveCall | Mapping[str, object]:
        """A live call, or the stored record of a finished one."""
        view = self.engine.router.call(call_id)
        if view is not None:
            return self._live(view)
        if self.finished is not None:
            record = await self.finished.get_call(call_id)
            if record is not None:
                return record
        raise NotFound(f"no call {call_id!r}", code="unknown_call")

    def _live(self, view: CallView) -> LiveCall:
        caller = self.caller_info.caller_info(view.id) if self.caller_info else None
        return LiveCall(view, self.engine.router.position(view.id), caller)
