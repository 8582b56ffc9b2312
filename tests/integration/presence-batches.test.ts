/**
 * The handshakes a node takes in one turn of its event loop acquire their devices with one run of
 * the acquire script (store/lua/presence/acquire-devices.lua), and the sockets that leave in one
 * turn give theirs back with one run of the release script (release-devices.lua), on a real
 * redis-server: each answered as if it had run alone, in the order they came (the device and
 * session limits hold within a run), split into runs of at most 64, and one user's broken keys
 * failing only that user's call. A turn's releases run before its acquires. On a Redis Cluster a
 * run holds one user's calls. A node process takes handshakes that reach it together, and lets go
 * of sockets that leave together, in a run per turn it reads them in; a node sweeping a dead
 * one, or starting where its previous process left sessions, releases their users in runs too.
 */
import { connect as tcpConnect, type Socket as TcpSocket } from "node:net";
import { Redis } from "ioredis";
import { Manager } from "socket.io-client";
import { keyLayout, type Session } from "@switchboard/shared";
import type { AcquireResult, DeviceSession, Engine, ReleaseResult, SwitchboardNode } from "@switchboard/server";
import { closeClients, connect, connectRefused } from "../helpers/clients";
import { openEngine, startBacking, type Backing } from "../helpers/engines";
import { NodeProcess, startNode } from "../helpers/nodes";
import { waitFor } from "../helpers/ports";
import { RedisServer } from "../helpers/redis";
import { signToken } from "../helpers/tokens";

const TENANT = "default";
const NODE = "batch-node";

/**
 * Counts the presence scripts' runs Redis executes, and the calls each carried, from MONITOR on a
 * plain TCP connection: every line after `+OK` is one command with its arguments quoted.
 */
class ScriptRuns {
  /** Handshakes per run of the acquire script. */
  readonly acquires: number[] = [];
  /** Releases (users) per run of the release script. */
  readonly releases: number[] = [];
  /** Which script ran, in the order Redis ran them. */
  readonly order: ("acquire" | "release")[] = [];
  private socket?: TcpSocket;

  async start(url: string): Promise<void> {
    const { hostname, port } = new URL(url);
    const socket = (this.socket = tcpConnect(Number(port), hostname));
    let buffered = "";
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.on("data", (chunk: Buffer) => {
        buffered += chunk.toString("latin1");
        let end: number;
        while ((end = buffered.indexOf("\r\n")) >= 0) {
          const line = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          if (line === "+OK") resolve();
          else this.heard(line);
        }
      });
      socket.write("MONITOR\r\n");
    });
  }

  private heard(line: string): void {
    const args = [...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!);
    if (args[0]?.toLowerCase() !== "evalsha" || !args[3]?.endsWith(":devices")) return;
    // KEYS: three per call (devices, presence, rooms), then the node's session set on one Redis.
    const keys = Number(args[2]);
    const argv = args.slice(3 + keys);
    const calls = Math.floor(keys / 3);
    if (/^\d+$/.test(argv[1]!) && /^\d+$/.test(argv[2]!) && argv.length === 3 + 3 * calls) {
      // acquire: the node, the two limits, then three per handshake
      this.acquires.push(calls);
      this.order.push("acquire");
    } else if (/^\d+$/.test(argv[0]!) && argv[1]!.endsWith("|")) {
      // release: the TTL, then per user its member prefix, its count of sessions and their fields
      let releases = 0;
      for (let a = 1; a < argv.length; a += 2 + Number(argv[a + 1])) releases++;
      this.releases.push(releases);
      this.order.push("release");
    }
  }

  /** The runs of `list` once `count` were seen (the monitor hears them a little after they ran), and no more. */
  async seen<T>(list: T[], count: number): Promise<T[]> {
    const deadline = Date.now() + 5000;
    while (list.length < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    await new Promise((resolve) => setTimeout(resolve, 100));
    return list;
  }

  stop(): void {
    this.socket?.destroy();
  }
}

let sessionCount = 0;
/** Waits (at most `timeoutMs`) until `listed` answers no session; the caller checks what it answers then. */
function untilNoneListed(listed: () => Promise<string[]>, timeoutMs: number): Promise<unknown> {
  return waitFor(async () => (await listed()).length === 0, timeoutMs, "no session listed", 20).catch(() => undefined);
}

