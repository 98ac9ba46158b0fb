"use strict";
// What both pages share: the token, API requests, the server's clock, the live stream and
// small formatting helpers. Plain ES2020, no build step; the pages' scripts use `ACD.*`.

const ACD = (() => {
  const TOKEN_KEY = "acd.token";
  const STREAM_BACKOFF_MS = [500, 1000, 2000, 4000, 5000];
  // The server writes a keepalive every 15 s: silence much longer means a dead connection
  // that the network did not report (a controller host gone, a NAT timeout).
  const STREAM_SILENCE_MS = 40000;
  const REFETCH_GAP_MS = 250;

  class Unauthorized extends Error {}

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message || `HTTP ${status}`);
      this.status = status;
      this.code = code;
    }
  }

  // --- token -------------------------------------------------------------------------------

  /** The fragment's parameters once the token is taken out of it (and out of the address
   * bar and history, so it is not left on a kiosk's screen or in a bookmark). */
  function takeFragment() {
    const parts = location.hash.slice(1).split("&").filter((part) => part !== "");
    const taken = parts.find((part) => part.startsWith("token="));
    if (taken !== undefined) {
      // Not URLSearchParams: its form decoding makes a '+' a space, and a configured token
      // may be any text (base64 has '+'): only %-escapes are decoded.
      const token = decodeFragment(taken.slice("token=".length));
      const rest = parts.filter((part) => !part.startsWith("token=")).join("&");
      if (token) sessionStorage.setItem(TOKEN_KEY, token);
      history.replaceState(null, "", location.pathname + location.search + (rest ? "#" + rest : ""));
      return new URLSearchParams(rest);
    }
    return new URLSearchParams(location.hash.slice(1));
  }

  function decodeFragment(value) {
    try {
      return decodeURIComponent(value);
    } catch {
      return value; // a lone '%': the text as written
    }
  }

  const token = () => sessionStorage.getItem(TOKEN_KEY);

  /** Shows the token form (with `error` when given) and resolves once a token was entered. */
  function askToken(error) {
    const form = document.getElementById("token-form");
    const input = document.getElementById("token-input");
    document.getElementById("token-error").textContent = error || "";
    form.hidden = false;
    document.querySelector("main").hidden = true;
    setStream("connecting");
    document.getElementById("stream-status").textContent = "no token";
    input.value = "";
    input.focus();
    return new Promise((resolve) => {
      form.addEventListener(
        "submit",
        (event) => {
          event.preventDefault();
          sessionStorage.setItem(TOKEN_KEY, input.value.trim());
          form.hidden = true;
          resolve();
        },
        { once: true },
      );
    });
  }

  function dropToken() {
    sessionStorage.removeItem(TOKEN_KEY);
  }

  // --- the server's clock ------------------------------------------------------------------

  // Date has whole seconds: a response received at client time r with Date D says the server
  // clock was in [D, D + 1 s) somewhere between sending (s) and r, so offset = server - client
  // lies in [D - r, D + 1000 - s]. Intersecting those bounds over responses narrows it without
  // the jitter of taking each one alone; bounds that no longer meet mean a clock was set, so
  // they start again from the latest response.
  let low = -Infinity;
  let high = Infinity;

  function noteDate(response, sentAt) {
    const date = Date.parse(response.headers.get("Date") || "");
    if (Number.isNaN(date)) return;
    const receivedAt = Date.now();
    const newLow = date - receivedAt;
    const newHigh = date + 1000 - sentAt;
    if (Math.max(low, newLow) > Math.min(high, newHigh)) {
      low = newLow;
      high = newHigh;
    } else {
      low = Math.max(low, newLow);
      high = Math.min(high, newHigh);
    }
  }

  /** The server's time now, in epoch seconds (the unit of every timestamp in the API). */
  function serverNow() {
    const offset = Number.isFinite(low) ? (low + high) / 2 : 0;
    return (Date.now() + offset) / 1000;
  }

  // --- requests ----------------------------------------------------------------------------

  function headers(extra) {
    return { Authorization: "Bearer " + (token() || ""), ...extra };
  }

  async function api(path, { method = "GET", body } = {}) {
    const init = { method, headers: headers(), cache: "no-store" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const sentAt = Date.now();
    const response = await fetch("/api/v1" + path, init);
    noteDate(response, sentAt);
    if (response.status === 401) throw refused(await errorMessage(response));
    if (!response.ok) {
      const error = await response.json().catch(() => ({}));
      const detail = error.error || {};
      throw new ApiError(response.status, detail.code, detail.message);
    }
    return response.status === 204 ? null : response.json();
  }

  // A 401 on any request ends the session: the token is dropped, the live stream is cut and
  // `boot` asks for a token again.
  let refusal = null;
  let streamAbort = null;

  function refused(message) {
    dropToken();
    refusal = message;
    if (streamAbort) streamAbort.abort();
    return new Unauthorized(message);
  }

  async function errorMessage(response) {
    const body = await response.json().catch(() => ({}));
    const reason = body.error && body.error.message;
    return reason ? `Token refused: ${reason}.` : "Token refused.";
  }

  // --- the live stream ---------------------------------------------------------------------

  function setStream(state) {
    document.body.dataset.stream = state;
    const label = document.getElementById("stream-status");
    if (label) {
      label.textContent = { connecting: "connecting…", live: "live", down: "reconnecting…" }[state];
    }
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  /** Reads /events until a request is refused (401, thrown as Unauthorized): `onOpen()`
   * (refetch everything) each time a stream starts, `onMessage(type, data)` for each message,
   * and after a failure a retry with backoff (0.5 s doubling to 5 s). */
  async function follow({ onOpen, onMessage }) {
    let failures = 0;
    for (;;) {
      const tried = Date.now();
      try {
        await readStream(onOpen, onMessage);
      } catch (error) {
        if (error instanceof Unauthorized) throw error;
        console.info("event stream:", error.message || error);
      }
      if (refusal !== null) throw new Unauthorized(refusal);
      setStream("down");
      // A stream that stayed up a while starts the backoff again (this try's stream: one
      // that opened long ago says nothing about the tries since).
      if (lastOpened >= tried && Date.now() - lastOpened > 10000) failures = 0;
      await sleep(STREAM_BACKOFF_MS[Math.min(failures, STREAM_BACKOFF_MS.length - 1)]);
      failures += 1;
    }
  }

  let lastOpened = 0;

  async function readStream(onOpen, onMessage) {
    const abort = new AbortController();
    streamAbort = abort;
    let silence = setTimeout(() => abort.abort(), STREAM_SILENCE_MS);
    try {
      const sentAt = Date.now();
      const response = await fetch("/api/v1/events", {
        headers: headers({ Accept: "text/event-stream" }),
        cache: "no-store",
        signal: abort.signal,
      });
      noteDate(response, sentAt);
      if (response.status === 401) throw refused(await errorMessage(response));
      if (!response.ok || !response.body) throw new ApiError(response.status);
      // Subscribed first, then the snapshot: nothing that happens in between is missed.
      await onOpen();
      setStream("live");
      lastOpened = Date.now();
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        clearTimeout(silence);
        silence = setTimeout(() => abort.abort(), STREAM_SILENCE_MS);
        buffer += value.replace(/\r\n?/g, "\n");
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const message = parseEvent(block);
          if (message) onMessage(message.type, message.data);
        }
      }
    } finally {
      clearTimeout(silence);
      abort.abort();
    }
  }

  function parseEvent(block) {
    let type = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue; // a comment: connected, keepalive
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") type = value;
      else if (field === "data") data.push(value);
    }
    if (!data.length) return null;
    try {
      return { type, data: JSON.parse(data.join("\n")) };
    } catch {
      return null;
    }
  }

  /** `run` at most once per REFETCH_GAP_MS however often this is called, never two at once,
   * and always once more after the last call (the trailing edge). */
  function throttled(run) {
    let timer = null;
    let running = false;
    let again = false;
    let last = 0;
    async function fire() {
      timer = null;
      if (running) {
        again = true;
        return;
      }
      running = true;
      last = Date.now();
      try {
        await run();
      } finally {
        running = false;
        if (again) {
          again = false;
          schedule();
        }
      }
    }
    function schedule() {
      if (timer !== null) return;
      if (running) {
        again = true;
        return;
      }
      timer = setTimeout(fire, Math.max(0, last + REFETCH_GAP_MS - Date.now()));
    }
    return schedule;
  }

  /** `body[data-updated]`: counts the refetches applied (tests wait on it). */
  function markUpdated() {
    document.body.dataset.updated = String(Number(document.body.dataset.updated || 0) + 1);
  }

  /** Calls `tick()` at each whole second of the server's clock. */
  function everySecond(tick) {
    function next() {
      const ms = 1000 - ((serverNow() * 1000) % 1000);
      setTimeout(() => {
        tick();
        next();
      }, ms + 5);
    }
    next();
  }

  // --- formatting --------------------------------------------------------------------------

  /** Whole seconds as m:ss (h:mm:ss past an hour); "–" when there is no value. */
  function duration(seconds) {
    if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "–";
    const whole = Math.max(0, Math.floor(seconds));
    const s = String(whole % 60).padStart(2, "0");
    const m = Math.floor(whole / 60);
    if (m < 60) return `${m}:${s}`;
    return `${Math.floor(m / 60)}:${String(m % 60).padStart(2, "0")}:${s}`;
  }

  /** A ratio as a whole percent ("83%"), "–" when null. Halves round to even, as Python's
   * round() does, so the page and a report made from the API never differ by one. */
  function percent(ratio) {
    if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return "–";
    const x = ratio * 100;
    let whole = Math.round(x);
    if (Math.abs(x - Math.trunc(x)) === 0.5 && whole % 2 !== 0) whole -= 1;
    return whole + "%";
  }

  const STATE_LABELS = {
    logged_out: "Logged out",
    available: "Available",
    reserved: "Ringing",
    busy: "On call",
    wrap_up: "Wrap-up",
    paused: "Paused",
  };

  /** `el(tag, {attrs}, children)`: a small element builder (text set as text, never HTML). */
  function el(tag, attrs = {}, children = []) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (name === "text") node.textContent = value;
      else if (name === "class") node.className = value;
      else node.setAttribute(name, value);
    }
    for (const child of children) node.append(child);
    return node;
  }

  /** Starts a page: a token (fragment, session or the form), then `start(params)` with the
   * fragment's other parameters; when `start` ends refused (401) the form is shown again with
   * the reason, and `start` runs again with the new token. */
  async function boot(start) {
    const params = takeFragment();
    // A token typed into the address of an open page only changes the fragment (no reload):
    // a reload takes it like the first one, and takes it off the screen.
    window.addEventListener("hashchange", () => {
      if (/(^|&)token=/.test(location.hash.slice(1))) location.reload();
    });
    let error = "";
    for (;;) {
      if (!token() || error) {
        await askToken(error);
        error = "";
      }
      refusal = null;
      try {
        await start(params);
        return;
      } catch (caught) {
        if (caught instanceof Unauthorized) {
          error = caught.message;
        } else {
          // The controller away at the start (the stream's own retries cover it later on).
          console.info("start failed, retrying:", caught.message || caught);
          setStream("down");
          await sleep(2000);
        }
      }
    }
  }

  return {
    ApiError,
    Unauthorized,
    api,
    askToken,
    boot,
    dropToken,
    duration,
    el,
    everySecond,
    follow,
    markUpdated,
    percent,
    serverNow,
    setStream,
    STATE_LABELS,
    takeFragment,
    throttled,
    token,
  };
})();
