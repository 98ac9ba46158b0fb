"""`settle_heap` takes what a start built out of the collector's full passes (a full pass over
a controller's heap stalled its event loop for 240-370 ms: bench/failover.py's lag spikes)."""

from __future__ import annotations

import gc

from acd.gc_tuning import settle_heap


def test_settle_heap_freezes_what_is_alive() -> None:
    before = gc.get_freeze_count()
    kept = [[n] for n in range(1000)]  # lists: tracked by the collector
    try:
        settle_heap()
        assert gc.get_freeze_count() >= before + len(kept)
    finally:
        gc.unfreeze()  # other tests in this process run with an ordinary collector