function session(userId: string, deviceId: string, nodeId = NODE): DeviceSession {
  return { tenant: TENANT, userId, deviceId, sessionId: `s-${++sessionCount}`, nodeId };
}
/** The node of the release tests: its session set holds only theirs. */
const LEAVING = "leaving-node";
const leaving = (userId: string, deviceId: string) => session(userId, deviceId, LEAVING);

/**
 * Acquires each session from a callback of its own, all in one turn: immediates queued together
 * run in one check phase (each with its own process.nextTick queue), and the end of the turn the
 * first of them asks for is queued behind them.
 */
function acquireFromCallbacks(engine: Engine, sessions: DeviceSession[], limit: number, perDevice: number): Promise<PromiseSettledResult<AcquireResult>[]> {
  return Promise.allSettled(
    sessions.map((s) => new Promise<AcquireResult>((resolve, reject) => setImmediate(() => engine.presence.acquire(s, limit, perDevice).then(resolve, reject)))),
  );
}

function outcome(result: PromiseSettledResult<AcquireResult>): string {
  if (result.status === "rejected") return `error ${String(result.reason).replace(/^(ReplyError: )?(\w+).*$/s, "$2")}`;
  const r = result.value;
  if (r.ok) return r.changed ? `ok, now ${r.changed.devices.join(",")}` : "ok";
  return r.connections !== undefined ? `refused: ${r.devices} devices, ${r.connections} sessions` : `refused: ${r.devices} devices`;
}

/** Releases each user's sessions from a callback of its own, all in one turn (as acquireFromCallbacks). */
function releaseFromCallbacks(engine: Engine, releases: DeviceSession[][]): Promise<PromiseSettledResult<ReleaseResult>[]> {
  return Promise.allSettled(
    releases.map((sessions) => new Promise<ReleaseResult>((resolve, reject) => setImmediate(() => engine.presence.release(sessions, 60).then(resolve, reject)))),
  );
}

function released(result: PromiseSettledResult<ReleaseResult>): string {
  if (result.status === "rejected") return `error ${String(result.reason).replace(/^(ReplyError: )?(\w+).*$/s, "$2")}`;
  const { released: count, changed } = result.value;
  return changed ? `${count} released, now ${changed.devices.join(",") || "offline"}` : `${count} released`;
}

/** Acquires the sessions (one by one, so their order is plain) and checks each was accepted. */
async function acquireAll(engine: Engine, sessions: DeviceSession[], limit = 10): Promise<void> {
  for (const s of sessions) expect((await engine.presence.acquire(s, limit, 10)).ok).toBe(true);
}

