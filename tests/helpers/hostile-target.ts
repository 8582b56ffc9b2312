/**
 * A node under hostile fire: a child-process node (so a crash or a blocked event loop cannot take
 * the test runner with it) on a shared redis-server, the hostile clients that talk to it, and the
 * contract every answer must keep:
 *
 * - a socket ack is `{ ok: true, … }` or `{ ok: false, error: { code, message } }` with a code of
 *   ERROR_CODES other than INTERNAL; `command:error` events carry such an error;
 * - a REST answer of status >= 400 is JSON `{ error: { code, message } }` with
 *   HTTP_STATUS[code] === status, and no answer is INTERNAL or 500;
 * - a refusal is brief (REFUSAL_BYTES_MAX), whatever the payload it refuses;
 * - the node answers every command and request within a few seconds, and after each batch it is
 *   alive, answers /health within 1 s, its event loop lag stayed below 100 ms, it logged no
 *   errors, and well-behaved clients still create and join a room and exchange a message.
 */
import { request } from "node:http";
import { ERROR_CODES, HTTP_STATUS, type ErrorCode } from "@switchboard/shared";
import { command, connect, nextEvent, type AckResult, type Client } from "./clients";
import { build, depthOf, hasBinary, jsonText, wireBytes, type Spec } from "./hostile-payloads";
import { describeSend, type Identity, type RawSend, type RestSend, type Send, type SocketSend } from "./hostile-sends";
import { metricValue } from "./metrics";
import { NodeProcess } from "./nodes";
import { sleep } from "./ports";
import { serviceToken, signToken } from "./tokens";

export const ACK_TIMEOUT_MS = 3000;
export const HEALTH_TIMEOUT_MS = 1000;
export const MAX_LAG_S = 0.1;

export interface Violation {
  send?: string;
  problem: string;
  /** The lag a lag violation measured, in seconds. */
  lagS?: number;
}

/** Ids of what the fixture creates, and strings the generators use for string fields. */
export const FIXTURE = {
  room: "hostile-room",
  workspace: "hostile-ws",
  agent: "hostile-agent",
  textDoc: "room:hostile-room/t",
  jsonDoc: "room:hostile-room/j",
  workspaceDoc: "workspace:hostile-ws/f",
  missingDoc: "room:missing-room/x",
} as const;

export function knownStrings(hostileUser: string): string[] {
  return [...Object.values(FIXTURE), "missing-room", hostileUser, `${hostileUser}-2`, "svc", "good-1-a", "lb-1", "stream-1", "0-0", "1-0", "webpush", "text", "json"];
}

const isErrorCode = (code: unknown): code is ErrorCode => typeof code === "string" && (ERROR_CODES as readonly string[]).includes(code);

/** What is wrong with an error body, or undefined. */
export function errorBodyProblem(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return `error is ${JSON.stringify(error)}, not an object`;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (!isErrorCode(code)) return `error code ${JSON.stringify(code)} is not one of ERROR_CODES`;
  if (code === "INTERNAL") return `INTERNAL: ${String(message)}`;
  if (typeof message !== "string" || message.length === 0) return `error ${code} has no message`;
  return undefined;
}

/** What is wrong with the arguments an ack callback received, or undefined. */
export function ackProblem(responses: unknown[]): string | undefined {
  if (responses.length !== 1) return `the ack had ${responses.length} arguments`;
  const ack = responses[0] as { ok?: unknown; error?: unknown } | null;
  if (typeof ack !== "object" || ack === null) return `the ack is ${JSON.stringify(ack)}`;
  if (ack.ok === true) return undefined;
  if (ack.ok !== false) return `the ack has ok=${JSON.stringify(ack.ok)}`;
  return errorBodyProblem(ack.error) ?? refusalSizeProblem(JSON.stringify(ack));
}

/** A refusal is brief: it does not echo a problem for every entry of a junk payload back. */
export const REFUSAL_BYTES_MAX = 16 * 1024;

