/**
 * The connection: one socket at a time to one of the configured node URLs, re-opened with
 * exponential back-off and full jitter, a circuit breaker over failed connects, token refresh on
 * TOKEN_EXPIRED, heartbeats that measure latency, the offline command queue, and the restoration
 * of every subscription (rooms, presence, sync documents, notifications, workspaces, agents)
 * after each reconnect — before the queue is flushed, in order.
 */
import type { Ack, ClientToServerEvents, Session } from "@switchboard/shared";
import type { ManagerOptions, Socket, SocketOptions } from "socket.io-client";
import { Emitter } from "./emitter.js";
import { randomId } from "./id.js";
import { SwitchboardError } from "./errors.js";
import { Notifications } from "./notifications.js";
import { Presence } from "./presence.js";
import { Room } from "./room.js";
import { SyncDoc } from "./sync.js";
import { Agent, Workspace } from "./workspace.js";

export type ConnectionState = "connecting" | "connected" | "reconnecting" | "offline" | "failed";

/** A command of the protocol. */
export type CommandName = keyof ClientToServerEvents;
export type CommandPayload<E extends CommandName> = Parameters<ClientToServerEvents[E]>[0];
/** What a command's ack carries on success (`{ ok: true, ... }`). */
export type CommandResult<E extends CommandName> = Extract<Parameters<Parameters<ClientToServerEvents[E]>[1]>[0], { ok: true }>;

/** Where the device id is kept (localStorage in browsers). */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

export type IoFactory = (url: string | undefined, options: Partial<ManagerOptions & SocketOptions>) => Socket;

export interface ClientOptions {
  /**
   * A node URL, or a list of them: a reconnect tries the next one (so a client survives the death
   * of its node without a balancer). Omitted in a browser: the page's own origin.
   */
  url?: string | readonly string[];
  /** A JWT. With `getToken` as well, it is used first and getToken is asked when it expires. */
  token?: string;
  /** Called for the first token (when `token` is absent) and again after TOKEN_EXPIRED, before reconnecting. */
  getToken?: () => string | Promise<string>;
  /** This device's id (`[A-Za-z0-9_-]{1,64}`). Browsers keep a generated one in localStorage; Node keeps the server's for the client's life. */
  deviceId?: string;
  /** Where the generated device id is kept; default `localStorage` when there is one. `null`: nowhere. */
  storage?: StorageLike | null;
  /** Socket.IO path (default `/socket.io`). */
  path?: string;
  /** Default `["websocket", "polling"]`. */
  transports?: ("websocket" | "polling")[];
  /** Connect at once (default true); otherwise call `connect()`. */
  autoConnect?: boolean;
  /** Back-off between connects: full jitter, `random(0, min(maxDelayMs, minDelayMs × factor^attempt))`; DEVICE_LIMIT and SERVER_FULL wait `slowDelayMs` more. */
  reconnect?: { minDelayMs?: number; maxDelayMs?: number; factor?: number; slowDelayMs?: number };
  /** `threshold` failed connects within `windowMs` open the breaker (state `failed`) for `cooldownMs`. */
  breaker?: { threshold?: number; windowMs?: number; cooldownMs?: number };
  /** Commands issued while disconnected wait here; beyond `maxSize` the oldest is dropped (`dropped` event). */
  queue?: { maxSize?: number };
  /** How long a sent command waits for its answer before the connection is taken as lost (default 15000). */
  ackTimeoutMs?: number;
  /** How long a connect may take up to the `session` event (default 10000). */
  connectTimeoutMs?: number;
  /** `system:ping` every this many ms while connected (default 10000; 0 = off); sets `latency`. */
  heartbeatIntervalMs?: number;
  /** Ack incoming notifications at once (default true). */
  autoAck?: boolean;
  /** Extra socket.io-client options (e.g. `extraHeaders` in Node). */
  socketOptions?: Partial<ManagerOptions & SocketOptions>;
}