describe("device acquires and releases batched per turn (redis engine)", () => {
  let backing: Backing;
  let engine: Engine;
  let runs: ScriptRuns;

  beforeAll(async () => {
    backing = await startBacking("redis");
    engine = openEngine(backing.env);
    expect(await engine.waitUntilAvailable(5000)).toBe(true);
    // Load the scripts first, so every run below is one EVALSHA.
    const warmUp = session("warm-up", "d");
    expect((await engine.presence.acquire(warmUp, 5, 5)).ok).toBe(true);
    expect((await engine.presence.release([warmUp], 60)).released).toBe(1);
  });
  afterAll(async () => {
    await engine.close();
    await backing.destroy();
  });
  beforeEach(async () => {
    runs = new ScriptRuns();
    await runs.start(backing.env.REDIS_URL!);
  });
  afterEach(() => runs.stop());

  it("takes the handshakes of one turn, from callbacks of their own, with one run, each answered in order as if alone", async () => {
    const sessions = [
      session("alice", "a1"),
      session("alice", "a2"),
      session("alice", "a3"), // a third device: over the limit of 2
      session("alice", "a1"), // a second session of a1: the device is already there
      session("alice", "a1"), // a third: over 2 sessions per device
      session("bob", "b1"),
    ];
    const results = await acquireFromCallbacks(engine, sessions, 2, 2);
    expect(results.map(outcome)).toEqual(["ok, now a1", "ok, now a1,a2", "refused: 2 devices", "ok", "refused: 2 devices, 2 sessions", "ok, now b1"]);
    expect(await runs.seen(runs.acquires, 1)).toEqual([6]);
    // What the store holds is what was answered: the refused sessions left nothing behind.
    expect(await engine.presence.devices(TENANT, "alice")).toEqual(["a1", "a2"]);
    const listed = (await engine.presence.sessionsOf(NODE)).map((s) => s.sessionId);
    const accepted = sessions.filter((_, i) => results[i]!.status === "fulfilled" && (results[i] as PromiseFulfilledResult<AcquireResult>).value.ok);
    expect(listed).toEqual(expect.arrayContaining(accepted.map((s) => s.sessionId)));
    for (const refused of [sessions[2]!, sessions[4]!]) expect(listed).not.toContain(refused.sessionId);
    const [alice] = await engine.presence.get(TENANT, ["alice"]);
    expect(alice).toMatchObject({ devices: ["a1", "a2"], status: "online" });
  });

  it("splits a turn with more handshakes than one run holds into runs that keep their order", async () => {
    // One user, a limit of 100 devices: the 101st..150th are refused only if the runs kept the order.
    const sessions = Array.from({ length: 150 }, (_, i) => session("crowd", `c${String(i).padStart(3, "0")}`));
    const results = await Promise.allSettled(sessions.map((s) => engine.presence.acquire(s, 100, 1)));
    expect(results.map((r) => r.status === "fulfilled" && r.value.ok)).toEqual(Array.from({ length: 150 }, (_, i) => i < 100));
    expect(await runs.seen(runs.acquires, 3)).toEqual([64, 64, 22]);
    expect(await engine.presence.devices(TENANT, "crowd")).toEqual(sessions.slice(0, 100).map((s) => s.deviceId));
  });

  it("fails only the handshake whose user's keys are broken, and the others of its run go on", async () => {
    const writer = new Redis(backing.env.REDIS_URL!);
    const devicesKey = keyLayout().userDevices(TENANT, "broken");
    await writer.set(devicesKey, "not a hash");
    const results = await acquireFromCallbacks(engine, [session("before", "d1"), session("broken", "d1"), session("after", "d1")], 5, 5);
    expect(results.map(outcome)).toEqual(["ok, now d1", "error WRONGTYPE", "ok, now d1"]);
    expect(await runs.seen(runs.acquires, 1)).toEqual([3]);
    expect(await writer.get(devicesKey)).toBe("not a hash");
    expect(await engine.presence.devices(TENANT, "after")).toEqual(["d1"]);
    writer.disconnect();
  });

  it("releases the sockets that leave in one turn with one run, each answered as if alone", async () => {
    const [e1, e2, f1, f1again, g1] = [leaving("erin", "e1"), leaving("erin", "e2"), leaving("frank", "f1"), leaving("frank", "f1"), leaving("gina", "g1")];
    await acquireAll(engine, [e1, e2, f1, f1again, g1]);
    const results = await releaseFromCallbacks(engine, [
      [e1], // erin keeps e2
      [e2], // then erin is offline: the run sees the release before it
      [f1], // frank's f1 has another session
      [leaving("nobody", "n1")], // never acquired: nothing to release
      [g1, leaving("gina", "g2")], // two sessions of one user in one call, one of them unknown
    ]);
    expect(results.map(released)).toEqual(["1 released, now e2", "1 released, now offline", "1 released", "0 released", "1 released, now offline"]);
    expect(await runs.seen(runs.releases, 1)).toEqual([5]);
    // What the store holds is what was answered: only frank's second session is listed.
    expect((await engine.presence.sessionsOf(LEAVING)).map((s) => s.sessionId)).toEqual([f1again.sessionId]);
    expect(await engine.presence.get(TENANT, ["erin", "frank"])).toEqual([
      expect.objectContaining({ userId: "erin", devices: [] }),
      expect.objectContaining({ userId: "frank", devices: ["f1"] }),
    ]);
    await engine.presence.release([f1again], 60);
  });

  it("runs a turn's releases before its acquires: a device that left frees its place for one that comes", async () => {
    const [h1, h2] = [leaving("hana", "h1"), leaving("hana", "h2")];
    await acquireAll(engine, [h1, h2], 2);
    // The handshake asks first, in the same turn: one by one it would still come after the
    // release, which leaves at once while the handshake waits for its token.
    const h3 = leaving("hana", "h3");
    // the two acquires above, once the monitor has heard them
    const ranBefore = (await runs.seen(runs.order, 2)).length;
    const [acquired, release] = await Promise.all([
      acquireFromCallbacks(engine, [h3], 2, 2),
      releaseFromCallbacks(engine, [[h1]]),
    ]);
    expect(release.map(released)).toEqual(["1 released, now h2"]);
    expect(acquired.map(outcome)).toEqual(["ok, now h2,h3"]);
    await runs.seen(runs.order, ranBefore + 2);
    expect(runs.order.slice(ranBefore)).toEqual(["release", "acquire"]);
    expect(await engine.presence.devices(TENANT, "hana")).toEqual(["h2", "h3"]);
    await engine.presence.release([h2, h3], 60);
  });

  it("splits a turn with more releases than one run holds into runs of at most 64", async () => {
    const sessions = Array.from({ length: 150 }, (_, i) => leaving(`leaver-${i}`, "d"));
    await Promise.all(sessions.map((s) => engine.presence.acquire(s, 5, 5)));
    await runs.seen(runs.acquires, 3);
    const results = await Promise.allSettled(sessions.map((s) => engine.presence.release([s], 60)));
    expect(results.map(released)).toEqual(sessions.map(() => "1 released, now offline"));
    expect(await runs.seen(runs.releases, 3)).toEqual([64, 64, 22]);
    expect((await engine.presence.sessionsOf(LEAVING)).filter((s) => s.userId.startsWith("leaver-"))).toEqual([]);
  });

  it("fails only the release whose user's keys are broken, and the others of its run go on", async () => {
    const writer = new Redis(backing.env.REDIS_URL!);
    const [before, after] = [leaving("r-before", "d1"), leaving("r-after", "d1")];
    await acquireAll(engine, [before, after]);
    const devicesKey = keyLayout().userDevices(TENANT, "r-broken");
    await writer.set(devicesKey, "not a hash");
    const results = await releaseFromCallbacks(engine, [[before], [leaving("r-broken", "d1")], [after]]);
    expect(results.map(released)).toEqual(["1 released, now offline", "error WRONGTYPE", "1 released, now offline"]);
    expect(await runs.seen(runs.releases, 1)).toEqual([3]);
    expect(await writer.get(devicesKey)).toBe("not a hash");
    expect((await engine.presence.sessionsOf(LEAVING)).filter((s) => s.userId.startsWith("r-"))).toEqual([]);
    writer.disconnect();
  });
});

