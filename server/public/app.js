/*
 * Switchboard demo page: sign in, a room with chat and history, presence of the room's people,
 * a document synced between the user's devices, and the notification inbox. Plain browser
 * JavaScript on the Switchboard client SDK (/sdk/switchboard-client.js), which runs on the
 * socket.io client the node serves (/socket.io/socket.io.min.js): the SDK reconnects, refreshes
 * the token, joins the room again and hands over missed messages, and queues what is sent while
 * offline.
 *
 * Test hooks (PROTOCOL §7) are data-testid attributes in index.html; `/?user=<id>` signs in at
 * once on a development server, `&room=<id>` joins that room as well.
 */
/* global Switchboard */
"use strict";

(function main() {
  const SYNC_KEY = "demo";
  const HISTORY_LIMIT = 50;
  const NOTIFICATION_LIMIT = 20;

  const $ = (id) => document.getElementById(id);
  const el = {
    status: $("status"),
    signOut: $("sign-out"),
    signIn: $("sign-in"),
    signInError: $("sign-in-error"),
    devForm: $("dev-form"),
    userInput: $("user-input"),
    nameInput: $("name-input"),
    tokenForm: $("token-form"),
    tokenInput: $("token-input"),
    app: $("app"),
    roomForm: $("room-form"),
    roomInput: $("room-input"),
    roomName: $("room-name"),
    messages: $("chat-messages"),
    chatForm: $("chat-form"),
    chatInput: $("chat-input"),
    chatSend: $("chat-send"),
    presenceStatus: $("presence-status"),
    presenceList: $("presence-list"),
    syncForm: $("sync-form"),
    syncInput: $("sync-input"),
    syncValue: $("sync-value"),
    notifications: $("notifications"),
  };

  const state = {
    /** The SDK client (Switchboard.createClient). */
    client: null,
    /** How to get a fresh token when the current one expires: only dev-minted tokens can. */
    renew: null,
    session: null,
    /** The current room's id. */
    room: null,
    /** A room to join once signed in (`/?room=`). */
    pendingRoom: null,
    /** userId -> the newest Presence known (or what a Member says until its presence arrives). */
    presence: new Map(),
    /** Who the presence list shows: this user and the current room's members. */
    shown: new Set(),
    /** Rooms whose SDK events this page listens to. */
    listening: new Set(),
    notificationIds: new Set(),
    notificationsLoaded: false,
  };

  /** One id per browser tab, kept across reloads of that tab. */
  function deviceId() {
    const key = "switchboard.deviceId";
    let id = sessionStorage.getItem(key);
    if (!id) {
      const bytes = crypto.getRandomValues(new Uint8Array(6));
      id = "web-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
      sessionStorage.setItem(key, id);
    }
    return id;
  }

  function setStatus(kind, text, nodeId) {
    el.status.dataset.state = kind;
    el.status.textContent = text;
    if (nodeId) el.status.dataset.node = nodeId;
    else delete el.status.dataset.node;
  }

  function showError(message) {
    el.signInError.textContent = message || "";
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function make(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  const time = (ms) => new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });

  // ---- tokens -------------------------------------------------------------------------------

  /** `POST /dev/token`: served only when the server runs with DEV_TOKENS=1 (never in production). */
  async function mintToken(userId, name) {
    const response = await fetch("/dev/token", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(name ? { userId, name } : { userId }),
    });
    if (response.status === 404) {
      throw new Error("This server does not mint tokens (DEV_TOKENS is not set). Paste a token from your token service.");
    }
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error((body.error && body.error.message) || "token request failed: HTTP " + response.status);
    return body.token;
  }

  // ---- connection ---------------------------------------------------------------------------

  function connect(token) {
    disconnect();
    setStatus("connecting", "Connecting…");
    const client = Switchboard.createClient({
      token,
      getToken: state.renew || undefined,
      deviceId: deviceId(),
      reconnect: { maxDelayMs: 5000 },
    });
    state.client = client;

    client.on("state", (now, code) => onState(client, now, code));
    client.on("session", (session) => onSession(client, session));
    client.presence.on("update", (presence) => mergePresence(presence));
    client.notifications.on("notification", (notification) => addNotification(notification, true));
    client.on("error", (err) => console.warn("switchboard", err.code, err.message));
    const doc = client.sync(SYNC_KEY);
    doc.on("change", () => renderSync(doc));
    renderSync(doc);
    if (state.pendingRoom) {
      const room = state.pendingRoom;
      state.pendingRoom = null;
      joinRoom(room).catch((err) => alertInline(err));
    }
  }

  function disconnect() {
    const client = state.client;
    state.client = null;
    state.listening.clear();
    if (client) client.close();
  }

  function onState(client, now, code) {
    if (client !== state.client) return;
    if (now === "connected") {
      setStatus("connected", "Connected to " + client.session.nodeId + " as " + client.session.userId, client.session.nodeId);
      el.status.dataset.user = client.session.userId;
      setChatEnabled(true);
      return;
    }
    setChatEnabled(false);
    if (now === "connecting") setStatus("connecting", "Connecting…");
    else if (now === "reconnecting") setStatus("disconnected", "Disconnected" + (code ? " (" + code + ")" : "") + ", reconnecting… (messages you send are queued)");
    else if (now === "offline") setStatus("disconnected", "Offline; messages you send are queued");
    else if (code === "UNAUTHORIZED" || code === "VALIDATION_FAILED" || code === "TOKEN_EXPIRED") {
      setStatus("error", "Refused: " + code);
      showError("The server refused the token (" + code + ").");
      showSignIn();
    } else {
      // The SDK's circuit breaker is open: it tries again after a cool-down.
      setStatus("error", "Cannot connect (" + code + "); trying again shortly…");
    }
  }

  /** Every (re)connection gets a new `session`; the SDK restores rooms, watches and the document. */
  function onSession(client, session) {
    state.session = session;
    el.status.dataset.user = session.userId;
    el.signIn.hidden = true;
    el.app.hidden = false;
    el.signOut.hidden = false;
    showError("");
    if (!state.shown.has(session.userId)) {
      state.shown.add(session.userId);
      watch([session.userId]);
    }
    if (!state.notificationsLoaded) {
      state.notificationsLoaded = true;
      loadNotifications(client).catch((err) => console.warn("notifications", err));
    }
  }

  // ---- rooms and chat -----------------------------------------------------------------------

  /**
   * Shows the room's recent history, then joins from its newest message: the SDK hands over
   * every later message once, in order — also after a reconnect, whatever node it lands on.
   */
  async function joinRoom(id) {
    const client = state.client;
    const room = client.room(id);
    let page;
    try {
      page = await room.history({ limit: HISTORY_LIMIT });
    } catch (err) {
      if (err.code !== "NOT_FOUND") throw err;
      // A demo room is created on first use (public, so everyone can join it).
      try {
        await client.createRoom({ id, name: id });
      } catch (createError) {
        if (createError.code !== "CONFLICT") throw createError;
      }
      page = { messages: [] };
    }
    if (!state.listening.has(id)) {
      state.listening.add(id);
      room.on("message", (message) => state.room === id && showMessage(message));
      room.on("gap", () => state.room === id && loadHistory(room).catch((err) => alertInline(err)));
      room.on("joined", (result) => state.room === id && showMembers(result.members));
      room.on("member_joined", (event) => {
        if (state.room !== id) return;
        state.shown.add(event.userId);
        mergePresence({ userId: event.userId, name: event.name });
        watch([event.userId]);
      });
      room.on("member_left", (event) => {
        if (state.room !== id || (state.session && event.userId === state.session.userId)) return;
        state.shown.delete(event.userId);
        renderPresence();
      });
    }
    state.room = id;
    clear(el.messages);
    for (const message of page.messages) showMessage(message);
    const newest = page.messages[page.messages.length - 1];
    const ack = await room.join(newest ? { since: newest.id } : {});
    el.roomName.textContent = ack.room.name;
    el.roomName.classList.remove("muted");
    showMembers(ack.members);
    setChatEnabled(client.state === "connected");
  }

  async function loadHistory(room) {
    const page = await room.history({ limit: HISTORY_LIMIT });
    clear(el.messages);
    for (const message of page.messages) showMessage(message);
  }

  function showMembers(members) {
    state.shown.clear();
    if (state.session) state.shown.add(state.session.userId);
    for (const member of members) {
      state.shown.add(member.userId);
      mergePresence(member, false);
    }
    renderPresence();
    watch(members.map((m) => m.userId));
  }

  function textOf(data) {
    if (data && typeof data === "object" && typeof data.text === "string") return data.text;
    return typeof data === "string" ? data : JSON.stringify(data);
  }

  function showMessage(message) {
    if (el.messages.querySelector('[data-id="' + CSS.escape(message.id) + '"]')) return;
    const item = make("li", "message" + (message.kind === "text" ? "" : " system"));
    item.dataset.id = message.id;
    const own = state.session && message.from.userId === state.session.userId;
    if (own) item.classList.add("own");
    item.append(make("span", "from", message.from.name || message.from.userId), make("span", "text", textOf(message.data)));
    const stamp = make("time", "when", time(message.ts));
    stamp.dateTime = new Date(message.ts).toISOString();
    item.append(stamp);
    el.messages.append(item);
    el.messages.scrollTop = el.messages.scrollHeight;
  }

  function setChatEnabled(enabled) {
    const on = enabled && state.room !== null;
    el.chatInput.disabled = !on;
    el.chatSend.disabled = !on;
  }

  // ---- presence -----------------------------------------------------------------------------

  /** The SDK keeps these watched across reconnects and reports the newest presence (by rev). */
  function watch(userIds) {
    const fresh = userIds.filter((id) => !state.client.presence.watched.has(id)).slice(0, 100);
    if (fresh.length === 0) return;
    state.client.presence.watch(fresh).then(
      () => renderPresence(),
      (err) => console.warn("presence:watch", err),
    );
  }

  /**
   * Keeps the newest presence of each user: of two Presence updates the larger `rev` wins
   * (they may arrive out of order through different nodes). A Member (no rev) only fills in
   * the name, or the online flag of a user whose presence has not arrived yet.
   */
  function mergePresence(update, render = true) {
    const known = state.presence.get(update.userId);
    let next;
    if (typeof update.rev !== "number") {
      next = Object.assign({ userId: update.userId }, known);
      if (update.name) next.name = update.name;
      if (!known && typeof update.online === "boolean") next.online = update.online;
    } else if (known && typeof known.rev === "number" && update.rev < known.rev) {
      return;
    } else {
      next = Object.assign({}, update);
      if (!next.name && known && known.name) next.name = known.name;
    }
    state.presence.set(update.userId, next);
    if (render) renderPresence();
  }

  function renderPresence() {
    clear(el.presenceList);
    const people = Array.from(state.shown, (id) => state.presence.get(id) || { userId: id }).sort((a, b) => a.userId.localeCompare(b.userId));
    for (const person of people) {
      const status = person.status || (person.online ? "online" : "offline");
      const item = make("li", "person");
      item.dataset.user = person.userId;
      item.dataset.status = status;
      item.append(make("span", "dot " + status));
      const label = (person.name || person.userId) + (state.session && person.userId === state.session.userId ? " (you)" : "");
      item.append(make("span", "who", label), make("span", "what", status.replace("_", " ")));
      if (person.message) item.append(make("span", "note", person.message));
      el.presenceList.append(item);
      if (state.session && person.userId === state.session.userId && status !== "offline") el.presenceStatus.value = status;
    }
  }

  // ---- synced state -------------------------------------------------------------------------

  function renderSync(doc) {
    const text = doc.state.text;
    el.syncValue.textContent = typeof text === "string" ? text : "";
  }

  // ---- notifications ------------------------------------------------------------------------

  async function loadNotifications(client) {
    const notifications = await client.notifications.list({ limit: NOTIFICATION_LIMIT });
    for (const notification of notifications.slice().reverse()) addNotification(notification, true);
  }

  function addNotification(notification, first) {
    if (state.notificationIds.has(notification.id)) return;
    state.notificationIds.add(notification.id);
    const item = make("li", "notification priority-" + notification.priority + (notification.read ? " read" : ""));
    item.dataset.id = notification.id;
    item.append(make("strong", "title", notification.title));
    if (notification.body) item.append(make("span", "body", notification.body));
    item.append(make("time", "when", time(notification.createdAt)));
    if (!notification.read) {
      const button = make("button", "link", "Mark read");
      button.type = "button";
      button.addEventListener("click", () => {
        state.client.notifications.read(notification.id).then(
          () => {
            item.classList.add("read");
            button.remove();
          },
          (err) => console.warn("notification:read", err),
        );
      });
      item.append(button);
    }
    if (first) el.notifications.prepend(item);
    else el.notifications.append(item);
  }

  // ---- forms --------------------------------------------------------------------------------

  function showSignIn() {
    disconnect();
    el.app.hidden = true;
    el.signOut.hidden = true;
    el.signIn.hidden = false;
  }

  async function signInAs(userId, name) {
    showError("");
    setStatus("connecting", "Signing in…");
    try {
      const token = await mintToken(userId, name);
      state.renew = () => mintToken(userId, name);
      connect(token);
    } catch (err) {
      setStatus("signed-out", "Not signed in");
      showError(err.message);
    }
  }

  el.devForm.addEventListener("submit", (event) => {
    event.preventDefault();
    void signInAs(el.userInput.value.trim(), el.nameInput.value.trim());
  });

  el.tokenForm.addEventListener("submit", (event) => {
    event.preventDefault();
    state.renew = null;
    connect(el.tokenInput.value.trim());
  });

  el.signOut.addEventListener("click", () => {
    disconnect();
    Object.assign(state, { session: null, room: null, pendingRoom: null, renew: null, notificationsLoaded: false });
    state.presence.clear();
    state.shown.clear();
    state.notificationIds.clear();
    for (const list of [el.messages, el.presenceList, el.notifications]) clear(list);
    el.syncValue.textContent = "";
    el.roomName.textContent = "none";
    el.roomName.classList.add("muted");
    setStatus("signed-out", "Not signed in");
    showSignIn();
  });

  el.roomForm.addEventListener("submit", (event) => {
    event.preventDefault();
    joinRoom(el.roomInput.value.trim()).catch((err) => alertInline(err));
  });

  el.chatForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = el.chatInput.value;
    if (!text.trim() || !state.room) return;
    // Queued by the SDK while offline; its clientMsgId makes a retry land once.
    el.chatInput.value = "";
    state.client
      .room(state.room)
      .publish({ text })
      .catch((err) => {
        el.chatInput.value = text;
        alertInline(err);
      });
  });

  el.presenceStatus.addEventListener("change", () => {
    state.client.presence.set(el.presenceStatus.value).catch((err) => alertInline(err));
  });

  el.syncForm.addEventListener("submit", (event) => {
    event.preventDefault();
    // Shown at once; pushed now, or after the reconnect.
    state.client.sync(SYNC_KEY).set({ text: el.syncInput.value });
    el.syncInput.value = "";
  });

  function alertInline(err) {
    const item = make("li", "message error", (err.code ? err.code + ": " : "") + err.message);
    item.setAttribute("role", "alert");
    el.messages.append(item);
    setTimeout(() => item.remove(), 5000);
  }

  // ---- start --------------------------------------------------------------------------------

  if (typeof io !== "function" || typeof Switchboard === "undefined") {
    setStatus("error", "The socket.io client or the Switchboard SDK did not load from this server.");
    return;
  }
  const params = new URLSearchParams(location.search);
  const wantedRoom = params.get("room");
  if (wantedRoom) {
    el.roomInput.value = wantedRoom;
    state.pendingRoom = wantedRoom;
  }
  const user = params.get("user");
  if (user) {
    el.userInput.value = user;
    if (params.get("name")) el.nameInput.value = params.get("name");
    void signInAs(user, params.get("name") || "");
  }
})();
