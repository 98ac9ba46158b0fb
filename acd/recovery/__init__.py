"""Recovery: what a restarted controller needs, stored as it changes and read back at start.

Theory of operation
  The router keeps everything in memory; a controller that dies (SIGKILL, crash, reboot)
  takes that with it. Asterisk keeps the calls, the store keeps the rest. Recovery is the
  part of the controller that makes sure the rest is in the store, and puts it back.

  Durable agent state (`agent_states`, issue #10 item 1)
    What: per agent, one row in `acd_agent_states`: state, pause reason, idle_since, the
    pending request (a pause, with its reason, or a logout asked for during a call), the
    wrap-up deadline and the ring-no-answer delay's end. Exactly the router's `AgentView` of
    the agent, minus what the configuration store already has (skills) or what Asterisk
    tells again (reachability).
    When: `AgentStateWriter` is an engine listener. After each step it looks at the agents
    the step touched (an `AgentStateChanged` decision, or an agent event whose effect the
    decisions do not show: a deferred or cancelled request, a restore, a removal), reads
    their view from the router and buffers the row when it differs from the last one it
    buffered. It never waits: a background task writes the buffered rows in one upsert at
    most `BATCH_DELAY` (0.25 s) after the first change it has not written yet, so a change
    reaches the store within 0.25 s plus the write in flight while the store is up. Rows of
    one agent coalesce (the newest wins). A failed write keeps its rows (newer changes win)
    and is retried after 0.5 s, doubling up to 30 s; `flush()` returns once everything seen
    so far is written, `close()` flushes (bounded) and stops. A SIGKILL loses at most the
    last 0.25 s of changes.
    Restore: at start, after the queues and agents are back in the router from the
    configuration store (all LOGGED_OUT), `restore_agent_states` hands each stored agent
    that was logged in an `AgentRestored` event, longest idle first. The router gives it
    back AVAILABLE with its stored idle_since (so the longest-idle order of the previous
    run holds), PAUSED with its reason ("rona" included, with its delay), or WRAP_UP with
    its deadline and pending request (a deadline that passed while the controller was down
    ends at the first Tick, at the deadline, and the pending request applies then). No
    agent comes back logged out unless it was, or had asked to be. The rows the restore
    changed are written back at once.
    Not yet: an agent stored RESERVED or BUSY had a call that the restart does not re-adopt
    (that is item 2, re-adoption of calls). Until then it comes back as if that call had
    ended at the restart: its pending request applies, else AVAILABLE with its stored
    idle_since. Re-adoption will refine this.

  What a restart restores today, in order (acd/compose.py): configuration (queues, agents)
  from the store; durable agent states; the records' metrics counters. Calls: see #10.
"""

from acd.recovery.agent_states import (
    BATCH_DELAY,
    AgentStateWriter,
    restore_agent_states,
    stored_state,
)

__all__ = ["BATCH_DELAY", "AgentStateWriter", "restore_agent_states", "stored_state"]