describe("device acquires on a Redis Cluster", () => {
  let backing: Backing;
  let engine: Engine;

  beforeAll(async () => {
    backing = await startBacking("redis-cluster");
    engine = openEngine(backing.env);
    expect(await engine.waitUntilAvailable(15000)).toBe(true);
  }, 60000);
  afterAll(async () => {
    await engine.close();
    await backing.destroy();
  });

  it("keeps the limits within a turn and lists exactly the accepted sessions", async () => {
    const sessions = [session("carol", "k1"), session("dave", "k1"), session("carol", "k2"), session("carol", "k3"), session("dave", "k2")];
    const results = await acquireFromCallbacks(engine, sessions, 2, 1);
    expect(results.map(outcome)).toEqual(["ok, now k1", "ok, now k1", "ok, now k1,k2", "refused: 2 devices", "ok, now k1,k2"]);
    const listed = (await engine.presence.sessionsOf(NODE)).map((s) => s.sessionId).sort();
    expect(listed).toEqual([sessions[0]!, sessions[1]!, sessions[2]!, sessions[4]!].map((s) => s.sessionId).sort());
  });

  it("releases in one turn the sessions of several users, each on its own slot, and unlists exactly them", async () => {
    const [m1, m2, n1, o1] = [leaving("mia", "m1"), leaving("mia", "m2"), leaving("noah", "n1"), leaving("olga", "o1")];
    await acquireAll(engine, [m1, m2, n1, o1]);
    const results = await releaseFromCallbacks(engine, [[m1], [n1], [m2], [leaving("nobody", "x")]]);
    expect(results.map(released)).toEqual(["1 released, now m2", "1 released, now offline", "1 released, now offline", "0 released"]);
    expect((await engine.presence.sessionsOf(LEAVING)).map((s) => s.sessionId)).toEqual([o1.sessionId]);
  });
});

