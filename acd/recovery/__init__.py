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
    An agent stored RESERVED or BUSY had a call: the restore settles it as if that call had
    ended (its pending request applies, else AVAILABLE with its stored idle_since), and the
    call's adoption (below) then makes it RESERVED or BUSY again with that call.

  Re-adoption of calls (items 2, 4, 5, 6; acd/controller/adoption.py, acd/observe/records.py)
    Where the state lives: Asterisk keeps the calls, and on each caller's channel the
    controller keeps what it needs to take a call back (extensions_acd.conf): ACD_CALL_ID,
    ACD_QUEUE, ACD_ENTRY, ACD_ENTERED_AT (its place), ACD_QUEUE_ENTERED_AT (set again at an
    overflow: escalation and max wait), ACD_PRIORITY, ACD_SKILLS, ACD_AGENT (the agent
    offered), ACD_CALLBACK. The store keeps the call records and, in an open record, an
    accepted callback's `callback_to` and `extra_skills` (migration 0003): a callback has no
    channel.
    When: at start and after every AMI (re)login, on the controller's fact consumer, before
    it is ready: one `Status` action lists every channel with those variables; calls this
    process tracks are reconciled (answered, ring ended, gone while nobody watched); calls
    the router does not know are adopted (`CallAdopted`: connected and ringing first, then
    waiting ones in entry order, then, at the first resync only, the stored callbacks with
    no channel). The router settles its agents from them: RESERVED for a ringing call, BUSY
    for a connected one; every other agent stays as restored.
    Records: at start the records a previous run left open (`ended` null) are not closed:
    the call records hold them as pending (`CallRecorder.pending`). An adopted call re-opens
    its own (same id and leg, `VisitAdopted`: the queue_log and the counters already have
    it) and tells only what the record lacks (an offer, an answer given while no controller
    ran, at the resync's time); a call with no record (the last batch died with a SIGKILL)
    opens one. Once the first resync is through, every pending record nobody adopted ends
    once (`close_unadopted`), through the ordinary subscribers:
        answered before              `answered`, talk up to the resync, exit_reason
                                     `ended_unobserved`
        waiting or ringing           `abandoned` (lost; never a short abandon), wait up to
                                     the resync, exit_reason `lost_unobserved`
    The same outcomes apply to calls whose channel vanished during an AMI cut or an
    Asterisk crash; a clean Asterisk stop is seen as it happens (`asterisk_stopped`).
    The FastAGI server starts listening only then: a caller entering before it finds the
    FastAGI unreachable and waits with music in the dialplan (acd-wait,down), then enters
    with its own ACD_ENTERED_AT; `/readyz` is 200 once all of that is done.
    SIGTERM: the HTTP API and the FastAGI server stop, then the engine (nothing is decided
    any more), then the AMI link; the records, the queue_log and the agent states still
    buffered are written. Nobody is hung up or moved: the next start adopts them.
    Limits: a SIGKILL loses at most the last 0.25 s of records and agent states (a call
    whose record was lost is recorded from its adoption on, its entry time from the channel).
    A call the router let go while the AMI link was down (max wait) and whose Redirect could
    not be sent is sent away after the reconnect; a SIGKILL before that would leave it to be
    adopted again, with a second record.

  What a restart restores, in order (acd/compose.py): configuration (queues, agents) from
  the store; durable agent states; the records' metrics counters (open records pending);
  then, once the AMI link is up, the calls (first resync), the unadopted records' ends, and
  the FastAGI server.
"""

from acd.recovery.agent_states import (
    BATCH_DELAY,
    AgentStateWriter,
    restore_agent_states,
    stored_state,
)

__all__ = ["BATCH_DELAY", "AgentStateWriter", "restore_agent_states", "stored_state"]
