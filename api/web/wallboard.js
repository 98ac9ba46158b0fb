"use strict";
// The wallboard: a tile per queue, a row per agent, live from /events. Every message only
// says "something changed": the page then refetches the three lists (at most every 250 ms)
// and draws them. An agent's time in state counts from its document's state_since, a
// connected call's wait ends at its answered_at. Between refetches the clocks tick on the
// server's time.

(() => {
  const { api, el, duration, percent, serverNow, STATE_LABELS } = ACD;

  // A lost call keeps its tile flagged this long (seconds) after the count last grew.
  const LOST_ALERT_SECONDS = 120;
  // Headline SL: amber from the target up to this many points above it, green beyond.
  const SL_MARGIN = 0.05;
  // The table's order: who is on a call first, then wrap-up, ringing, free, paused, out.
  const STATE_ORDER = ["busy", "reserved", "wrap_up", "available", "paused", "logged_out"];

  const view = {
    me: null,
    stats: [],
    agents: [],
    calls: [],
    stateSince: new Map(), // agent id -> {state, at, atLeast}
    answeredAt: new Map(), // call id -> epoch s, from the stream (a document may lack it)
    lost: new Map(), // queue -> {count, until}
  };

  // --- data --------------------------------------------------------------------------------

  // Refetches may overlap (the one a reconnect starts and one a message starts): an answer
  // older than the one already drawn is dropped.
  let started = 0;
  let drawn = 0;

  async function refetch() {
    const serial = ++started;
    const [stats, agents, calls] = await Promise.all([
      api("/stats/queues"),
      api("/agents"),
      api("/calls"),
    ]);
    if (serial < drawn) return;
    drawn = serial;
    Object.assign(view, { stats, agents, calls });
    noteStates();
    render();
    ACD.markUpdated();
  }

  const scheduleRefetch = ACD.throttled(() =>
    refetch().catch((error) => {
      if (error instanceof ACD.Unauthorized) return; // the stream is cut; boot asks again
      console.warn("refetch failed:", error.message);
    }),
  );

  function onMessage(type, data) {
    if (type === "agent" && data.state) {
      view.stateSince.set(data.agent_id, { state: data.state, at: data.state_since ?? data.at });
    } else if (type === "call" && data.state === "connected") {
      view.answeredAt.set(data.call_id, data.at);
    }
    scheduleRefetch();
  }

  /** Each agent's state counts from its document's state_since. Without one (a controller
   * that does not say it) and no stream message about it: from its idle_since when
   * available, else from now, a lower bound shown as such. */
  function noteStates() {
    const now = serverNow();
    const known = new Set();
    for (const agent of view.agents) {
      known.add(agent.id);
      if (agent.state_since !== null && agent.state_since !== undefined) {
        view.stateSince.set(agent.id, { state: agent.state, at: agent.state_since, atLeast: false });
        continue;
      }
      const seen = view.stateSince.get(agent.id);
      if (seen && seen.state === agent.state) continue;
      const exact = agent.state === "available" && agent.idle_since !== null;
      view.stateSince.set(agent.id, {
        state: agent.state,
        at: exact ? agent.idle_since : now,
        atLeast: !exact,
      });
    }
    for (const id of view.stateSince.keys()) if (!known.has(id)) view.stateSince.delete(id);
    const live = new Set(view.calls.map((call) => call.id));
    for (const id of view.answeredAt.keys()) if (!live.has(id)) view.answeredAt.delete(id);
  }

  // --- tiles -------------------------------------------------------------------------------

  const KPIS = [
    // [key, label, where]: "head" large, "today" and "agents" rows, "more" the small print
    ["waiting", "Waiting", "head"],
    ["oldest_wait", "Oldest wait", "head"],
    ["sl_abandons_against", "Service level", "head"],
    ["asa", "ASA today", "head"],
    ["offered_today", "Offered", "today"],
    ["answered_today", "Answered", "today"],
    ["lost_today", "Lost", "today"],
    ["short_abandons_today", "Short", "today"],
    ["agents_available", "Available", "agents"],
    ["agents_busy", "On call", "agents"],
    ["agents_wrap_up", "Wrap-up", "agents"],
    ["agents_paused", "Paused", "agents"],
    ["agents_logged_out", "Out", "agents"],
    ["sl_target", "SL target", "more"],
    ["sl_ignore_abandons", "SL ignoring abandons", "more"],
    ["sl_abandons_for", "SL abandons for", "more"],
  ];
  const GROUP_TITLES = { today: "Today", agents: "Agents" };

  function buildTile(name) {
    const groups = { head: [], today: [], agents: [], more: [] };
    for (const [key, label, where] of KPIS) {
      groups[where].push(
        el("div", { class: `kpi kpi-${key}` }, [
          el("span", { class: "kpi-label", text: label }),
          el("span", { class: "kpi-value", "data-kpi": key, "data-value": "", text: "–" }),
        ]),
      );
    }
    const row = (where) =>
      el("div", { class: `kpi-row kpi-row-${where}` }, [
        ...(GROUP_TITLES[where] ? [el("h3", { text: GROUP_TITLES[where] })] : []),
        ...groups[where],
      ]);
    return el("section", { class: "queue-tile", "data-queue": name }, [
      el("h2", { class: "tile-title" }, [
        el("span", { class: "tile-name", text: name }),
        el("span", { class: "tile-alert", text: "" }),
      ]),
      row("head"),
      row("today"),
      row("agents"),
      row("more"),
    ]);
  }

  /** The queue's figures: raw value (data-value) and text, from the stats entry and, for the
   * oldest wait, the live calls (so it ticks). */
  function queueFigures(q) {
    const today = q.today || {};
    const agents = q.agents || {};
    const sl = q.service_level || {};
    const target = q.sl_target ?? null;
    const waits = view.calls.filter((c) => c.queue === q.queue && c.state !== "connected");
    const oldest = waits.length
      ? serverNow() - Math.min(...waits.map((c) => c.queue_entered_at))
      : 0;
    const n = (value) => [value ?? null, value === undefined || value === null ? "–" : String(value)];
    return {
      waiting: n(q.waiting),
      oldest_wait: [Math.max(0, Math.floor(oldest)), duration(oldest)],
      sl_ignore_abandons: [sl.ignore_abandons ?? null, percent(sl.ignore_abandons)],
      sl_abandons_against: [sl.abandons_against ?? null, percent(sl.abandons_against)],
      sl_abandons_for: [sl.abandons_for ?? null, percent(sl.abandons_for)],
      sl_target: [target, percent(target)],
      asa: [today.asa ?? null, today.asa === null || today.asa === undefined ? "–" : duration(Math.round(today.asa))],
      lost_today: n(today.abandoned),
      short_abandons_today: n(today.short_abandoned),
      answered_today: n(today.answered),
      offered_today: n(today.offered),
      agents_available: n(agents.available),
      agents_busy: n(agents.busy === undefined ? undefined : agents.busy + (agents.reserved || 0)),
      agents_wrap_up: n(agents.wrap_up),
      agents_paused: n(agents.paused),
      agents_logged_out: n(agents.logged_out),
    };
  }

  /** good / warn / bad for the figures that have a threshold; the tile's alert, if any. */
  function judge(q, figures, now) {
    const levels = {};
    const threshold = q.sl_threshold;
    const oldest = figures.oldest_wait[0];
    const waitLevel = oldest > threshold ? "bad" : oldest > threshold / 2 ? "warn" : "good";
    levels.oldest_wait = waitLevel;
    levels.waiting = q.waiting > 0 ? waitLevel : "good";
    const sl = figures.sl_abandons_against[0];
    const target = figures.sl_target[0];
    if (sl !== null && target !== null) {
      levels.sl_abandons_against = sl < target ? "bad" : sl < target + SL_MARGIN ? "warn" : "good";
    }
    const lost = view.lost.get(q.queue);
    const lostAlert = lost !== undefined && lost.until > now;
    levels.lost_today = lostAlert ? "bad" : "";
    levels.agents_available = figures.agents_available[0] > 0 ? "good" : q.waiting > 0 ? "bad" : "";
    let alert = "";
    if (sl !== null && target !== null && sl < target) alert = "sl";
    else if (oldest > threshold) alert = "wait";
    else if (lostAlert) alert = "lost";
    return { levels, alert };
  }

  const ALERT_TEXT = { sl: "Service level below target", wait: "Caller waiting too long", lost: "Call lost" };

  function noteLost(q, now) {
    const count = q.today ? q.today.abandoned : undefined;
    if (count === undefined) return;
    const seen = view.lost.get(q.queue);
    if (seen === undefined) view.lost.set(q.queue, { count, until: 0 });
    else if (count > seen.count) view.lost.set(q.queue, { count, until: now + LOST_ALERT_SECONDS });
    else seen.count = count; // a new day starts from zero
  }

  function renderTiles(countLost) {
    const box = document.getElementById("tiles");
    const now = serverNow();
    const wanted = new Set(view.stats.map((q) => q.queue));
    for (const tile of [...box.children]) if (!wanted.has(tile.dataset.queue)) tile.remove();
    view.stats.forEach((q, index) => {
      let tile = box.querySelector(`section.queue-tile[data-queue="${CSS.escape(q.queue)}"]`);
      if (!tile) tile = buildTile(q.queue);
      if (box.children[index] !== tile) box.insertBefore(tile, box.children[index] || null);
      if (countLost) noteLost(q, now);
      const figures = queueFigures(q);
      const { levels, alert } = judge(q, figures, now);
      for (const [key, [value, text]] of Object.entries(figures)) {
        const node = tile.querySelector(`[data-kpi="${key}"]`);
        setText(node, text);
        const raw = value === null ? "" : String(value);
        if (node.dataset.value !== raw) node.dataset.value = raw;
        node.parentElement.dataset.level = levels[key] || "";
      }
      tile.classList.toggle("alert", alert !== "");
      if (alert) tile.dataset.alert = alert;
      else delete tile.dataset.alert;
      setText(tile.querySelector(".tile-alert"), ALERT_TEXT[alert] || "");
    });
  }

  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  // --- agents table ------------------------------------------------------------------------

  const COLUMNS = ["name", "state", "reason", "time_in_state", "queue", "wait"];
  const COLUMN_LABELS = {
    name: "Agent",
    state: "State",
    reason: "Reason",
    time_in_state: "In state",
    queue: "Queue",
    wait: "Wait",
  };

  function canAct() {
    return view.me !== null && ["admin", "supervisor"].includes(view.me.role);
  }

  function buildRow(agent) {
    const row = el("tr", { "data-agent": agent.id });
    for (const column of COLUMNS) {
      row.append(el("td", { "data-col": column, "data-label": COLUMN_LABELS[column] }));
    }
    const actions = el("td", { class: "actions" });
    if (canAct()) {
      actions.append(
        el("button", { type: "button", "data-action": "pause", text: "Pause" }),
        el("button", { type: "button", "data-action": "logout", class: "danger", text: "Log out" }),
        // Only while the agent is on a call: the supervisor's own phone is called (the
        // contact of #monitor-form) and hears the call (POST /agents/{id}/monitor).
        el("button", { type: "button", "data-action": "listen", "data-monitor": "", text: "Listen" }),
        el("button", { type: "button", "data-action": "whisper", "data-monitor": "", text: "Whisper" }),
        el("button", { type: "button", "data-action": "barge", "data-monitor": "", text: "Barge" }),
      );
    }
    row.append(actions);
    return row;
  }

  /** The call the agent is ringing for or talking to. Not by the agent's call_id: in
   * wrap-up that names its last call, which a transfer has handed on to another queue. */
  function agentCall(agent) {
    return view.calls.find((call) => call.agent_id === agent.id) || null;
  }

  /** A call's wait: entry into its queue until answered (still counting while unanswered). */
  function callWait(call, now) {
    if (call.state !== "connected") return now - call.queue_entered_at;
    const answered = call.answered_at ?? view.answeredAt.get(call.id);
    return answered === undefined || answered === null ? null : answered - call.queue_entered_at;
  }

  function sortedAgents() {
    const rank = (agent) => STATE_ORDER.indexOf(agent.state);
    return [...view.agents].sort(
      (a, b) => rank(a) - rank(b) || (a.name || a.id).localeCompare(b.name || b.id),
    );
  }

  function renderAgents() {
    const body = document.querySelector("#agents tbody");
    const now = serverNow();
    const rows = new Map([...body.children].map((row) => [row.dataset.agent, row]));
    const wanted = new Set(view.agents.map((agent) => agent.id));
    for (const [id, row] of rows) if (!wanted.has(id)) row.remove();
    sortedAgents().forEach((agent, index) => {
      let row = rows.get(agent.id);
      if (!row) row = buildRow(agent);
      if (body.children[index] !== row) body.insertBefore(row, body.children[index] || null);
      fillRow(row, agent, now);
    });
    document.body.classList.toggle("can-act", canAct());
    document.getElementById("monitor-form").hidden = !canAct();
  }

  /** A pause code as its queues label it (the first label found), else as it is. */
  function reasonLabel(code) {
    for (const q of view.stats) {
      const found = (q.pause_reasons || []).find((r) => r.code === code);
      if (found) return found.label;
    }
    return code;
  }

  function fillRow(row, agent, now) {
    const cell = (column) => row.querySelector(`td[data-col="${column}"]`);
    if (row.dataset.state !== agent.state) row.dataset.state = agent.state;
    row.classList.toggle("unreachable", agent.reachable === false);
    const name = cell("name");
    if (!name.firstChild) {
      name.append(
        el("span", { class: "agent-name" }),
        el("span", { class: "agent-id" }),
        el("span", { class: "badge-unreachable", text: "phone unreachable" }),
      );
    }
    setText(name.children[0], agent.name || agent.id);
    setText(name.children[1], agent.id);
    setText(cell("state"), STATE_LABELS[agent.state] || agent.state);
    let reason = agent.pause_reason ? reasonLabel(agent.pause_reason) : "";
    if (agent.pending) reason = `then ${agent.pending}` + (reason ? ` (${reason})` : "");
    setText(cell("reason"), reason);
    const since = view.stateSince.get(agent.id);
    const inState = since ? (since.atLeast ? "≥" : "") + duration(now - since.at) : "–";
    setText(cell("time_in_state"), agent.state === "logged_out" ? "" : inState);
    const call = agentCall(agent);
    setText(cell("queue"), call ? call.queue : "");
    setText(cell("wait"), call ? duration(callWait(call, now)) : "");
    const pause = row.querySelector('button[data-action="pause"]');
    const logout = row.querySelector('button[data-action="logout"]');
    if (pause) pause.disabled = agent.state === "logged_out" || agent.state === "paused";
    if (logout) logout.disabled = agent.state === "logged_out";
    for (const spy of row.querySelectorAll("button[data-monitor]")) {
      spy.disabled = agent.state !== "busy";
    }
  }

  // The supervisor's phone for listen / whisper / barge: typed once, kept for the session.
  const MONITOR_CONTACT_KEY = "acd.monitorContact";
  const contactInput = document.getElementById("monitor-contact");
  contactInput.value = sessionStorage.getItem(MONITOR_CONTACT_KEY) || "";
  contactInput.addEventListener("change", () => {
    sessionStorage.setItem(MONITOR_CONTACT_KEY, contactInput.value.trim());
  });
  document.getElementById("monitor-form").addEventListener("submit", (e) => e.preventDefault());

  async function act(button) {
    const row = button.closest("tr[data-agent]");
    const id = encodeURIComponent(row.dataset.agent);
    const notice = document.getElementById("action-error");
    notice.hidden = true;
    if (button.dataset.monitor !== undefined) {
      await monitor(button, row, notice);
      return;
    }
    button.disabled = true;
    try {
      if (button.dataset.action === "pause") {
        await api(`/agents/${id}/pause`, { method: "POST", body: { reason: "supervisor" } });
      } else {
        await api(`/agents/${id}/logout`, { method: "POST" });
      }
    } catch (error) {
      if (error instanceof ACD.Unauthorized) return;
      notice.textContent = `${row.dataset.agent}: ${error.message}`;
      notice.hidden = false;
    }
    scheduleRefetch();
  }

  async function monitor(button, row, notice) {
    const contact = contactInput.value.trim();
    if (!contact) {
      notice.textContent = "Enter your phone (for example PJSIP/1003) first.";
      notice.hidden = false;
      contactInput.focus();
      return;
    }
    sessionStorage.setItem(MONITOR_CONTACT_KEY, contact);
    const mode = button.dataset.action;
    const id = encodeURIComponent(row.dataset.agent);
    button.disabled = true;
    try {
      await api(`/agents/${id}/monitor`, { method: "POST", body: { mode, contact } });
      notice.textContent = `${mode} on ${row.dataset.agent}: calling ${contact}`;
      notice.hidden = false;
    } catch (error) {
      if (error instanceof ACD.Unauthorized) return;
      notice.textContent = `${row.dataset.agent}: ${error.message}`;
      notice.hidden = false;
    } finally {
      button.disabled = row.dataset.state !== "busy";
    }
  }

  // --- page --------------------------------------------------------------------------------

  function render() {
    renderTiles(true);
    renderAgents();
  }

  function tick() {
    setText(document.getElementById("clock"), new Date(serverNow() * 1000).toLocaleTimeString());
    if (view.me === null) return;
    renderTiles(false);
    const now = serverNow();
    const byId = new Map(view.agents.map((agent) => [agent.id, agent]));
    for (const row of document.querySelectorAll("#agents tbody tr")) {
      const agent = byId.get(row.dataset.agent);
      if (agent) fillRow(row, agent, now);
    }
  }

  document.querySelector("#agents tbody").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (button) act(button);
  });

  ACD.everySecond(tick);

  ACD.boot(async () => {
    view.me = null;
    document.querySelector("#agents tbody").replaceChildren(); // rows follow the role's buttons
    await ACD.follow({
      onOpen: async () => {
        if (view.me === null) view.me = await api("/me"); // the role decides the buttons
        await refetch();
        document.getElementById("board").hidden = false;
      },
      onMessage,
    });
  });
})();