describe("handshakes arriving together at a node process (redis engine)", () => {
  let redis: RedisServer;
  let node: NodeProcess;
  let runs: ScriptRuns;
  const managers: Manager[] = [];

  let reader: Redis;

  beforeAll(async () => {
    redis = await RedisServer.start();
    reader = new Redis(redis.url);
    node = await NodeProcess.spawn({ REDIS_URL: redis.url, NODE_ID: "batch-process", LOG_LEVEL: "warn", MAX_DEVICES_PER_USER: "2" });
  });
  afterAll(async () => {
    await node.kill("SIGTERM");
    reader.disconnect();
    await redis.destroy();
  });
  beforeEach(async () => {
    runs = new ScriptRuns();
    await runs.start(redis.url);
  });
  afterEach(async () => {
    runs.stop();
    for (const manager of managers.splice(0)) manager.engine?.close();
    // The next test starts once the node has let go of this one's sockets.
    await untilNoneListed(listed, 5000);
  });
  const listed = () => reader.smembers(keyLayout().nodeSessions("batch-process"));

  /**
   * Opens one engine.io connection per auth, then, with the node stopped (SIGSTOP), sends every
   * Socket.IO CONNECT: once it runs again (SIGCONT) the node finds them all waiting, and reads
   * them in one turn (or a few, on a loaded machine).
   */
  async function connectAtOnce(auths: { token: string; deviceId: string }[]): Promise<PromiseSettledResult<Session>[]> {
    const opened = auths.map(() => new Manager(node.url, { transports: ["websocket"], reconnection: false, autoConnect: false, forceNew: true, timeout: 5000 }));
    managers.push(...opened);
    await Promise.all(opened.map((manager) => new Promise<void>((resolve, reject) => manager.open((err) => (err ? reject(err) : resolve())))));
    process.kill(node.child.pid!, "SIGSTOP");
    let sessions: Promise<PromiseSettledResult<Session>[]>;
    try {
      sessions = Promise.allSettled(
        opened.map(
          (manager, i) =>
            new Promise<Session>((resolve, reject) => {
              const socket = manager.socket("/", { auth: auths[i]! });
              socket.once("session", resolve);
              socket.once("connect_error", (err: Error & { data?: { code: string } }) => reject(new Error(err.data?.code ?? err.message)));
              socket.connect();
            }),
        ),
      );
      // Let the client write every CONNECT before the node runs again.
      await new Promise((resolve) => setTimeout(resolve, 200));
    } finally {
      process.kill(node.child.pid!, "SIGCONT");
    }
    return sessions;
  }

  it("acquires the devices of handshakes read together in a few runs, and every client gets its session", async () => {
    const users = Array.from({ length: 40 }, (_, i) => `together-${i}`);
    const tokens = await Promise.all(users.map((sub) => signToken({ sub })));
    const results = await connectAtOnce(users.map((_, i) => ({ token: tokens[i]!, deviceId: "phone" })));
    expect(results.map((r) => (r.status === "fulfilled" ? r.value.userId : String(r.reason)))).toEqual(users);
    // One run of 40 on an idle machine; on a loaded one the node may read them over a few turns
    // (10 + 30 beside two busy loops). Taken one by one, they would be 40 runs.
    const seen = await runs.seen(runs.acquires, 1);
    expect(seen.reduce((a, b) => a + b, 0)).toBe(users.length);
    expect(seen.length).toBeLessThan(users.length / 4);
  });

  it("gives back the devices of sockets that leave together in a few runs", async () => {
    const users = Array.from({ length: 40 }, (_, i) => `leaving-${i}`);
    const tokens = await Promise.all(users.map((sub) => signToken({ sub })));
    const connected = await connectAtOnce(users.map((_, i) => ({ token: tokens[i]!, deviceId: "phone" })));
    expect(connected.every((r) => r.status === "fulfilled")).toBe(true);
    expect(await listed()).toHaveLength(40);
    // Every client closes its connection while the node is stopped: once it runs again it reads
    // the 40 closes together.
    const opened = managers.splice(0);
    process.kill(node.child.pid!, "SIGSTOP");
    try {
      for (const manager of opened) manager.engine.close();
      await new Promise((resolve) => setTimeout(resolve, 200));
    } finally {
      process.kill(node.child.pid!, "SIGCONT");
    }
    const seen = await runs.seen(runs.releases, 1);
    await untilNoneListed(listed, 5000);
    expect(await listed()).toEqual([]);
    expect(seen.reduce((a, b) => a + b, 0)).toBe(users.length);
    expect(seen.length).toBeLessThan(users.length / 4);
    expect(await reader.hkeys(keyLayout().userDevices("default", users[0]!))).toEqual([]);
  });

  it("still holds a user to the device limit when the devices connect together", async () => {
    const token = await signToken({ sub: "many-devices" });
    const results = await connectAtOnce(Array.from({ length: 6 }, (_, i) => ({ token, deviceId: `dev-${i}` })));
    const outcomes = results.map((r) => (r.status === "fulfilled" ? "session" : String(r.reason)));
    expect(outcomes.filter((o) => o === "session")).toHaveLength(2);
    expect(outcomes.filter((o) => o === "Error: DEVICE_LIMIT")).toHaveLength(4);
    expect((await runs.seen(runs.acquires, 1)).reduce((a, b) => a + b, 0)).toBe(6);
    const refusal = await connectRefused(node.url, { token, deviceId: "one-more" });
    expect(refusal.data?.code).toBe("DEVICE_LIMIT");
  });
});