function refusalSizeProblem(text: string): string | undefined {
  const bytes = Buffer.byteLength(text);
  return bytes > REFUSAL_BYTES_MAX ? `the refusal is ${bytes} bytes (limit ${REFUSAL_BYTES_MAX}): ${text.slice(0, 160)}…` : undefined;
}

export interface RestReply {
  status: number;
  contentType: string;
  text: string;
  ms: number;
}

export function restProblem(method: string, reply: RestReply): string | undefined {
  if (reply.status === 500) return `500: ${reply.text.slice(0, 300)}`;
  if (reply.status < 400 || method === "head") return undefined;
  if (!reply.contentType.startsWith("application/json")) return `status ${reply.status} with content-type ${JSON.stringify(reply.contentType)}: ${reply.text.slice(0, 200)}`;
  let body: { error?: { code?: unknown } };
  try {
    body = JSON.parse(reply.text) as typeof body;
  } catch {
    return `status ${reply.status} with a body that is not JSON: ${reply.text.slice(0, 200)}`;
  }
  const problem = errorBodyProblem(body.error);
  if (problem) return `status ${reply.status}: ${problem}`;
  const code = body.error!.code as ErrorCode;
  if (HTTP_STATUS[code] !== reply.status) return `status ${reply.status} with code ${code} (HTTP_STATUS says ${HTTP_STATUS[code]})`;
  return refusalSizeProblem(reply.text);
}

type AckOutcome = { responses: unknown[]; ms: number } | { failure: "timeout" | "disconnected"; ms: number };

/** Emits with an ack; any event name (numbers included), any arguments. */
function emitWithAck(socket: Client, event: string | number, args: unknown[], timeoutMs: number): Promise<AckOutcome> {
  const started = performance.now();
  return new Promise((resolve) => {
    const timed = socket.timeout(timeoutMs);
    (timed.emit as unknown as (...rest: unknown[]) => void).call(timed, event, ...args, (err: Error | null, ...responses: unknown[]) => {
      const ms = performance.now() - started;
      if (err) resolve({ failure: socket.connected && /timed out/.test(err.message) ? "timeout" : "disconnected", ms });
      else resolve({ responses, ms });
    });
  });
}

let rawAckId = 1_000_000;

/**
 * Emits an event whose arguments are JSON text, written as a Socket.IO packet: the way to send a
 * nesting deeper than the client library's JSON.stringify manages. The ack is picked up from
 * the manager's packets (its id is far above the ones the library hands out).
 */
function emitJson(socket: Client, event: string | number, argTexts: string[], ack: boolean, timeoutMs: number): Promise<AckOutcome> | undefined {
  const id = ack ? ++rawAckId : undefined;
  const packet = `2${id ?? ""}[${[JSON.stringify(event) ?? "null", ...argTexts].join(",")}]`;
  if (id === undefined) {
    socket.io.engine.send(packet);
    return undefined;
  }
  const started = performance.now();
  return new Promise((resolve) => {
    const done = (outcome: { responses: unknown[] } | { failure: "timeout" | "disconnected" }) => {
      clearTimeout(timer);
      socket.io.off("packet", onPacket);
      socket.off("disconnect", onDisconnect);
      resolve({ ...outcome, ms: performance.now() - started });
    };
    const onPacket = (p: { type: number; id?: number; data?: unknown[] }) => {
      if (p.type === 3 && p.id === id) done({ responses: p.data ?? [] });
    };
    const onDisconnect = () => done({ failure: "disconnected" });
    const timer = setTimeout(() => done({ failure: socket.connected ? "timeout" : "disconnected" }), timeoutMs);
    socket.io.on("packet", onPacket);
    socket.on("disconnect", onDisconnect);
    socket.io.engine.send(packet);
  });
}

