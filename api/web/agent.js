"use strict";
// The agent panel: one agent's state and its call. The agent is the token's own (GET /me) or,
// for an admin or supervisor, `#agent=<id>`. Like the wallboard it refetches on every stream
// message (at most every 250 ms) and ticks its clocks on the server's time in between.

(() => {
  const { api, el, duration, serverNow, STATE_LABELS } = ACD;

  const view = {
    me: null,
    agentId: null,
    agent: null,
    reasons: [], // [{code, label}] offered in the select
    queues: [], // every queue's name: where a call can be transferred
    labels: new Map(), // code -> label, for showing a pause reason
    call: null, // the call offered to or connected with the agent, or the one it wraps up
    lastLive: null, // the last live call seen for the agent (shown again in its wrap-up)
    since: null, // {state, at, atLeast}
    answeredAt: new Map(), // call id -> epoch s, from the stream (a document may lack it)
    finished: new Map(), // call id -> its stored record (wrap-up of a call no longer live)
  };

  const $ = (id) => document.getElementById(id);

  // --- data --------------------------------------------------------------------------------

  const satisfies = (skills, required) =>
    Object.entries(required || {}).every(([skill, level]) => (skills[skill] || 0) >= level);

  /** The pause reasons of every queue the agent can serve, each code once (first label). */
  async function loadReasons() {
    const queues = await api("/queues");
    const skills = (view.agent && view.agent.skills) || {};
    const byCode = new Map();
    for (const queue of queues) {
      if (!satisfies(skills, queue.skills)) continue;
      for (const reason of queue.pause_reasons || []) {
        if (!byCode.has(reason.code)) byCode.set(reason.code, reason.label);
      }
    }
    view.reasons = [...byCode].map(([code, label]) => ({ code, label }));
    view.labels = byCode;
    view.queues = queues.map((queue) => queue.name);
    renderReasons();
    renderQueues();
  }

  // Refetches may overlap (a reconnect's and a message's): an older answer than the one
  // drawn is dropped.
  let started = 0;
  let drawn = 0;

  async function refetch() {
    const serial = ++started;
    const id = encodeURIComponent(view.agentId);
    const [agent, calls] = await Promise.all([api(`/agents/${id}`), api("/calls")]);
    if (serial < drawn) return;
    const live = calls.find((call) => call.agent_id === agent.id) || null;
    let call = live;
    if (!live && agent.call_id) {
      // Wrap-up: the call is over. Its stored record says how long the caller waited; until
      // it is stored (records are written in batches) the call as last seen live stands in.
      const seen = view.lastLive && view.lastLive.id === agent.call_id ? view.lastLive : null;
      const known = seen && answeredAt(seen) !== null;
      call = known ? seen : (await finishedCall(agent.call_id)) || seen;
      // A newer answer may have been drawn while this one waited for the record.
      if (serial < drawn) return;
    }
    drawn = serial;
    view.agent = agent;
    noteState();
    if (live) view.lastLive = live;
    view.call = call;
    render();
    ACD.markUpdated();
  }

  /** A call the agent still holds (wrap-up) that is no longer live: its stored record. */
  async function finishedCall(callId) {
    if (!view.finished.has(callId)) {
      try {
        const record = await api(`/calls/${encodeURIComponent(callId)}`);
        view.finished.clear(); // only the latest one matters
        view.finished.set(callId, record);
      } catch (error) {
        if (!(error instanceof ACD.ApiError)) throw error;
        setTimeout(scheduleRefetch, 1000); // not stored yet (records are written in batches)
        return null;
      }
    }
    return view.finished.get(callId);
  }

  /** The agent's state counts from its document's state_since; without one (a controller
   * that does not say it) as the stream told it, else from its idle_since when available,
   * else from now: a lower bound, shown as such. */
  function noteState() {
    const agent = view.agent;
    if (agent.state_since !== null && agent.state_since !== undefined) {
      view.since = { state: agent.state, at: agent.state_since, atLeast: false };
      return;
    }
    if (view.since && view.since.state === agent.state) return;
    const exact = agent.state === "available" && agent.idle_since !== null;
    view.since = { state: agent.state, at: exact ? agent.idle_since : serverNow(), atLeast: !exact };
  }

  const scheduleRefetch = ACD.throttled(() =>
    refetch().catch((error) => {
      if (error instanceof ACD.Unauthorized) return;
      console.warn("refetch failed:", error.message);
    }),
  );

  function onMessage(type, data) {
    if (type === "agent" && data.agent_id === view.agentId && data.state) {
      view.since = { state: data.state, at: data.state_since ?? data.at, atLeast: false };
    } else if (type === "call" && data.state === "connected") {
      view.answeredAt.set(data.call_id, data.at);
    }
    scheduleRefetch();
  }

  // --- drawing -----------------------------------------------------------------------------

  function renderReasons() {
    const select = $("reason");
    const text = $("reason-text");
    const chosen = select.value;
    select.replaceChildren(
      ...view.reasons.map((r) => el("option", { value: r.code, text: r.label })),
    );
    if (view.reasons.some((r) => r.code === chosen)) select.value = chosen;
    select.hidden = view.reasons.length === 0;
    text.hidden = view.reasons.length > 0;
  }

  function renderQueues() {
    const select = $("transfer-queue");
    const chosen = select.value;
    select.replaceChildren(...view.queues.map((name) => el("option", { value: name, text: name })));
    if (view.queues.includes(chosen)) select.value = chosen;
  }

  function reasonText(code) {
    return view.labels.get(code) || code;
  }

  function render() {
    const agent = view.agent;
    const state = agent.state;
    const badge = $("agent-state");
    badge.textContent = STATE_LABELS[state] || state;
    badge.dataset.state = state;
    document.body.dataset.agentState = state;
    $("agent-name").textContent = `${agent.name || agent.id} (${agent.id})`;
    document.title = `${STATE_LABELS[state] || state} · ${agent.name || agent.id}`;

    let reason = state === "paused" && agent.pause_reason ? reasonText(agent.pause_reason) : "";
    if (agent.pending === "pause") reason = "Pausing after this call";
    if (agent.pending === "logout") reason = "Logging out after this call";
    $("pause-reason").textContent = reason;

    const ready = $("ready");
    ready.textContent = state === "logged_out" ? "Log in" : "Ready";
    ready.disabled = !["logged_out", "paused"].includes(state);
    ready.classList.toggle("primary", !ready.disabled);
    $("pause").disabled = ["logged_out", "paused"].includes(state) || agent.pending === "pause";
    $("reason").disabled = $("pause").disabled;
    $("reason-text").disabled = $("pause").disabled;
    $("logout").disabled = state === "logged_out" || agent.pending === "logout";
    $("done").hidden = state !== "wrap_up";
    $("unreachable-notice").hidden = agent.reachable !== false;

    renderCall();
    tick();
  }

  function renderCall() {
    const call = view.call;
    $("call").hidden = call === null;
    if (call === null) return;
    $("call-queue").textContent = call.queue || "";
    const wrapping = view.agent.state === "wrap_up";
    const phase = wrapping ? "wrap-up" : call.state === "offered" ? "ringing" : call.state || "";
    $("call-state").textContent = phase;
    // A live call carries `caller` ({caller_data, ...}); a stored one `caller_data`.
    const data = call.caller ? call.caller.caller_data : call.caller_data;
    $("caller-data").textContent = data || "(no caller data)";
    // The note of the transfer that brought the call here, if one did.
    const note = call.caller ? call.caller.transfer_note : call.transfer_note;
    $("transfer-note-label").hidden = !note;
    $("transfer-note-row").hidden = !note;
    $("transfer-note-shown").textContent = note || "";
    // Only a call the agent is talking to can be handed on.
    const talking = call.live !== false && call.state === "connected" && view.agent.state === "busy";
    $("transfer-form").hidden = !talking;
  }

  /** The caller's wait: entry into the queue until answered (counting while it rings). */
  function callWait(call, now) {
    if (!call.live && call.legs) {
      const leg = call.legs[call.legs.length - 1] || {};
      return typeof leg.wait === "number" ? leg.wait : null;
    }
    if (call.state !== "connected") return now - call.queue_entered_at;
    const answered = answeredAt(call);
    return answered === null ? null : answered - call.queue_entered_at;
  }

  /** When a live call was answered: its document's answered_at, else as the stream told. */
  function answeredAt(call) {
    return call.answered_at ?? view.answeredAt.get(call.id) ?? null;
  }

  function tick() {
    if (!view.agent) return;
    const now = serverNow();
    const since = view.since;
    $("time-in-state").textContent =
      since && view.agent.state !== "logged_out"
        ? (since.atLeast ? "≥" : "") + duration(now - since.at)
        : "";
    if (view.call) $("call-wait").textContent = duration(callWait(view.call, now));
  }

  // --- actions -----------------------------------------------------------------------------

  async function act(path, body) {
    const notice = $("action-error");
    notice.textContent = "";
    try {
      await api(`/agents/${encodeURIComponent(view.agentId)}/${path}`, { method: "POST", body });
    } catch (error) {
      if (error instanceof ACD.Unauthorized) return;
      notice.textContent = error.message;
    }
    scheduleRefetch();
  }

  $("ready").addEventListener("click", () =>
    act(view.agent && view.agent.state === "logged_out" ? "login" : "unpause"),
  );
  $("pause").addEventListener("click", () => {
    const reason = view.reasons.length ? $("reason").value : $("reason-text").value.trim();
    act("pause", reason ? { reason } : {});
  });
  $("logout").addEventListener("click", () => act("logout"));
  $("done").addEventListener("click", () => act("end_wrap_up"));
  $("transfer-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const notice = $("action-error");
    notice.textContent = "";
    const body = { queue: $("transfer-queue").value, keep_place: $("transfer-keep").checked };
    const note = $("transfer-note").value.trim();
    if (note) body.note = note;
    try {
      await api(`/calls/${encodeURIComponent(view.call.id)}/transfer`, { method: "POST", body });
      $("transfer-note").value = "";
    } catch (error) {
      if (error instanceof ACD.Unauthorized) return;
      notice.textContent = error.message;
    }
    scheduleRefetch();
  });

  // --- page --------------------------------------------------------------------------------

  /** A token that is not an agent's and no #agent=: a list of agents to pick from. */
  async function showPicker() {
    const agents = await api("/agents");
    $("agent-list").replaceChildren(
      ...agents.map((a) =>
        el("a", { href: `#agent=${encodeURIComponent(a.id)}`, text: `${a.name || a.id} (${a.id})` }),
      ),
    );
    $("agent-picker").hidden = false;
    $("state-card").hidden = true;
    $("panel").hidden = false;
    ACD.setStream("live");
    ACD.markUpdated();
    await new Promise(() => {}); // the page reloads on the hash change
  }

  window.addEventListener("hashchange", () => location.reload());
  ACD.everySecond(tick);

  ACD.boot(async (params) => {
    view.me = await api("/me");
    view.agentId = view.me.role === "agent" ? view.me.agent_id : params.get("agent");
    if (!view.agentId) return showPicker();
    await ACD.follow({
      onOpen: async () => {
        await refetch(); // the agent first: its skills choose the queues' reasons
        await loadReasons();
        $("panel").hidden = false;
      },
      onMessage,
    });
  });
})();
