"""Rows set aside: what the database refused, and what a bounded stop could not store.

Each is one JSON line in `<var_dir>/dead_letters.jsonl` (0600, like every file holding
caller data), logged and counted (`acd_records_dead_lettered_total{kind}`), so one bad row
never holds back the others and is never dropped silently:

    {"at": 1700000000.0, "kind": "call_record", "reason": "...", "row": {...}}

`kind` is `call_record`, `agent_interval` or `agent_state`; `row` the columns as they would
have been stored (re-insert them once fixed). A line that cannot be written (disk full) is
logged whole at ERROR instead.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

from acd.private_files import open_private_append

log = logging.getLogger(__name__)

FILE_NAME = "dead_letters.jsonl"

Counted = Callable[[str], None]
"""Told the kind of each row set aside (the Prometheus counter)."""


class DeadLetters:
    def __init__(
        self,
        path: str | Path | None,
        counted: Counted | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self._counted = counted
        self._clock = clock
        self._file: TextIO | None = None

    def put(self, kind: str, row: Mapping[str, Any], reason: str) -> None:
        """Set one row aside (called from a writer task, never the engine's)."""
        line = json.dumps(
            {"at": self._clock(), "kind": kind, "reason": reason, "row": dict(row)},
            default=repr,
        )
        if self._counted is not None:
            self._counted(kind)
        try:
            if self.path is None:
                raise OSError("no dead-letter file configured")
            if self._file is None:
                self._file = open_private_append(self.path)
            self._file.write(line + "\n")
            self._file.flush()
        except OSError:
            log.exception("dead letter not written to a file; here it is: %s", line)
            return
        log.error("%s set aside in %s: %s (id %s)", kind, self.path, reason, _row_id(row))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _row_id(row: Mapping[str, Any]) -> object:
    return row.get("id", row.get("agent_id"))
