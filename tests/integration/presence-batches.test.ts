/**
 * The handshakes a node takes in one turn of its event loop acquire their devices with one run of
 * the acquire script (store/lua/presence/acquire-devices.lua), on a real redis-server: each
 * answered as if it had run alone, in the order they came (the device and session limits hold
 * within a run), split into runs of at most 64, and one user's broken keys failing only that
 * user's handshake. On a Redis Cluster a run holds one user's handshakes. A node process takes
 * handshakes that reach it together in a run per turn it reads them in, and the limits still hold.
 */
import { connect as tcpConnect, type Socket as TcpSocket } from "node:net";
import { Redis } from "ioredis";
import { Manager } from "socket.io-client";
import { keyLayout, type Session } from "@switchboard/shared";
import type { AcquireResult, DeviceSession, Engine } from "@switchboard/server";
import { connectRefused } from "../helpers/clients";
import { openEngine, startBacking, type Backing } from "../helpers/engines";
import { NodeProcess } from "../helpers/nodes";
import { RedisServer } from "../helpers/redis";
import { signToken } from "../helpers/tokens";

const TENANT = "default";
const NODE = "batch-node";

/**
 * Counts the acquire script's runs Redis executes, and the handshakes each carried, from MONITOR on
 * a plain TCP connection: every line after `+OK` is one command with its arguments quoted.
 */
class AcquireRuns {
  readonly runs: number[] = [];
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
    if (args[0]?.toLowerCase() !== "evalsha") return;
    // KEYS: three per handshake (devices, presence, rooms), then the node's session set; ARGV: the
    // node, the two limits, then three per handshake (the release script has other ARGV).
    const keys = Number(args[2]);
    const handshakes = (keys - 1) / 3;
    const argv = args.slice(3 + keys);
    const acquire = Number.isInteger(handshakes) && handshakes > 0 && args[3]!.endsWith(":devices") && args[2 + keys]!.includes(":node-sessions:");
    if (acquire && argv.length === 3 + 3 * handshakes && /^\d+$/.test(argv[1]!) && /^\d+$/.test(argv[2]!)) this.runs.push(handshakes);
  }

  /** The runs seen once `count` were (the monitor hears them a little after they ran), and no more. */
  async seen(count: number): Promise<number[]> {
    const deadline = Date.now() + 5000;
    while (this.runs.length < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    await new Promise((resolve) => setTimeout(resolve, 100));
    return this.runs;
  }

  stop(): void {
    this.socket?.destroy();
  }
}

let sessionCount = 0;
function session(userId: string, deviceId: string): DeviceSession {
  return { tenant: TENANT, userId, deviceId, sessionId: `s-${++sessionCount}`, nodeId: NODE };
}

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

describe("device acquires batched per turn (redis engine)", () => {
  let backing: Backing;
  let engine: Engine;
  let runs: AcquireRuns;

  beforeAll(async () => {
    backing = await startBacking("redis");
    engine = openEngine(backing.env);
    expect(await engine.waitUntilAvailable(5000)).toBe(true);
    // Load the script first, so every run below is one EVALSHA.
    expect((await engine.presence.acquire(session("warm-up", "d"), 5, 5)).ok).toBe(true);
  });
  afterAll(async () => {
    await engine.close();
    await backing.destroy();
  });
  beforeEach(async () => {
    runs = new AcquireRuns();
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
    expect(await runs.seen(1)).toEqual([6]);
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
    expect(await runs.seen(3)).toEqual([64, 64, 22]);
    expect(await engine.presence.devices(TENANT, "crowd")).toEqual(sessions.slice(0, 100).map((s) => s.deviceId));
  });

  it("fails only the handshake whose user's keys are broken, and the others of its run go on", async () => {
    const writer = new Redis(backing.env.REDIS_URL!);
    const devicesKey = keyLayout().userDevices(TENANT, "broken");
    await writer.set(devicesKey, "not a hash");
    const results = await acquireFromCallbacks(engine, [session("before", "d1"), session("broken", "d1"), session("after", "d1")], 5, 5);
    expect(results.map(outcome)).toEqual(["ok, now d1", "error WRONGTYPE", "ok, now d1"]);
    expect(await runs.seen(1)).toEqual([3]);
    expect(await writer.get(devicesKey)).toBe("not a hash");
    expect(await engine.presence.devices(TENANT, "after")).toEqual(["d1"]);
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
});

describe("handshakes arriving together at a node process (redis engine)", () => {
  let redis: RedisServer;
  let node: NodeProcess;
  let runs: AcquireRuns;
  const managers: Manager[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
    node = await NodeProcess.spawn({ REDIS_URL: redis.url, NODE_ID: "batch-process", LOG_LEVEL: "warn", MAX_DEVICES_PER_USER: "2" });
  });
  afterAll(async () => {
    await node.kill("SIGTERM");
    await redis.destroy();
  });
  beforeEach(async () => {
    runs = new AcquireRuns();
    await runs.start(redis.url);
  });
  afterEach(() => {
    runs.stop();
    for (const manager of managers.splice(0)) manager.engine?.close();
  });

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
    const seen = await runs.seen(1);
    expect(seen.reduce((a, b) => a + b, 0)).toBe(users.length);
    expect(seen.length).toBeLessThan(users.length / 4);
  });

  it("still holds a user to the device limit when the devices connect together", async () => {
    const token = await signToken({ sub: "many-devices" });
    const results = await connectAtOnce(Array.from({ length: 6 }, (_, i) => ({ token, deviceId: `dev-${i}` })));
    const outcomes = results.map((r) => (r.status === "fulfilled" ? "session" : String(r.reason)));
    expect(outcomes.filter((o) => o === "session")).toHaveLength(2);
    expect(outcomes.filter((o) => o === "Error: DEVICE_LIMIT")).toHaveLength(4);
    expect((await runs.seen(1)).reduce((a, b) => a + b, 0)).toBe(6);
    const refusal = await connectRefused(node.url, { token, deviceId: "one-more" });
    expect(refusal.data?.code).toBe("DEVICE_LIMIT");
  });
});