export interface ClientEvents {
  /** Every change of `state`; `code` is the last error for `failed`, `reconnecting` and `connecting`. */
  state: (state: ConnectionState, code?: string) => void;
  connecting: () => void;
  connected: (session: Session) => void;
  reconnecting: (code?: string) => void;
  offline: () => void;
  failed: (code: string) => void;
  /** Each (re)connection's session, as soon as it arrives (before subscriptions are restored). */
  session: (session: Session) => void;
  /** The connection was lost (or closed by a heartbeat or ack timeout). */
  disconnect: (reason: string) => void;
  /** A queued command was dropped because the queue was full. */
  dropped: (command: { event: string; payload: unknown }, error: SwitchboardError) => void;
  latency: (ms: number) => void;
  /** A restore or background step failed (a room that no longer exists, …). */
  error: (error: SwitchboardError) => void;
  /** Any server event the SDK has no object for (e.g. the emitter's `user(id).emit`). */
  event: (event: string, ...args: unknown[]) => void;
}

export interface RequestOptions {
  /** Commands with the same lane are answered one after another, in order. */
  lane?: string;
  /** Safe to send again after a lost connection (default true). */
  retry?: boolean;
}

interface Command {
  seq: number;
  event: string;
  payload: unknown | ((delayed: boolean) => unknown);
  lane?: string;
  retry: boolean;
  /** Created while not connected, or sent before: the payload factory may want to know. */
  delayed: boolean;
  tries: number;
  resolve(value: unknown): void;
  reject(error: SwitchboardError): void;
}

/** Something restored after every reconnect. */
export interface Restorable {
  restore(): Promise<unknown>;
}

/** Handshake refusals that no retry can fix. */
const TERMINAL = ["UNAUTHORIZED", "VALIDATION_FAILED"];
const SLOW = ["DEVICE_LIMIT", "SERVER_FULL"];
const DEVICE_KEY = "switchboard.deviceId";
/** How long before its token expires a session is refreshed (with getToken). */
const TOKEN_REFRESH_LEAD_MS = 60_000;

const unref = (timer: ReturnType<typeof setTimeout>) => (timer as { unref?: () => void }).unref?.();

export class Client extends Emitter<ClientEvents> {
  state: ConnectionState = "offline";
  /** The code of the last failed connect (cleared on success). */
  lastError?: string;
  /** The last round trip of a heartbeat, in ms. */
  latency?: number;
  session?: Session;
  deviceId?: string;

  readonly presence: Presence;
  readonly notifications: Notifications;

  /** @internal */ readonly subs = new Set<Restorable>();
  private readonly rooms = new Map<string, Room>();
  private readonly docs = new Map<string, SyncDoc>();
  private readonly workspaces = new Map<string, Workspace>();
  private readonly agents = new Map<string, Agent>();

  private readonly urls: (string | undefined)[];
  private urlIndex = 0;
  private token?: string;
  private socket?: Socket;
  /** The socket's session arrived: commands may be sent on it. */
  private live = false;
  /** Subscriptions restored: the queue may be flushed. */
  private ready = false;
  /** Flushing the offline queue: one command at a time, in order. */
  private flushing = false;
  private queue: Command[] = [];
  private inflight: Command[] = [];
  private waiting: (() => Promise<void>)[] = [];
  private seq = 0;
  private attempt = 0;
  private failures: number[] = [];
  private halfOpen = false;
  private everConnected = false;
  private connectedAt = 0;
  private manualOffline = true;
  private closed = false;
  private generation = 0;
  private timer?: ReturnType<typeof setTimeout>;
  private refreshTimer?: ReturnType<typeof setTimeout>;
  private heartbeat?: ReturnType<typeof setInterval>;
  private readonly onOnline = () => this.state === "offline" && !this.manualOffline && this.retryNow();

