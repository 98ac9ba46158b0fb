"""The routing core: a sans-I/O skills router. Events in, decisions out, time passed in.

Nothing under `acd.router` imports asyncio, panoramisk, redis, sqlalchemy or reads a clock.

Theory of operation (the policy both `Router` and the naive `ReferenceRouter` implement; the
differential tests hold them to identical decision lists for any event stream):

Ordering keys
  * Global call order: higher priority first, then earlier `enqueued_at` (when the caller
    entered the ACD: `now`, an arrival's `entered_at`, an adopted call's `enqueued_at`), then
    earlier arrival sequence (the order CallArrived and CallAdopted events were accepted).
  * Agent order for a call, by the call's queue policy: LONGEST_IDLE: earliest `idle_since`,
    then agent id (string order). MOST_SKILLED: highest level in the queue's ranked skill, then
    earliest `idle_since`, then agent id.
  * An agent is *eligible* for a call when it is AVAILABLE, reachable, and satisfies the call's
    current requirements (queue base or current escalation step, merged with the call's
    extra skills by `merge_requirements`).

Dispatch (run after every state change; keeps the invariant "no eligible agent is AVAILABLE
while a call it could take is WAITING")
  * agent-driven(a): a became available / reachable / gained skills: it takes the first call in
    global order among WAITING calls it is eligible for.
  * call-driven(c): c arrived / returned / escalated: it takes the first eligible agent in its
    queue's agent order.
  * queue-driven(q): a queue's configuration changed: call-driven for each of its WAITING calls
    in global order.
  An offer emits AgentStateChanged(RESERVED) then OfferCall; the call becomes OFFERED.

Deferred requests
  Pause and logout asked while RESERVED, BUSY or WRAP_UP are remembered (`pending`, a later
  logout wins over a pause) and applied where the agent would otherwise become AVAILABLE.

Time
  `Tick(now)` runs every deadline at or before `now`, one at a time in order of
  (deadline, kind, id) with kinds ranked wrap-up end < rona-delay end < escalation < max wait.
  A deadline step happens *at its deadline*: idle_since and decision timestamps use it.
  `next_deadline()` tells the controller when to send the next Tick; nothing polls.

Per event (rejections emit one EventRejected and change nothing)
  AgentUpserted      new → LOGGED_OUT; existing → skills replaced, agent-driven if AVAILABLE,
                     then the leave-empty check.
  AgentRemoved       rejected `agent_busy` when RESERVED/BUSY/WRAP_UP; a logged-in agent emits
                     AgentStateChanged(LOGGED_OUT) first; then the leave-empty check.
  AgentLoggedIn      LOGGED_OUT → AVAILABLE (idle_since = now), agent-driven; else no-op.
  AgentLoggedOut     AVAILABLE/PAUSED → LOGGED_OUT, then the leave-empty check; LOGGED_OUT: no-op;
                     otherwise pending logout.
  AgentPaused        AVAILABLE/PAUSED → PAUSED(reason) (a reason change re-emits);
                     LOGGED_OUT: rejected `agent_not_logged_in`; otherwise pending pause.
  AgentUnpaused      PAUSED → AVAILABLE (idle_since = now), agent-driven; a pending pause is
                     cancelled; LOGGED_OUT: rejected `agent_not_logged_in`; else no-op.
  AgentWrapUpDone    WRAP_UP: the wrap-up end step now (its deadline dropped); LOGGED_OUT:
                     rejected `agent_not_logged_in`; else no-op.
  AgentReachabilityChanged  flag set; becoming reachable while AVAILABLE → agent-driven.
  AgentRestored      (at start, from the store) only for a LOGGED_OUT agent, else rejected
                     `agent_logged_in`. AVAILABLE, PAUSED(reason, "rona" included) and
                     WRAP_UP come back as stored, with the stored idle_since; WRAP_UP keeps
                     its pending request and deadline `wrap_until`, a "rona" pause its
                     `rona_until` (a deadline already past runs at the next Tick, at its
                     deadline, like any other); then agent-driven. RESERVED or BUSY: the call
                     went with the previous run (one still in Asterisk comes back with a
                     CallAdopted, which finds the agent settled), so the agent settles as
                     if it had ended at the restart: pending logout → stays LOGGED_OUT
                     (nothing emitted), pending pause → PAUSED(pending reason), else
                     AVAILABLE; idle_since stays the stored one; then agent-driven.
  QueueUpserted      config replaced; its WAITING/OFFERED calls get step and requirements
                     recomputed from their time in queue (no CallEscalated) and their max-wait
                     deadline moved; queue-driven.
  QueueRemoved       rejected `unknown_queue` if unknown; WAITING and OFFERED calls emit
                     CallExited(queue_removed) in global order (an offered agent returns to
                     AVAILABLE, idle_since unchanged, then agent-driven); CONNECTED calls finish
                     with the configuration they were connected under.
  CallArrived        duplicate id rejected `duplicate_call`; unknown queue → CallExited
                     (unknown_queue); priority None → queue default; entered = `entered_at`
                     if given (the caller waited while the controller was unreachable; later
                     than `now` or not finite: `invalid_event`), else now; enqueued_at =
                     queue_entered_at = arrived_at = entered, step = number of steps with
                     entered + `after` <= now; join_empty False and no logged-in agent
                     satisfies any step's requirements → CallExited(join_empty); else
                     WAITING, call-driven (a max wait already past runs at the next Tick, at
                     its deadline, unless the call was offered meanwhile).
  CallAdopted        (a restarted controller found the call in Asterisk) duplicate id rejected
                     `duplicate_call`; OFFERED/CONNECTED: unknown agent `unknown_agent`, an
                     agent RESERVED/BUSY/WRAP_UP `agent_busy`; then unknown queue →
                     CallExited(unknown_queue). Priority None → queue default; ordered by
                     `enqueued_at` (= arrived_at) then arrival sequence; step and deadlines
                     from `queue_entered_at` as of now (`invalid_event` unless
                     enqueued_at <= queue_entered_at <= now, and unless agent_id is given
                     exactly for OFFERED/CONNECTED). WAITING: as an arrival without the
                     join_empty test (it is in already): call-driven, then the leave-empty
                     check. OFFERED: the agent → RESERVED with the call, AgentStateChanged
                     but no OfferCall (it is ringing already); the outcome comes as for any
                     offer. CONNECTED: the agent → BUSY with the call, wrap-up from the
                     queue's config now; it ends with CallEnded. The agent may be LOGGED_OUT
                     (idle_since = now), AVAILABLE or PAUSED (its pause becomes the pending
                     pause, applied when it leaves the call); a kept idle_since stays.
  CallAbandoned      WAITING or OFFERED → gone; an offered agent returns to AVAILABLE with
                     idle_since unchanged (or its pending request applies), agent-driven;
                     CONNECTED: rejected `wrong_state`.
  OfferAnswered      must match the offered call and agent (`wrong_state`); → CONNECTED and BUSY.
  OfferFailed        must match; the call returns to WAITING in its old place (rona_count + 1);
                     the agent: pending logout/pause applies, else PAUSED("rona") and with
                     rona_action DELAY an unpause deadline at now + rona_delay; then, if the
                     call is past its max wait, the max-wait step runs now, else call-driven.
  CallEnded          must be CONNECTED; the agent enters WRAP_UP until now + wrap_up of the
                     queue it was connected under (0: the wrap-up end step runs at once).
  CallTransferred    (a blind transfer) must be CONNECTED (`wrong_state`); an unknown target
                     queue is rejected `unknown_queue` (the caller stays with the agent). The
                     agent enters WRAP_UP as for CallEnded; CallRequeued; the call enters the
                     target queue as an arrival at now would: extra skills = its own merged
                     with the event's, priority = the higher of its own and the target
                     queue's, queue_entered_at = now, step as of now, answered_at None;
                     `keep_place` keeps enqueued_at and arrival sequence (ordered by its first
                     entry), else enqueued_at = now with a new sequence. join_empty False and
                     nobody could serve → CallExited(join_empty); else call-driven, then the
                     leave-empty check. Then a wrap-up of 0 ends at once (after the call was
                     placed: the agent is not offered its own caller while another can take it).
  TransferCompleted  (a warm transfer) call and consultation must both be CONNECTED
                     (`wrong_state`), unknown `unknown_call`, the same id `invalid_event`. The
                     call's agent enters WRAP_UP (the call's wrap-up); CallHandedOver; the call
                     takes the consultation's queue, agent, priority, extra skills, step,
                     queue_entered_at, answered_at and wrap-up, and keeps its own arrival and
                     enqueued_at; the consultation is gone (no decision of its own). A wrap-up
                     of 0 ends at once, after.
  wrap-up end        pending applies, else AVAILABLE (idle_since = deadline), agent-driven.
  rona-delay end     if still PAUSED("rona"): AVAILABLE (idle_since = deadline), agent-driven.
  escalation         WAITING or OFFERED call: step + 1, CallEscalated, requirements recomputed;
                     call-driven if WAITING.
  max wait           WAITING call (an OFFERED one waits for its offer's outcome): overflow
                     names an existing other queue (no comma) → CallOverflowed, the call moves
                     there keeping priority and enqueued_at, queue_entered_at = deadline, step
                     recomputed, call-driven; otherwise CallExited(timeout, destination =
                     overflow if it contains a comma else None).
  leave-empty check  each WAITING call of a queue with leave_empty that no logged-in agent could
                     serve at any step → CallExited(leave_empty), in global order.

Resolved details (both routers; the unit tests pin them)
  * "Could serve at any step": some agent that is not LOGGED_OUT (paused, busy or unreachable
    count) satisfies the requirements of some step 0..n of the queue, merged with the call's
    extra skills. This does not change with time, so escalation never triggers the check
    (nor does adopting a call on an agent: it only makes an agent logged in).
  * The leave-empty check runs after every change that can make a call unservable: an agent
    becoming LOGGED_OUT (also by a pending logout applied), removed, or given new skills; a call
    entering WAITING in a leave_empty queue (arrival, adoption, overflow, failed offer; after
    its call-driven dispatch); a QueueUpserted with leave_empty (after its queue-driven dispatch).
  * Step at time t = number of escalation steps with `queue_entered_at + after <= t`; the next
    escalation deadline is `queue_entered_at + escalation[step].after` (same float expression
    everywhere). A max-wait deadline exists only while the call is WAITING. A call that waited
    before this router saw it (`entered_at`, an adoption) has its step counted as of now (no
    CallEscalated for the steps it passed meanwhile); a max wait it passed meanwhile is a
    deadline in the past.
  * QueueRemoved: first every WAITING/OFFERED call exits (global order), then each offered agent
    settles (pending request, else AVAILABLE with idle_since unchanged) and is agent-driven, in
    that same order.
  * OfferFailed, in order: call back to WAITING; the agent settles; a logout there runs the
    leave-empty check; then, if the call is still there, `queue_entered_at + max_wait <= now`
    runs the max-wait step at `now`, else call-driven. The rona-delay deadline is set only when
    no pending request applied; it lives while the agent is PAUSED("rona") and any state or
    reason change cancels it; a delay of 0 runs at the next Tick.
  * Wrap-up uses the queue's `wrap_up` as it was when the call was answered.
  * LOGGED_OUT clears idle_since, pause reason and pending; other states keep idle_since. An
    agent in WRAP_UP keeps `call_id` of the call it wraps up. New agents are reachable.
  * `state_since` (AgentView): the moment of the step that last wrote the agent's state
    (every table target, a pause with a new reason included; ignored and deferred rows leave
    it), so a settled agent counts from the settle and a deadline step from its deadline; None
    until the first login. AgentRestored of a state restored as it was takes the stored
    `state_since` when given (its AgentStateChanged says it too; other decisions leave
    `state_since` None: the state was entered at `at`), else now; a stored RESERVED/BUSY
    settles now. A call's `answered_at` is the OfferAnswered step's time (None before, and
    for a call adopted CONNECTED).
  * Decision times (`at`): the latest `now` seen for event steps, the deadline for deadline steps.
  * CallAbandoned emits nothing for the call itself. Overflow naming the call's own queue exits
    with `timeout` and no destination (it is not "another" queue).
  * Malformed events (non-finite now, empty ids, levels outside 1..10, a QueueConfig with
    max_wait <= 0 (it could bounce a call between queues forever), ring_timeout <= 0, negative
    wrap_up, decreasing escalation) are rejected with code `invalid_event`.
"""
