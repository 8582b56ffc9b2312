/*
 * Switchboard demo page: a live leaderboard (PROTOCOL §8 "Leaderboards and live streams").
 * Follows one leaderboard of the signed-in user's tenant: `leaderboard:subscribe` answers the top
 * as of update `seq` and the user's own rank; every `leaderboard:update` (at most one per
 * interval, however many scores arrive) is applied to it in `seq` order. Scores are written by
 * backend services (`POST /v1/leaderboards/:id/scores` or the emitter's `leaderboard(id).score`).
 *
 * This file loads between the SDK and app.js and wraps `Switchboard.createClient`, so it uses the
 * page's own connection (app.js needs no change). `/?leaderboard=<id>` follows that leaderboard
 * at once. Test hooks: data-testid="leaderboard" (the section), "leaderboard-input",
 * "leaderboard-follow", "leaderboard-rows" (li data-testid="leaderboard-row" with data-rank,
 * data-user, data-score), "leaderboard-me", and data-seq on the section.
 */
"use strict";

(function leaderboard() {
  const TOP = 10;
  /** Updates that wait for a missing predecessor before the view is fetched again. */
  const MAX_WAITING = 3;
  const sdk = window.Switchboard;
  if (!sdk || typeof sdk.createClient !== "function") return;

  const $ = (id) => document.getElementById(id);
  const el = {
    section: $("leaderboard"),
    form: $("leaderboard-form"),
    input: $("leaderboard-input"),
    rows: $("leaderboard-rows"),
    me: $("leaderboard-me"),
    title: $("leaderboard-name"),
  };
  if (!el.section) return;

  const state = {
    client: null,
    id: new URLSearchParams(location.search).get("leaderboard"),
    /** userId -> { rank, score }: the answer's top with every applied update. */
    rows: new Map(),
    seq: 0,
    /** Updates that arrived before the answer or ahead of a missing one, by seq. */
    waiting: new Map(),
    ready: false,
    me: null,
    userId: null,
    /** Answers of older subscriptions are ignored. */
    attempt: 0,
  };

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
    client.on("session", (session) => {
      if (client !== state.client) return;
      state.userId = session.userId;
      // The SDK restores rooms and watches, not leaderboards: subscribe again on every session.
      if (state.id) subscribe(state.id);
    });
    client.on("event", (event, update) => {
      if (client === state.client && event === "leaderboard:update") receive(update);
    });
  }

  async function subscribe(id) {
    const client = state.client;
    if (!client) return;
    const attempt = ++state.attempt;
    state.id = id;
    state.ready = false;
    state.waiting.clear();
    el.title.textContent = id;
    el.input.value = id;
    try {
      const answer = await client.request("leaderboard:subscribe", { id, top: TOP });
      if (attempt !== state.attempt || client !== state.client) return;
      state.rows = new Map(answer.top.map((e) => [e.userId, { rank: e.rank, score: e.score }]));
      state.seq = answer.seq;
      state.me = answer.me;
      state.ready = true;
      drain();
      render();
    } catch (err) {
      if (attempt === state.attempt) el.me.textContent = "Could not follow " + id + ": " + (err.message || err.code);
    }
  }

  function receive(update) {
    if (!update || update.id !== state.id || update.seq <= state.seq) return;
    state.waiting.set(update.seq, update);
    if (!state.ready) return;
    drain();
    // A missing update does not come back: fetch the view again.
    if (state.waiting.size > MAX_WAITING) subscribe(state.id);
    else render();
  }

  /** Applies the waiting updates that follow the current seq, in order. */
  function drain() {
    for (const seq of [...state.waiting.keys()]) if (seq <= state.seq) state.waiting.delete(seq);
    for (let next = state.waiting.get(state.seq + 1); next; next = state.waiting.get(state.seq + 1)) {
      state.waiting.delete(next.seq);
      state.seq = next.seq;
      for (const c of next.changes) {
        state.rows.set(c.userId, { rank: c.rank, score: c.score });
        if (c.userId === state.userId) state.me = { rank: c.rank, userId: c.userId, score: c.score };
      }
      for (const userId of next.removed) state.rows.delete(userId);
    }
  }

  function render() {
    el.section.dataset.seq = String(state.seq);
    while (el.rows.firstChild) el.rows.removeChild(el.rows.firstChild);
    const top = [...state.rows].filter(([, e]) => e.rank <= TOP).sort((a, b) => a[1].rank - b[1].rank);
    for (const [userId, e] of top) {
      const li = document.createElement("li");
      li.className = "person";
      li.dataset.testid = "leaderboard-row";
      li.dataset.rank = String(e.rank);
      li.dataset.user = userId;
      li.dataset.score = String(e.score);
      const who = document.createElement("span");
      who.className = "who";
      who.textContent = e.rank + ". " + userId + (userId === state.userId ? " (you)" : "");
      const what = document.createElement("span");
      what.className = "what";
      what.textContent = String(e.score);
      li.append(who, what);
      el.rows.appendChild(li);
    }
    if (top.length === 0) el.rows.appendChild(Object.assign(document.createElement("li"), { className: "person", textContent: "No scores yet." }));
    el.me.textContent = state.me ? "You: #" + state.me.rank + " with " + state.me.score : "You are not on this leaderboard yet.";
  }

  el.form.addEventListener("submit", (event) => {
    event.preventDefault();
    const id = el.input.value.trim();
    if (!id || !state.client) return;
    if (state.id && state.id !== id) state.client.request("leaderboard:unsubscribe", { id: state.id }).catch(() => undefined);
    subscribe(id);
  });
})();