  constructor(
    private readonly io: IoFactory,
    private readonly options: ClientOptions,
  ) {
    super();
    const url = options.url;
    this.urls = url === undefined ? [undefined] : typeof url === "string" ? [url] : [...url];
    if (this.urls.length === 0) throw new SwitchboardError("VALIDATION_FAILED", "url: give at least one node URL");
    this.token = options.token;
    const storage = options.storage === undefined ? (globalThis as { localStorage?: StorageLike }).localStorage : options.storage;
    this.deviceId = options.deviceId;
    if (!this.deviceId && storage) {
      try {
        this.deviceId = storage.getItem(DEVICE_KEY) ?? undefined;
        if (!this.deviceId) storage.setItem(DEVICE_KEY, (this.deviceId = "web-" + randomId()));
      } catch {
        // storage refused (private mode): the server makes an id, kept while the client lives
      }
    }
    this.presence = new Presence(this);
    this.notifications = new Notifications(this, options.autoAck ?? true);
    (globalThis as { addEventListener?: (event: string, fn: () => void) => void }).addEventListener?.("online", this.onOnline);
    if (options.autoConnect ?? true) this.connect();
  }

  /** A room of this tenant; the same object for the same id. */
  room(id: string): Room {
    return getOrAdd(this.rooms, id, () => new Room(this, id));
  }

  /** The user's synced document `key`: pulled at once and after every reconnect, pushed on change. */
  sync(key: string): SyncDoc {
    return getOrAdd(this.docs, key, () => new SyncDoc(this, key));
  }

  workspace(id: string): Workspace {
    return getOrAdd(this.workspaces, id, () => new Workspace(this, id));
  }

  agent(id: string): Agent {
    return getOrAdd(this.agents, id, () => new Agent(this, id));
  }

  /** Creates a room (`room:create`); join it with `room(id).join()`. */
  async createRoom(payload: CommandPayload<"room:create">): Promise<CommandResult<"room:create">["room"]> {
    return (await this.request("room:create", payload, { retry: false })).room;
  }

  /** Commands waiting for a connection. */
  get queued(): number {
    return this.queue.length;
  }

  /** Starts connecting (again) after `disconnect()`, or when created with autoConnect false. */
  connect(): void {
    if (this.closed || !this.manualOffline) return;
    this.manualOffline = false;
    this.open();
  }

  /** Closes the connection and stops reconnecting; commands queue until `connect()`. */
  disconnect(): void {
    this.manualOffline = true;
    this.drop("io client disconnect");
    this.setState("offline");
  }

  /** Disconnects for good: every queued or unanswered command fails with CLOSED. */
  close(): void {
    this.disconnect();
    this.closed = true;
    (globalThis as { removeEventListener?: (event: string, fn: () => void) => void }).removeEventListener?.("online", this.onOnline);
    const error = new SwitchboardError("CLOSED", "the client was closed");
    for (const command of this.queue.splice(0)) command.reject(error);
    for (const run of this.waiting.splice(0)) void run();
  }

  /** Replaces the token for the next connect (e.g. after UNAUTHORIZED). */
  setToken(token: string): void {
    this.token = token;
  }

  /**
   * Hands the live session a newer token of the same user (`session:refresh`), so it outlives the
   * token it connected with; the next connect uses it too. Resolves with the new expiry (ms since
   * the epoch), or undefined when not connected (the token waits for the next connect). With
   * `getToken`, the client does this by itself shortly before the session's token expires.
   */
  async refreshToken(token: string): Promise<number | undefined> {
    this.token = token;
    if (!this.live) return undefined;
    return (await this.call("session:refresh", { token })).expiresAt;
  }

  /** Connects now: closes an open breaker and skips a back-off wait. */
  retryNow(): void {
    if (this.closed) return;
    if (this.options.getToken && (this.lastError === "UNAUTHORIZED" || this.lastError === "TOKEN_EXPIRED")) this.token = undefined;
    this.failures = [];
    this.attempt = 0;
    this.halfOpen = false;
    this.manualOffline = false;
    if (!this.live) this.open();
  }