/**
 * Emits `specs` as the arguments of `event`: through the client library (binary attachments
 * included), or as JSON text when they nest too deep for it. Answers the ack's outcome, or
 * undefined without an ack; `bytes` is the message's size.
 */
export function emitSpecs(socket: Client, event: string | number, specs: Spec[], ack: boolean, timeoutMs = ACK_TIMEOUT_MS): { bytes: number; outcome?: Promise<AckOutcome> } {
  if (!specs.some(hasBinary) && specs.some((spec) => depthOf(spec) > 1000)) {
    const texts = specs.map(jsonText);
    return { bytes: texts.reduce((n, t) => n + Buffer.byteLength(t), 0), outcome: emitJson(socket, event, texts, ack, timeoutMs) };
  }
  const args = specs.map(build);
  const bytes = specs.reduce((n, spec) => n + wireBytes(spec), 0);
  if (!ack) {
    (socket.emit as unknown as (...rest: unknown[]) => void)(event, ...args);
    return { bytes };
  }
  return { bytes, outcome: emitWithAck(socket, event, args, timeoutMs) };
}

/** One raw HTTP request (no URL normalisation: `..` and encoded slashes arrive as sent). */
export function rawRequest(port: number, options: { method: string; path: string; headers?: Record<string, string>; body?: string | Buffer; timeoutMs?: number }): Promise<RestReply> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    // Every body framed by its length (Node sends a GET's body unframed otherwise), one connection a request.
    const headers = { ...options.headers, ...(options.body === undefined ? {} : { "content-length": String(Buffer.byteLength(options.body)) }) };
    const req = request({ host: "127.0.0.1", port, method: options.method.toUpperCase(), path: options.path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers["content-type"] ?? ""), text: Buffer.concat(chunks).toString("utf8"), ms: performance.now() - started }));
      res.on("error", reject);
    });
    req.setTimeout(options.timeoutMs ?? ACK_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${options.timeoutMs ?? ACK_TIMEOUT_MS} ms`)));
    req.on("error", reject);
    req.end(options.body);
  });
}

export interface TargetOptions {
  redisUrl: string;
  /** Extra node environment (rate limits…). */
  env?: Record<string, string>;
  /** The hostile user's id (its own rate-limit budget). */
  hostileUser: string;
  /** The tenant of every token (targets sharing a Redis keep their fixtures apart). */
  tenant: string;
}

export class HostileTarget {
  node!: NodeProcess;
  /** Violations of `command:error` events, which arrive outside any one send. */
  private readonly eventProblems: Violation[] = [];
  private readonly sockets = new Map<Identity, Client>();
  /** Why each hostile socket was disconnected, for the report. */
  private readonly closeReasons = new WeakMap<Client, string>();
  private devices = 0;
  private goodPairs = 0;
  private tokens!: { user: string; other: string; service: string; expired: string };
  /** `command:error` events the current hostile sockets received. */
  private errorEvents = 0;

  private constructor(private readonly options: TargetOptions) {}

  static async start(options: TargetOptions): Promise<HostileTarget> {
    const target = new HostileTarget(options);
    target.tokens = {
      user: await signToken({ sub: options.hostileUser, tenant: options.tenant }),
      other: await signToken({ sub: `${options.hostileUser}-2`, tenant: options.tenant }),
      service: await serviceToken({ tenant: options.tenant }),
      expired: await signToken({ sub: options.hostileUser, tenant: options.tenant, expiresIn: -60 }),
    };
    await target.spawn();
    return target;
  }

  get url(): string {
    return this.node.url;
  }

  get hostileUser(): string {
    return this.options.hostileUser;
  }

  private async spawn(): Promise<void> {
    this.node = await NodeProcess.spawn({
      REDIS_URL: this.options.redisUrl,
      LOG_LEVEL: "info",
      // Reconnects take a fresh device each time: the device limits are not what is fuzzed.
      MAX_DEVICES_PER_USER: "1000",
      ...this.options.env,
    });
    await this.fixtures();
  }

  /** A room, a workspace and an agent the hostile user belongs to, so commands get past "not found". */
  private async fixtures(): Promise<void> {
    const asService = (path: string, body: object) =>
      rawRequest(this.node.port, { method: "post", path, headers: { authorization: `Bearer ${this.tokens.service}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    const user = this.options.hostileUser;
    for (const [path, body] of [
      ["/v1/rooms", { id: FIXTURE.room, name: "hostile", members: [user] }],
      ["/v1/workspaces", { id: FIXTURE.workspace, name: "hostile", members: [user] }],
      ["/v1/agents", { id: FIXTURE.agent, workspaceId: FIXTURE.workspace, ownerId: user }],
    ] as const) {
      const reply = await asService(path, body);
      // 409: left over from an earlier node on the same Redis.
      if (reply.status >= 400 && reply.status !== 409) throw new Error(`fixture ${path}: ${reply.status} ${reply.text}`);
    }
  }

  /** True when the process runs and answers /health within 1 s. */
  async healthy(): Promise<boolean> {
    if (this.node.child.exitCode !== null || this.node.child.signalCode !== null) return false;
    try {
      return (await rawRequest(this.node.port, { method: "get", path: "/health", timeoutMs: HEALTH_TIMEOUT_MS })).status === 200;
    } catch {
      return false;
    }
  }

  /** Replaces a dead or hung node with a fresh one (after a failure, so later tests still run). */
  async ensureHealthy(): Promise<void> {
    if (await this.healthy()) return;
    this.dropSockets();
    await this.node.kill("SIGKILL");
    await this.spawn();
  }

  async stop(): Promise<void> {
    this.dropSockets();
    await this.node.kill("SIGTERM");
  }

  private dropSockets(): void {
    for (const socket of this.sockets.values()) socket.close();
    this.sockets.clear();
  }

  /** A connected hostile socket of `who`: the current one, or a fresh one with the fixtures opened. */
  async socket(who: Identity): Promise<Client> {
    const current = this.sockets.get(who);
    if (current?.connected) return current;
    current?.close();
    const socket = await connect(this.url, { token: this.tokens[who], deviceId: `hostile-${who}-${++this.devices}` });
    socket.on("command:error", (event: { event?: unknown; error?: unknown }) => {
      this.errorEvents++;
      const problem = typeof event === "object" && event !== null ? errorBodyProblem(event.error) : `command:error carried ${JSON.stringify(event)}`;
      if (problem) this.eventProblems.push({ send: `command:error for ${JSON.stringify(event?.event)}`, problem });
    });
    socket.on("disconnect", (reason: string, description?: unknown) => {
      const detail = description instanceof Error ? description.message : (description as { description?: { message?: string } } | undefined)?.description?.message;
      this.closeReasons.set(socket, `${reason}${detail ? ` (${detail})` : ""}`);
    });
    socket.on("session:expired", () => this.closeReasons.set(socket, "session:expired"));
    this.sockets.set(who, socket);
    // Joined and opened, so that room, document and workspace commands reach their services.
    for (const [name, payload] of [
      ["room:join", { room: FIXTURE.room }],
      ["workspace:join", { workspaceId: FIXTURE.workspace }],
      ["doc:open", { docId: FIXTURE.textDoc, type: "text" }],
      ["doc:open", { docId: FIXTURE.jsonDoc, type: "json" }],
      ["doc:open", { docId: FIXTURE.workspaceDoc, type: "text" }],
    ] as const) {
      const outcome = await emitWithAck(socket, name, [payload], ACK_TIMEOUT_MS);
      const problem = "failure" in outcome ? `no answer (${outcome.failure})` : ackProblem(outcome.responses);
      if (problem) this.eventProblems.push({ send: `setup ${name} ${JSON.stringify(payload)}`, problem });
    }
    return socket;
  }

  /** Sends one hostile message; answers what broke the contract. */
  async send(send: Send): Promise<Violation[]> {
    try {
      switch (send.via) {
        case "socket":
          return await this.sendSocket(send);
        case "raw":
          return await this.sendRaw(send);
        case "rest":
          return await this.sendRest(send);
      }
    } catch (err) {
      return [{ send: describeSend(send), problem: `could not be sent: ${err instanceof Error ? err.message : String(err)}` }];
    }
  }

  private async sendSocket(send: SocketSend): Promise<Violation[]> {
    const socket = await this.socket(send.who);
    const event = send.event.t === "number" ? send.event.n : send.event.name;
    const described = describeSend(send);
    const eventsBefore = this.errorEvents;
    const { bytes, outcome } = emitSpecs(socket, event, send.args, send.ack);
    // Beyond the transport's limit (twice MAX_MESSAGE_BYTES, as the node reads) or not JSON at
    // all, the connection may be closed without an answer.
    const mayClose = bytes > 2 * 65536 || (typeof event === "number" && !Number.isFinite(event));
    if (outcome) {
      const answer = await outcome;
      if ("failure" in answer) {
        if (answer.failure === "disconnected" && mayClose) return [];
        return [{ send: described, problem: answer.failure === "timeout" ? `no ack within ${ACK_TIMEOUT_MS} ms` : `the server closed the connection instead of answering: ${await this.closeReason(socket)}` }];
      }
      const problem = ackProblem(answer.responses);
      const ack = answer.responses[0] as { ok?: boolean; error?: { code?: string } } | undefined;
      this.tally(`socket ${send.event.t === "command" ? send.event.name : send.event.t}`, ack?.ok ? "ok" : String(ack?.error?.code));
      return problem ? [{ send: described, problem }] : [];
    }
    const barrier = await this.barrier(socket, described, mayClose);
    if (barrier.length > 0) return barrier;
    // An event nobody registered is always refused; without an ack the refusal is `command:error`.
    if (send.event.t !== "command" && !mayClose && this.errorEvents === eventsBefore) {
      return [{ send: described, problem: "no command:error for an unknown event sent without an ack" }];
    }
    return [];
  }

  private async sendRaw(send: RawSend): Promise<Violation[]> {
    const socket = await this.socket(send.who);
    socket.io.engine.send(send.packet);
    // Protocol violations may close the connection (some only a moment later); they must not do
    // anything worse. The next send takes a fresh socket.
    const found = await this.barrier(socket, describeSend(send), true);
    socket.close();
    this.sockets.delete(send.who);
    return found;
  }

  /** How often each command and route answered each outcome (FUZZ_STATS=1 prints it). */
  readonly outcomes = new Map<string, Map<string, number>>();

  private tally(what: string, outcome: string): void {
    const counts = this.outcomes.get(what) ?? new Map<string, number>();
    counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
    this.outcomes.set(what, counts);
  }

  /** The disconnect reason of a socket (it may arrive just after the failed ack). */
  private async closeReason(socket: Client): Promise<string> {
    for (let i = 0; i < 20 && !this.closeReasons.has(socket); i++) await sleep(10);
    return this.closeReasons.get(socket) ?? (socket.connected ? "still connected" : "no reason given");
  }

  /** A ping after a send without an ack: the connection still answers (or was closed, when allowed). */
  private async barrier(socket: Client, described: string, mayClose: boolean): Promise<Violation[]> {
    const outcome = await emitWithAck(socket, "system:ping", [{}], ACK_TIMEOUT_MS);
    if (!("failure" in outcome)) {
      const problem = ackProblem(outcome.responses);
      return problem ? [{ send: `system:ping after ${described}`, problem }] : [];
    }
    if (outcome.failure === "disconnected" && mayClose) return [];
    return [{ send: described, problem: outcome.failure === "timeout" ? `a ping after it got no ack within ${ACK_TIMEOUT_MS} ms` : `the server closed the connection: ${await this.closeReason(socket)}` }];
  }

  private async sendRest(send: RestSend): Promise<Violation[]> {
    const headers: Record<string, string> = {};
    const token = { none: undefined, user: this.tokens.user, service: this.tokens.service, garbage: "not.a.token", expired: this.tokens.expired }[send.auth];
    if (token) headers.authorization = `Bearer ${token}`;
    let body: string | Buffer | undefined;
    if (send.body?.kind === "text") body = send.body.text;
    else if (send.body?.kind === "json") body = jsonText(send.body.spec);
    if (body !== undefined && send.contentType) headers["content-type"] = send.contentType;
    // The request line stays within Node's header limit (16 kB): a longer one is refused by Node
    // itself, before the app sees it.
    const query = send.query ? `?${send.query}` : "";
    const path = (send.path + query).slice(0, 12000);
    const reply = await rawRequest(this.node.port, { method: send.method, path, headers, body }).catch((err: Error) => err);
    if (reply instanceof Error) return [{ send: describeSend(send), problem: reply.message }];
    // Socket.IO's own endpoint answers in engine.io's format ({ code, message }); only a 500 breaks it.
    this.tally(`${send.method.toUpperCase()} ${send.route ?? "(no route)"}`, String(reply.status));
    const problem = /^\/socket\.io\//.test(path) ? (reply.status >= 500 ? `${reply.status}: ${reply.text.slice(0, 200)}` : undefined) : restProblem(send.method, reply);
    return problem ? [{ send: describeSend(send), problem }] : [];
  }

  /** Starts a batch: resets the node's event-loop histogram (prom-client resets it per scrape). */
  async beginBatch(): Promise<number> {
    await this.scrape();
    return this.node.lines.length;
  }

  /** The longest event-loop stall since the last scrape (beginBatch), in ms. */
  async lagMs(): Promise<number> {
    return metricValue(await this.scrape(), "switchboard_nodejs_eventloop_lag_max_seconds") * 1000;
  }

  private async scrape(): Promise<string> {
    const reply = await rawRequest(this.node.port, { method: "get", path: "/metrics", timeoutMs: 2000 });
    if (reply.status !== 200) throw new Error(`/metrics answered ${reply.status}`);
    return reply.text;
  }

  /** Sends a batch in order; stops early when the node stops answering. */
  async runBatch(sends: Send[]): Promise<Violation[]> {
    const firstLine = await this.beginBatch();
    const violations: Violation[] = [];
    for (const send of sends) {
      const found = await this.send(send);
      violations.push(...found);
      if (found.some((v) => /within|closed|could not be sent|ECONNREFUSED|socket hang up/.test(v.problem)) && !(await this.healthy())) {
        violations.push({ send: describeSend(send), problem: "the node stopped answering /health after this" });
        return violations;
      }
    }
    const after = await this.afterBatch(firstLine);
    const lagged = after.find((v) => v.problem.startsWith("the event loop lagged"));
    if (!lagged) return [...violations, ...after];
    // Which sends block the loop? A lag just over the limit that no send reproduces is the
    // machine (two cores shared with the test runner and Redis), not the node.
    const culprits = await this.attributeLag(sends);
    const tolerated = culprits.length === 0 && (lagged.lagS ?? 0) < 2 * MAX_LAG_S;
    return [...violations, ...after.filter((v) => v !== lagged || !tolerated), ...culprits];
  }

  /** The batch once more, one send at a time with the lag read after each: the sends that block the loop. */
  private async attributeLag(sends: Send[]): Promise<Violation[]> {
    const culprits: Violation[] = [];
    if (!(await this.healthy())) return culprits;
    await this.scrape();
    for (const send of sends) {
      await this.send(send);
      const lag = metricValue(await this.scrape(), "switchboard_nodejs_eventloop_lag_max_seconds");
      if (lag >= MAX_LAG_S) culprits.push({ send: describeSend(send), problem: `replayed alone, the event loop lagged ${Math.round(lag * 1000)} ms` });
    }
    return culprits;
  }

  /** The invariants after a batch. */
  async afterBatch(firstLine: number): Promise<Violation[]> {
    const violations = this.eventProblems.splice(0);
    if (this.node.child.exitCode !== null || this.node.child.signalCode !== null) {
      return [...violations, { problem: `the node process exited (${this.node.child.exitCode ?? this.node.child.signalCode}): ${this.node.stderr.join("").slice(-500)}` }];
    }
    try {
      const health = await rawRequest(this.node.port, { method: "get", path: "/health", timeoutMs: HEALTH_TIMEOUT_MS });
      if (health.status !== 200) violations.push({ problem: `/health answered ${health.status}` });
      if (health.ms > HEALTH_TIMEOUT_MS) violations.push({ problem: `/health took ${Math.round(health.ms)} ms` });
    } catch (err) {
      return [...violations, { problem: `/health: ${(err as Error).message}` }];
    }
    const lag = metricValue(await this.scrape(), "switchboard_nodejs_eventloop_lag_max_seconds");
    if (!(lag < MAX_LAG_S)) violations.push({ problem: `the event loop lagged ${Math.round(lag * 1000)} ms during the batch (limit ${MAX_LAG_S * 1000} ms)`, lagS: lag });
    for (const line of this.node.lines.slice(firstLine)) {
      const entry = JSON.parse(line) as { level?: string; message?: string; error?: string; command?: string; route?: string };
      if (entry.level === "error") violations.push({ problem: `logged an error: ${entry.message} ${entry.command ?? entry.route ?? ""} ${String(entry.error ?? "").slice(0, 400)}` });
    }
    const good = await this.wellBehaved().catch((err: Error) => err.message);
    if (good) violations.push({ problem: `a well-behaved client failed: ${good}` });
    return violations;
  }

  /** Two fresh well-behaved users: one creates a room, both join, one publishes, the other receives it. */
  async wellBehaved(): Promise<string | undefined> {
    const pair = ++this.goodPairs;
    const step = async (what: string, socket: Client, event: string, payload: object): Promise<AckResult> => {
      const ack = await command(socket, event, payload, 2000).catch((err: Error) => ({ ok: false, error: { code: "NO_ANSWER", message: err.message } }) as AckResult);
      if (!ack.ok) throw new Error(`${what}: ${JSON.stringify(ack.error)}`);
      return ack;
    };
    const a = await connect(this.url, { tokenOptions: { sub: `good-${pair}-a`, tenant: this.options.tenant }, deviceId: "good" });
    const b = await connect(this.url, { tokenOptions: { sub: `good-${pair}-b`, tenant: this.options.tenant }, deviceId: "good" });
    try {
      const created = await step("room:create", a, "room:create", { name: `good ${pair}` });
      const room = (created.room as { id: string }).id;
      await step("room:join (creator)", a, "room:join", { room });
      await step("room:join (other)", b, "room:join", { room });
      const received = nextEvent<{ room: string; data: { pair: number } }>(b, "room:message", 2000);
      await step("room:publish", a, "room:publish", { room, data: { pair } });
      const message = await received;
      if (message.room !== room || message.data.pair !== pair) throw new Error(`received ${JSON.stringify(message)}`);
      return undefined;
    } finally {
      a.close();
      b.close();
    }
  }

  /** Lines the node wrote to stdout since `from`. */
  linesSince(from: number): string[] {
    return this.node.lines.slice(from);
  }
}

export function report(violations: Violation[]): string {
  const lines = violations.slice(0, 20).map((v) => `- ${v.send ? `${v.send}\n    ` : ""}${v.problem}`);
  if (violations.length > 20) lines.push(`… and ${violations.length - 20} more`);
  return lines.join("\n");
}
