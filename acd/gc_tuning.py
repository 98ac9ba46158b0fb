"""Keep the garbage collector's full passes short: a controller's heap is mostly what its
start built (modules, SQLAlchemy, pydantic, aiohttp, the restored records), hundreds of
thousands of objects that a gen-2 collection would walk each time — 240-370 ms per pass on
the 2-core test machine, a stall of the whole event loop that showed as replication lag and
dispatch spikes. `settle_heap()` collects once and moves everything alive into the permanent
generation (`gc.freeze`), so later full passes only walk what was made since."""

from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger(__name__)


def settle_heap() -> None:
    """Call once the process has built what it keeps (after start, after a role change)."""
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    log.info(
        "heap settled: %d objects frozen out of the collector's passes (%.0f ms)",
        gc.get_freeze_count(),
        (time.perf_counter() - started) * 1000,
    )