describe("a node sweeping a dead one (redis engine)", () => {
  let redis: RedisServer;
  let doomed: NodeProcess;
  let live: SwitchboardNode;
  let runs: ScriptRuns;

  beforeAll(async () => {
    redis = await RedisServer.start();
    const env = { REDIS_URL: redis.url, HEARTBEAT_TIMEOUT_MS: "1000" };
    [doomed, live] = await Promise.all([NodeProcess.spawn({ ...env, NODE_ID: "doomed", LOG_LEVEL: "error" }), startNode(env)]);
    runs = new ScriptRuns();
    await runs.start(redis.url);
  });
  afterAll(async () => {
    runs.stop();
    closeClients();
    await doomed.kill();
    await live.shutdown();
    await redis.destroy();
  });

  it("releases the dead node's users in runs, not one round trip each", async () => {
    const users = Array.from({ length: 30 }, (_, i) => `swept-${i}`);
    await Promise.all(users.map((sub) => connect(doomed.url, { tokenOptions: { sub }, deviceId: "phone" })));
    const reader = new Redis(redis.url);
    const listed = () => reader.smembers(keyLayout().nodeSessions("doomed"));
    expect(await listed()).toHaveLength(30);
    expect((await doomed.kill("SIGKILL")).signal).toBe("SIGKILL");
    // swept within 2 x the heartbeat timeout, and some slack for a loaded machine
    await untilNoneListed(listed, 6000);
    expect(await listed()).toEqual([]);
    const presence = await live.engine.presence.get("default", users);
    expect(presence.map((p) => p.devices)).toEqual(users.map(() => []));
    // One run of 30 on one Redis; one by one it would be 30.
    expect(runs.releases.reduce((a, b) => a + b, 0)).toBe(30);
    expect(runs.releases.length).toBeLessThan(5);
    reader.disconnect();
  });
});

describe("a node starting where its previous process left sessions (redis engine)", () => {
  let redis: RedisServer;
  let engine: Engine;
  let node: SwitchboardNode | undefined;
  let runs: ScriptRuns;

  beforeAll(async () => {
    redis = await RedisServer.start();
    engine = openEngine({ REDIS_URL: redis.url });
    expect(await engine.waitUntilAvailable(5000)).toBe(true);
    runs = new ScriptRuns();
  });
  afterAll(async () => {
    runs.stop();
    await node?.shutdown();
    await engine.close();
    await redis.destroy();
  });

  it("releases 1 500 users' leftover sessions in runs of at most 64, every one of them", async () => {
    // 1 500 users, two with a second device, all listed under the NODE_ID the new process takes
    const sessions = Array.from({ length: 1500 }, (_, i) => session(`leftover-${i}`, "phone", "phoenix"));
    sessions.push(session("leftover-0", "tablet", "phoenix"), session("leftover-1", "tablet", "phoenix"));
    const acquired = await Promise.all(sessions.map((s) => engine.presence.acquire(s, 5, 5)));
    expect(acquired.every((a) => a.ok)).toBe(true);
    expect(await engine.presence.sessionsOf("phoenix")).toHaveLength(1502);
    await runs.start(redis.url);

    node = await startNode({ REDIS_URL: redis.url, NODE_ID: "phoenix" });
    expect(await engine.presence.sessionsOf("phoenix")).toEqual([]);
    const seen = await runs.seen(runs.releases, 24);
    // one release per user (a user's two sessions go together), in runs of up to 64
    expect(seen.reduce((a, b) => a + b, 0)).toBe(1500);
    expect(Math.max(...seen)).toBeLessThanOrEqual(64);
    expect(seen.length).toBeLessThanOrEqual(30);
    const sample = await engine.presence.get("default", ["leftover-0", "leftover-1", "leftover-750", "leftover-1499"]);
    expect(sample.map((p) => p.devices)).toEqual([[], [], [], []]);
  });
});
