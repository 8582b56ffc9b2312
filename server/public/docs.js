/*
 * Switchboard demo page: a shared text editor (PROTOCOL §9 "Collaborative documents").
 * A plain textarea on a collaborative text document: local edits become ot-text-unicode ops (one
 * in flight, later edits composed meanwhile), remote `doc:op` events are applied in version order
 * after being transformed against the edits not yet acknowledged, the caret stays where the text
 * moved it, and the other editors' selections are listed (`doc:cursor`). After a reconnect the
 * document is opened again from the version held and the op in flight is resent (same clientOpId).
 *
 * Like leaderboard.js it loads before app.js and wraps `Switchboard.createClient`, so it uses the
 * page's own connection. ot-text-unicode comes from the node (/demo/ot-text-unicode.js), the same
 * library the nodes transform with. Positions of the protocol count Unicode code points; the
 * textarea counts UTF-16 units, so they are converted both ways.
 *
 * `/?doc=<docId>` opens that document at once (default `room:<room>/notes` with `?room=`). Test
 * hooks: data-testid="doc-input", "doc-open", "doc-editor" (the textarea, with data-version),
 * "doc-status", "doc-cursors" (one li per other editor).
 */
"use strict";

(function docs() {
  const sdk = window.Switchboard;
  const ot = window.otTextUnicode;
  const $ = (id) => document.getElementById(id);
  const el = { form: $("doc-form"), input: $("doc-input"), editor: $("doc-editor"), status: $("doc-status"), cursors: $("doc-cursors") };
  if (!el.editor) return;
  if (!sdk || typeof sdk.createClient !== "function" || !ot) {
    el.status.textContent = "The editor needs the SDK and /demo/ot-text-unicode.js from this server.";
    return;
  }
  const text = ot.type;
  const CURSOR_EVERY_MS = 100;

  const query = new URLSearchParams(location.search);
  const state = {
    client: null,
    docId: query.get("doc") || (query.get("room") ? "room:" + query.get("room") + "/notes" : null),
    open: false,
    version: 0,
    /** The document as this page shows it (server version + the edits not acknowledged yet). */
    text: "",
    inflight: null,
    pending: null,
    /** The version the op in flight got, when its ack came before earlier remote ops. */
    ownAt: null,
    buffer: new Map(),
    seq: 0,
    tag: Math.random().toString(36).slice(2, 8),
    remote: new Map(),
    cursorTimer: null,
    userId: null,
  };
  if (state.docId) el.input.value = state.docId;

  // The page's client, as app.js creates it (each sign-in creates a new one).
  window.Switchboard = Object.assign({}, sdk, {
    createClient(options) {
      const client = sdk.createClient(options);
      attach(client);
      return client;
    },
  });

  function attach(client) {
    state.client = client;
    state.open = false;
    client.on("session", (session) => {
      if (client !== state.client) return;
      state.userId = session.userId;
      el.form.querySelector("button").disabled = false;
      // Every (re)connection: open again from the version held (the first time: from scratch).
      if (state.docId) openSoon(client, state.docId, state.open, 8);
    });
    client.on("event", (event, payload) => {
      if (client !== state.client || !payload || payload.docId !== state.docId) return;
      if (event === "doc:op") receive(payload);
      else if (event === "doc:cursor") showCursor(payload);
    });
  }

  // ---- code points <-> UTF-16 ----------------------------------------------------------------

  const toPoints = (s, index) => [...s.slice(0, index)].length;
  function toUnits(s, points) {
    let units = 0;
    for (const ch of s) {
      if (points-- <= 0) break;
      units += ch.length;
    }
    return units;
  }

  // ---- opening -------------------------------------------------------------------------------

  async function open(docId, resume) {
    const client = state.client;
    if (!client) return;
    if (!resume || docId !== state.docId) {
      if (state.docId && state.open && docId !== state.docId) client.request("doc:close", { docId: state.docId }, { retry: false }).catch(() => undefined);
      Object.assign(state, { docId, open: false, version: 0, text: "", inflight: null, pending: null, ownAt: null, seq: 0 });
      state.buffer.clear();
      state.remote.clear();
    }
    setStatus("Opening " + docId + "…");
    const answer = await client.request("doc:open", resume ? { docId, version: state.version } : { docId, type: "text" }, { retry: false });
    if (client !== state.client || docId !== state.docId) return;
    if (answer.ops) {
      for (const entry of answer.ops) receive(entry);
    } else {
      // A fresh snapshot (first open, or the version held fell off the log): edits not sent are lost.
      Object.assign(state, { version: answer.version, text: answer.snapshot, inflight: null, pending: null, ownAt: null });
      state.buffer.clear();
      render(null);
    }
    state.open = true;
    el.editor.disabled = false;
    if (state.inflight) send();
    renderCursors();
    setStatus();
  }

  /** With `?doc=&room=` the page may open the document before app.js created or joined the room: try again a few times. */
  function openSoon(client, docId, resume, tries) {
    open(docId, resume).catch((err) => {
      if (tries > 1 && client === state.client && (err.code === "NOT_FOUND" || err.code === "FORBIDDEN")) setTimeout(() => openSoon(client, docId, resume, tries - 1), 500);
      else report(err);
    });
  }

  // ---- local edits ---------------------------------------------------------------------------

  /** The textarea changed: the difference to the shown text becomes one op. */
  function onInput() {
    if (!state.open) return;
    const before = state.text;
    const after = el.editor.value;
    if (before === after) return;
    let start = 0;
    while (start < before.length && start < after.length && before[start] === after[start]) start++;
    let endBefore = before.length;
    let endAfter = after.length;
    while (endBefore > start && endAfter > start && before[endBefore - 1] === after[endAfter - 1]) {
      endBefore--;
      endAfter--;
    }
    // Never cut a surrogate pair in two.
    if (start > 0 && /[\uD800-\uDBFF]/.test(before[start - 1])) start--;
    if (endBefore < before.length && /[\uDC00-\uDFFF]/.test(before[endBefore])) {
      endBefore++;
      endAfter++;
    }
    const at = toPoints(before, start);
    const removed = [...before.slice(start, endBefore)].length;
    const inserted = after.slice(start, endAfter);
    const op = [];
    if (at > 0) op.push(at);
    if (removed > 0) op.push({ d: removed });
    if (inserted) op.push(inserted);
    state.text = after;
    state.pending = state.pending ? text.compose(state.pending, op) : op;
    flush();
    setStatus();
  }

  function flush() {
    if (state.inflight || !state.pending) return;
    state.inflight = { op: state.pending, clientOpId: "web-" + state.tag + "-" + ++state.seq };
    state.pending = null;
    send();
  }

  function send() {
    const sent = state.inflight;
    const client = state.client;
    client
      .request("doc:op", { docId: state.docId, version: state.version, op: sent.op, clientOpId: sent.clientOpId }, { retry: false })
      .then((ack) => {
        if (!state.inflight || state.inflight.clientOpId !== sent.clientOpId) return;
        state.ownAt = ack.version;
        drain();
      })
      .catch((err) => {
        if (!state.inflight || state.inflight.clientOpId !== sent.clientOpId) return;
        // Lost with the connection (or sent before the document was open again after a
        // reconnect): the next session opens the document again and resends it.
        if (["DISCONNECTED", "CLOSED", "TIMEOUT", "FORBIDDEN"].includes(err.code)) return;
        if (err.code === "RATE_LIMITED") {
          setTimeout(() => state.inflight && state.inflight.clientOpId === sent.clientOpId && send(), ((err.details && err.details.retryAfterMs) || 1000) + 1);
          return;
        }
        // Refused for good (the op no longer fits): start over from the server's document.
        report(err);
        open(state.docId, false).catch(report);
      });
  }

  // ---- remote ops ----------------------------------------------------------------------------

  function receive(entry) {
    if (entry.version <= state.version) return;
    state.buffer.set(entry.version, entry);
    drain();
  }

  function drain() {
    let moved = false;
    for (;;) {
      const next = state.version + 1;
      const entry = state.buffer.get(next);
      if (entry) state.buffer.delete(next);
      const own = state.ownAt === next || (entry && state.inflight && entry.clientOpId === state.inflight.clientOpId);
      if (own) {
        state.version = next;
        state.inflight = null;
        state.ownAt = null;
        flush();
        continue;
      }
      if (!entry) break;
      let op = entry.op;
      if (state.inflight) {
        const mine = state.inflight.op;
        state.inflight.op = text.transform(mine, op, "left");
        op = text.transform(op, mine, "right");
      }
      if (state.pending) {
        const mine = state.pending;
        state.pending = text.transform(mine, op, "left");
        op = text.transform(op, mine, "right");
      }
      const before = state.text;
      state.text = text.apply(state.text, op);
      state.version = next;
      for (const cursor of state.remote.values()) if (cursor.selection !== null) cursor.selection = text.transformSelection(cursor.selection, op);
      render({ before, op });
      moved = true;
    }
    if (moved) renderCursors();
    setStatus();
  }

  /** Shows the text; the caret and selection move through the remote op. */
  function render(change) {
    const area = el.editor;
    const focused = document.activeElement === area;
    let start = area.selectionStart;
    let end = area.selectionEnd;
    if (change) {
      const [a, b] = text.transformSelection([toPoints(change.before, start), toPoints(change.before, end)], change.op);
      start = toUnits(state.text, a);
      end = toUnits(state.text, b);
    }
    area.value = state.text;
    area.dataset.version = String(state.version);
    if (focused) area.setSelectionRange(start, end);
  }

  // ---- cursors -------------------------------------------------------------------------------

  function sendCursor() {
    state.cursorTimer = null;
    // In the coordinates of `version` only while every edit of this page is acknowledged.
    if (!state.open || state.inflight || state.pending) return;
    const area = el.editor;
    const selection = [toPoints(state.text, area.selectionStart), toPoints(state.text, area.selectionEnd)];
    state.client.request("doc:cursor", { docId: state.docId, version: state.version, selection }, { retry: false }).catch(() => undefined);
  }

  function onSelect() {
    if (!state.cursorTimer) state.cursorTimer = setTimeout(sendCursor, CURSOR_EVERY_MS);
  }

  function showCursor(event) {
    let selection = event.selection;
    // A cursor from a version this page has not reached yet is shown as sent.
    if (event.version < state.version) selection = null;
    state.remote.set(event.userId + "/" + event.deviceId, { userId: event.userId, deviceId: event.deviceId, selection: selection });
    renderCursors();
  }

  function renderCursors() {
    el.cursors.textContent = "";
    for (const cursor of state.remote.values()) {
      const li = document.createElement("li");
      li.dataset.testid = "doc-cursor";
      li.dataset.user = cursor.userId;
      const [a, b] = Array.isArray(cursor.selection) ? cursor.selection : [cursor.selection, cursor.selection];
      li.textContent = cursor.userId + " (" + cursor.deviceId + "): " + (a === null || a === undefined ? "…" : a === b ? "at " + a : a + "–" + b);
      el.cursors.appendChild(li);
    }
  }

  // ---- ui ------------------------------------------------------------------------------------

  function setStatus(message) {
    el.status.textContent = message || (state.open ? state.docId + " · version " + state.version + (state.inflight || state.pending ? " · sending…" : " · saved") : "");
    el.status.dataset.version = String(state.version);
  }

  function report(err) {
    setStatus((err && err.code ? err.code + ": " : "") + (err && err.message ? err.message : String(err)));
  }

  el.form.addEventListener("submit", (event) => {
    event.preventDefault();
    const docId = el.input.value.trim();
    if (docId && state.client) open(docId, false).catch(report);
  });
  el.editor.addEventListener("input", onInput);
  el.editor.addEventListener("select", onSelect);
  el.editor.addEventListener("keyup", onSelect);
  el.editor.addEventListener("click", onSelect);
})();