  /**
   * Sends a command and resolves with its answer, or rejects with a SwitchboardError. While
   * disconnected it waits in the queue and is sent in order after the next reconnect; a command
   * sent and left unanswered by a lost connection is sent again (unless `retry: false`).
   */
  request<E extends CommandName>(event: E, payload: CommandPayload<E> | ((delayed: boolean) => CommandPayload<E>), options: RequestOptions = {}): Promise<CommandResult<E>> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new SwitchboardError("CLOSED", "the client was closed"));
      const command: Command = {
        seq: ++this.seq,
        event,
        payload,
        lane: options.lane,
        retry: options.retry ?? true,
        delayed: !this.ready,
        tries: 0,
        resolve: resolve as (value: unknown) => void,
        reject,
      };
      this.queue.push(command);
      if (!this.ready) this.trimQueue();
      this.drain();
    });
  }

  /**
   * Sends a command on the live connection now, outside the queue (restores and subscriptions
   * use it). Rejects with DISCONNECTED when there is none or it is lost before the answer.
   * @internal
   */
  call<E extends CommandName>(event: E, payload: CommandPayload<E>): Promise<CommandResult<E>> {
    const socket = this.socket;
    if (!socket || !this.live) return Promise.reject(new SwitchboardError("DISCONNECTED", "not connected"));
    return new Promise((resolve, reject) => {
      const attempt = (tries: number) =>
        this.emitWithAck(socket, event, payload, (error, ack) => {
          if (error) {
            // No answer in time: the connection is taken as broken (the task runs again after the reconnect).
            if (error.code === "TIMEOUT" && socket === this.socket) this.lost("ack timeout");
            return reject(lost());
          }
          if (ack!.ok) return resolve(ack as CommandResult<E>);
          const retryAfter = rateLimited(ack!, tries);
          if (retryAfter !== undefined) return void setTimeout(() => (socket === this.socket ? attempt(tries + 1) : reject(lost())), retryAfter);
          reject(new SwitchboardError(ack!.error.code, ack!.error.message, ack!.error.details));
        });
      attempt(0);
    });
  }

  /**
   * Runs `task` on the live connection now, or once connected; a task cut off by a lost connection
   * runs again after the next reconnect. Protocol errors reject.
   * @internal
   */
  whenLive<T>(task: () => Promise<T>): Promise<T> {
    return new Promise((resolve, reject) => {
      const run = (): Promise<void> =>
        task().then(resolve, (err: SwitchboardError) => {
          if (err.code === "DISCONNECTED" && !this.closed) this.waiting.push(run);
          else reject(err);
        });
      if (this.live) void run();
      else if (this.closed) reject(new SwitchboardError("CLOSED", "the client was closed"));
      else this.waiting.push(run);
    });
  }

  /** @internal */
  report(error: unknown): void {
    if (error instanceof SwitchboardError && error.code !== "DISCONNECTED") this.emit("error", error);
  }

  // ---- connection ----------------------------------------------------------------------------

  private setState(state: ConnectionState, code?: string): void {
    if (this.state === state && state !== "failed") return;
    this.state = state;
    this.emit("state", state, code);
    if (state === "connected") this.emit("connected", this.session!);
    else if (state === "failed") this.emit("failed", code!);
    else if (state === "reconnecting") this.emit("reconnecting", code);
    else if (state === "connecting") this.emit("connecting");
    else this.emit("offline");
  }

  private async open(): Promise<void> {
    clearTimeout(this.timer);
    if (this.closed || this.manualOffline) return;
    this.drop("reconnect");
    const generation = ++this.generation;
    this.setState(this.everConnected ? "reconnecting" : "connecting", this.lastError);
    if (!this.token && this.options.getToken) {
      try {
        this.token = await this.options.getToken();
      } catch {
        if (generation === this.generation) this.failed("TOKEN_ERROR");
        return;
      }
      if (generation !== this.generation) return;
    }
    const auth: Record<string, string> = {};
    if (this.token) auth.token = this.token;
    if (this.deviceId) auth.deviceId = this.deviceId;
    const timeout = this.options.connectTimeoutMs ?? 10000;
    const socket = this.io(this.urls[this.urlIndex], {
      ...this.options.socketOptions,
      auth,
      path: this.options.path,
      transports: this.options.transports ?? ["websocket", "polling"],
      reconnection: false,
      forceNew: true,
      timeout,
    });
    this.socket = socket;
    // A connect that neither fails nor yields a session in time counts as failed.
    const guard = setTimeout(() => socket === this.socket && !this.live && this.failed("TIMEOUT"), timeout + 1000);
    unref(guard);
    socket.on("session", (session: Session) => {
      clearTimeout(guard);
      if (socket === this.socket) void this.onSession(socket, session);
    });
    socket.on("connect_error", (err: Error & { data?: { code?: string } }) => {
      clearTimeout(guard);
      if (socket !== this.socket) return;
      const code = err.data?.code ?? (err.message === "timeout" ? "TIMEOUT" : "NETWORK");
      if (code === "TOKEN_EXPIRED" && this.options.getToken) this.token = undefined;
      this.failed(code);
    });
    // The server ends a session whose token expired: the reconnect asks getToken for a new one.
    socket.on("session:expired", () => {
      if (socket === this.socket && this.options.getToken) this.token = undefined;
    });
    socket.on("disconnect", (reason: string) => {
      clearTimeout(guard);
      if (socket === this.socket) this.lost(reason);
    });
    socket.onAny((event: string, ...args: unknown[]) => socket === this.socket && this.dispatch(event, args));
  }

  /** A connect failed with `code`: back off, rotate, or open the breaker. */
  private failed(code: string): void {
    this.drop("failed");
    this.lastError = code;
    if (this.closed || this.manualOffline) return;
    if (TERMINAL.includes(code) || (code === "TOKEN_EXPIRED" && !this.options.getToken)) return this.trip(code, false);
    const now = Date.now();
    const { threshold = 8, windowMs = 60000, cooldownMs = 30000 } = this.options.breaker ?? {};
    this.failures = this.failures.filter((t) => now - t < windowMs);
    this.failures.push(now);
    if (this.halfOpen || this.failures.length >= threshold) return this.trip(code, true, cooldownMs);
    this.setState(this.everConnected ? "reconnecting" : "connecting", code);
    this.urlIndex = (this.urlIndex + 1) % this.urls.length;
    // A refreshed token is tried at once; everything else backs off.
    this.schedule(code === "TOKEN_EXPIRED" ? 0 : this.delay(this.attempt++, SLOW.includes(code)));
  }

  private trip(code: string, cooldown: boolean, cooldownMs = 0): void {
    this.halfOpen = false;
    this.setState("failed", code);
    if (cooldown) {
      this.timer = setTimeout(() => {
        this.halfOpen = true;
        this.attempt = 0;
        void this.open();
      }, cooldownMs);
      unref(this.timer);
    }
  }

  private delay(attempt: number, slow: boolean): number {
    const { minDelayMs = 500, maxDelayMs = 30000, factor = 2, slowDelayMs = 10000 } = this.options.reconnect ?? {};
    return (slow ? slowDelayMs : 0) + Math.random() * Math.min(maxDelayMs, minDelayMs * factor ** attempt);
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    const online = (globalThis as { navigator?: { onLine?: boolean } }).navigator?.onLine;
    // A browser that knows it is offline waits for its `online` event instead.
    if (online === false) return this.setState("offline");
    this.timer = setTimeout(() => void this.open(), delayMs);
    unref(this.timer);
  }

  private async onSession(socket: Socket, session: Session): Promise<void> {
    this.session = session;
    this.deviceId = session.deviceId;
    this.live = true;
    this.everConnected = true;
    this.connectedAt = Date.now();
    this.failures = [];
    this.halfOpen = false;
    this.lastError = undefined;
    this.emit("session", session);
    this.startHeartbeat();
    this.scheduleRefresh(socket, session.expiresAt);
    // Subscriptions first (and what waited for a connection), then the queue: a publish queued
    // after a join goes out once the room is joined again.
    const tasks: Promise<unknown>[] = [...this.subs].map((sub) => sub.restore().catch((err: unknown) => this.report(err)));
    await Promise.all([...tasks, ...this.waiting.splice(0).map((run) => run())]);
    if (socket !== this.socket) return;
    this.ready = true;
    this.flushing = true;
    this.setState("connected");
    this.drain();
  }

  /** With `getToken`: a fresh token for the session a little before the current one expires. */
  private scheduleRefresh(socket: Socket, expiresAt: number | undefined): void {
    clearTimeout(this.refreshTimer);
    const getToken = this.options.getToken;
    if (!getToken || expiresAt === undefined) return;
    const lead = Math.min(TOKEN_REFRESH_LEAD_MS, (expiresAt - Date.now()) / 2);
    this.refreshTimer = setTimeout(() => {
      if (socket !== this.socket || !this.live) return;
      void Promise.resolve(getToken())
        .then((token) => this.refreshToken(token))
        .then((next) => next !== undefined && this.scheduleRefresh(socket, next))
        .catch((err: unknown) => this.report(err));
    }, Math.max(0, expiresAt - Date.now() - lead));
    unref(this.refreshTimer);
  }

  /** The live connection went away: requeue what was unanswered, then reconnect. */
  private lost(reason: string): void {
    this.drop(reason);
    this.emit("disconnect", reason);
    if (this.closed || this.manualOffline) return;
    // A connection that lasted starts the back-off over; one that keeps dropping at once does not.
    if (Date.now() - this.connectedAt > 10000) this.attempt = 0;
    this.urlIndex = (this.urlIndex + 1) % this.urls.length;
    this.setState("reconnecting", reason);
    this.schedule(this.delay(this.attempt++, false));
  }

  /** Forgets the current socket (closing it) and everything sent on it. */
  private drop(_reason: string): void {
    clearTimeout(this.refreshTimer);
    const socket = this.socket;
    this.socket = undefined;
    this.generation++;
    this.live = false;
    this.ready = false;
    this.flushing = false;
    clearInterval(this.heartbeat);
    if (socket) {
      socket.removeAllListeners();
      socket.offAny();
      socket.disconnect();
    }
    for (const room of this.rooms.values()) room.pause();
    for (const command of this.inflight.splice(0)) this.settleLost(command);
  }

  private settleLost(command: Command): void {
    if (command.retry && !this.closed) {
      command.delayed = true;
      this.queue.push(command);
      this.queue.sort((a, b) => a.seq - b.seq);
    } else {
      command.reject(new SwitchboardError(this.closed ? "CLOSED" : "DISCONNECTED", `${command.event}: the connection was lost before the answer`));
    }
  }

  private startHeartbeat(): void {
    const every = this.options.heartbeatIntervalMs ?? 10000;
    const beat = () => {
      const started = Date.now();
      this.call("system:ping", { clientTime: started }).then(
        () => {
          this.latency = Date.now() - started;
          this.emit("latency", this.latency);
        },
        () => undefined,
      );
    };
    beat();
    if (every > 0) {
      this.heartbeat = setInterval(beat, every);
      unref(this.heartbeat);
    }
  }

  // ---- queue ---------------------------------------------------------------------------------

  private trimQueue(): void {
    const max = this.options.queue?.maxSize ?? 100;
    while (this.queue.length > max) {
      const command = this.queue.shift()!;
      const error = new SwitchboardError("QUEUE_OVERFLOW", `${command.event}: dropped from the full offline queue (${max})`);
      command.reject(error);
      this.emit("dropped", { event: command.event, payload: typeof command.payload === "function" ? undefined : command.payload }, error);
    }
  }

  /**
   * Sends what may go now. After a reconnect the queue is flushed one command at a time, in
   * order; afterwards commands go at once, except that a lane has one command in flight at most.
   */
  private drain(): void {
    if (!this.ready) return;
    if (this.flushing) {
      if (this.inflight.length === 0 && this.queue.length > 0) this.send(this.queue.shift()!);
      if (this.queue.length === 0) this.flushing = this.inflight.length > 0;
      return;
    }
    const busy = new Set(this.inflight.map((c) => c.lane));
    this.queue = this.queue.filter((command) => {
      if (command.lane !== undefined && busy.has(command.lane)) return true;
      busy.add(command.lane);
      this.send(command);
      return false;
    });
  }

  private send(command: Command): void {
    const socket = this.socket!;
    this.inflight.push(command);
    const payload = typeof command.payload === "function" ? (command.payload as (delayed: boolean) => unknown)(command.delayed) : command.payload;
    command.delayed = true;
    this.emitWithAck(socket, command.event, payload, (error, ack) => {
      const at = this.inflight.indexOf(command);
      if (socket !== this.socket || at < 0) return;
      if (error) {
        // No answer in time: the connection is taken as broken; retried after the reconnect.
        if (!command.retry) {
          this.inflight.splice(at, 1);
          command.reject(error);
        }
        return this.lost(error.code === "TIMEOUT" ? "ack timeout" : "transport close");
      }
      const retryAfter = rateLimited(ack!, command.tries++);
      if (retryAfter !== undefined) {
        // Stays in flight (holding its lane) until sent again on this connection.
        return void setTimeout(() => {
          const i = this.inflight.indexOf(command);
          if (socket === this.socket && i >= 0) {
            this.inflight.splice(i, 1);
            this.send(command);
          }
        }, retryAfter);
      }
      this.inflight.splice(at, 1);
      if (ack!.ok) command.resolve(ack);
      else command.reject(new SwitchboardError(ack!.error.code, ack!.error.message, ack!.error.details));
      this.drain();
    });
  }

  private emitWithAck(socket: Socket, event: string, payload: unknown, done: (error: SwitchboardError | undefined, ack?: Ack<object>) => void): void {
    socket.timeout(this.options.ackTimeoutMs ?? 15000).emit(event, payload, (err: Error | null, ack: Ack<object>) => {
      if (!err) return done(undefined, ack);
      done(socket.connected ? new SwitchboardError("TIMEOUT", `${event}: no answer in time`) : lost());
    });
  }

  // ---- server events -------------------------------------------------------------------------

  /**
   * The node's subscription came back: what has no position to show a gap is read again. The store
   * may still be coming back too: a read refused UNAVAILABLE is tried again (at most 5 times).
   */
  private resync(): void {
    const socket = this.socket;
    const again = (read: () => Promise<unknown>, tries = 0): Promise<unknown> =>
      read().catch((err: unknown) => {
        if (!(err instanceof SwitchboardError && err.code === "UNAVAILABLE") || tries >= 4 || socket !== this.socket) throw err;
        return new Promise((resolve) => unref(setTimeout(resolve, 250 * 2 ** tries))).then(() => again(read, tries + 1));
      });
    const reads = [() => this.notifications.catchUp(), ...[...this.docs.values()].map((doc) => () => doc.restore())];
    for (const read of reads) again(read).catch((err: unknown) => this.report(err));
  }

  private dispatch(event: string, args: unknown[]): void {
    const first = (args[0] ?? {}) as Record<string, string>;
    const [scope, name] = event.split(":") as [string, string | undefined];
    if (event === "room:message" || event === "room:position") this.rooms.get(first.room!)?.receive(first as never);
    else if (scope === "room" || event === "message:receipt") this.rooms.get(first.room!)?.forward(name ?? "receipt", first);
    else if (event === "presence:update") this.presence.receive(first as never);
    else if (event === "sync:state") this.docs.get(first.key!)?.receive(first as never);
    else if (event === "notification") this.notifications.receive(first as never);
    else if (event === "session:resync") this.resync();
    else if (scope === "workspace") this.workspaces.get(first.workspaceId!)?.forward(name!, first);
    else if (scope === "agent") this.agents.get(first.agentId!)?.forward(name!, first);
    else if (event !== "command:error" && event !== "session") this.emit("event", event, ...args);
  }
}

function lost(): SwitchboardError {
  return new SwitchboardError("DISCONNECTED", "the connection was lost before the answer");
}

/** The wait before sending again a command refused with RATE_LIMITED (at most 10 times). */
function rateLimited(ack: Ack<object>, tries: number): number | undefined {
  if (ack.ok || ack.error.code !== "RATE_LIMITED" || tries >= 10) return undefined;
  return Math.max(50, (ack.error.details as { retryAfterMs?: number } | undefined)?.retryAfterMs ?? 1000);
}

function getOrAdd<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) map.set(key, (value = make()));
  return value;
}
