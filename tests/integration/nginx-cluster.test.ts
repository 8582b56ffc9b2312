/**
 * The real nginx (nginx.conf rendered for 127.0.0.1) in front of three real nodes (child
 * processes of server/dist/main.js) on one redis-server: WebSocket and long-polling clients work
 * through it, messages cross nodes, and when the node holding the clients is SIGKILLed they
 * reconnect through nginx to another node and recover what they missed with `room:join` `since`.
 */
import type { Message, Session } from "@switchboard/shared";
import { io, type Socket } from "socket.io-client";
import { closeClients, command, connect, nextEvent } from "../helpers/clients";
import { NginxProcess } from "../helpers/nginx";
import { NodeProcess } from "../helpers/nodes";
import { waitFor } from "../helpers/ports";
import { RedisServer } from "../helpers/redis";
import { serviceToken, signToken } from "../helpers/tokens";

jest.setTimeout(30000);

const ROOM = "nginx-lobby";

/** A client that reconnects by itself, as a browser would (the helpers' clients do not). */
interface Roaming {
  socket: Socket;
  sessions: Session[];
  messages: Message[];
}

/** Every roaming client ever opened, closed after the tests even when one failed half-way. */
const roaming: Roaming[] = [];

async function roamingClient(url: string, userId: string, transports: ("websocket" | "polling")[]): Promise<Roaming> {
  const token = await signToken({ sub: userId });
  const socket = io(url, {
    auth: { token },
    transports,
    forceNew: true,
    timeout: 5000,
    // A fixed delay: long enough that the test publishes while the client is away.
    reconnectionDelay: 1000,
    reconnectionDelayMax: 1000,
    randomizationFactor: 0,
  });
  const client: Roaming = { socket, sessions: [], messages: [] };
  roaming.push(client);
  socket.on("session", (s: Session) => client.sessions.push(s));
  socket.on("room:message", (m: Message) => client.messages.push(m));
  await waitFor(() => client.sessions.length === 1, 10000, `${userId} session`);
  return client;
}

async function publishAsService(node: NodeProcess, text: string): Promise<string> {
  const response = await fetch(`${node.url}/v1/rooms/${ROOM}/messages`, {
    method: "POST",
    headers: { authorization: `Bearer ${await serviceToken()}`, "content-type": "application/json" },
    body: JSON.stringify({ data: { text } }),
  });
  expect(response.status).toBe(202);
  return ((await response.json()) as { id: string }).id;
}

describe("nginx in front of a 3-node cluster", () => {
  let redis: RedisServer;
  let nodes: NodeProcess[] = [];
  let nginx: NginxProcess;

  beforeAll(async () => {
    redis = await RedisServer.start();
    nodes = await Promise.all([1, 2, 3].map((i) => NodeProcess.spawn({ REDIS_URL: redis.url, NODE_ID: `nginx-node-${i}`, LOG_LEVEL: "warn" })));
    nginx = await NginxProcess.start({ nodes: nodes.map((n) => ({ port: n.port })) });
  });

  afterAll(async () => {
    for (const client of roaming) client.socket.close();
    closeClients();
    await nginx?.stop();
    await Promise.all(nodes.map((n) => n.kill()));
    await redis?.destroy();
  });

  const nodeById = (id: string) => nodes.find((n) => n.nodeId === id)!;

  it("serves WebSocket and long-polling clients on the node their address hashes to", async () => {
    const ws = await connect(nginx.url, { transports: ["websocket"], tokenOptions: { sub: "ws-user" } });
    const poll = await connect(nginx.url, { transports: ["polling"], tokenOptions: { sub: "poll-user" } });
    expect(ws.io.engine.transport.name).toBe("websocket");
    expect(poll.io.engine.transport.name).toBe("polling");
    // One client address, one node (hash $remote_addr consistent): both land on the same node.
    expect(nodes.map((n) => n.nodeId)).toContain(ws.session!.nodeId);
    expect(poll.session!.nodeId).toBe(ws.session!.nodeId);

    // A polling session is many HTTP requests; each must reach the node that owns the session.
    for (let i = 0; i < 5; i++) {
      expect(await command(poll, "system:ping", { clientTime: i })).toMatchObject({ ok: true, nodeId: ws.session!.nodeId, clientTime: i });
    }
    expect((await fetch(`${nginx.url}/health`)).status).toBe(200);
    expect((await fetch(`${nginx.url}/metrics`)).status).toBe(404);
    expect((await fetch(`${nodes[0]!.url}/metrics`)).status).toBe(200);
  });

  it("carries room messages across nodes, both ways", async () => {
    const viaNginx = await connect(nginx.url, { transports: ["websocket"], tokenOptions: { sub: "alice" } });
    const polling = await connect(nginx.url, { transports: ["polling"], tokenOptions: { sub: "bob" } });
    const other = nodes.find((n) => n.nodeId !== viaNginx.session!.nodeId)!;
    const direct = await connect(other.url, { transports: ["websocket"], tokenOptions: { sub: "carol" } });
    expect(direct.session!.nodeId).not.toBe(viaNginx.session!.nodeId);

    expect(await command(viaNginx, "room:create", { id: ROOM, name: "Lobby" })).toMatchObject({ ok: true });
    for (const client of [viaNginx, polling, direct]) expect(await command(client, "room:join", { room: ROOM })).toMatchObject({ ok: true });

    const fromDirect: Promise<Message>[] = [nextEvent<Message>(viaNginx, "room:message"), nextEvent<Message>(polling, "room:message")];
    const sent = await command(direct, "room:publish", { room: ROOM, data: { text: "from another node" } });
    for (const received of await Promise.all(fromDirect)) expect(received).toMatchObject({ id: sent.id, data: { text: "from another node" } });

    const toDirect = nextEvent<Message>(direct, "room:message");
    const sentBack = await command(polling, "room:publish", { room: ROOM, data: { text: "through nginx, by polling" } });
    expect(await toDirect).toMatchObject({ id: sentBack.id, from: { userId: "bob" } });
  });

  it("moves the clients of a killed node to another node, where they recover missed messages with since", async () => {
    const ws = await roamingClient(nginx.url, "dave", ["websocket"]);
    const poll = await roamingClient(nginx.url, "erin", ["polling"]);
    const victim = nodeById(ws.sessions[0]!.nodeId);
    expect(poll.sessions[0]!.nodeId).toBe(victim.nodeId);
    const survivor = nodes.find((n) => n !== victim)!;

    for (const client of [ws, poll]) {
      expect(await client.socket.timeout(5000).emitWithAck("room:join", { room: ROOM })).toMatchObject({ ok: true });
    }
    const before = await publishAsService(survivor, "before the crash");
    await waitFor(() => ws.messages.some((m) => m.id === before) && poll.messages.some((m) => m.id === before), 5000, "message before the crash");

    const gone = [ws, poll].map((client) => new Promise<string>((resolve) => client.socket.once("disconnect", (reason) => resolve(reason))));
    await victim.kill("SIGKILL");
    await Promise.all(gone);

    // Published while both clients are away (they retry after 1 s).
    const missed: string[] = [];
    for (let i = 1; i <= 3; i++) missed.push(await publishAsService(survivor, `missed ${i}`));

    await waitFor(() => ws.sessions.length === 2 && poll.sessions.length === 2, 15000, "both clients reconnected through nginx");
    for (const client of [ws, poll]) {
      const session = client.sessions[1]!;
      expect(session.nodeId).not.toBe(victim.nodeId);
      expect(nodes.map((n) => n.nodeId)).toContain(session.nodeId);
      const lastSeen = client.messages.at(-1)!.id;
      expect(lastSeen).toBe(before);
      const rejoin = (await client.socket.timeout(5000).emitWithAck("room:join", { room: ROOM, since: lastSeen })) as {
        ok: boolean;
        recovered: boolean;
        missed: Message[];
      };
      expect(rejoin).toMatchObject({ ok: true, recovered: true });
      expect(rejoin.missed.map((m) => m.id)).toEqual(missed);
      expect(rejoin.missed.map((m) => (m.data as { text: string }).text)).toEqual(["missed 1", "missed 2", "missed 3"]);
    }
    expect(poll.socket.io.engine.transport.name).toBe("polling");

    // And they are live again on their new node.
    const after = await publishAsService(survivor, "after the move");
    await waitFor(() => ws.messages.some((m) => m.id === after) && poll.messages.some((m) => m.id === after), 5000, "message after the move");

    // New clients through nginx skip the dead node too.
    const late = await connect(nginx.url, { transports: ["websocket"], tokenOptions: { sub: "frank" } });
    expect(late.session!.nodeId).not.toBe(victim.nodeId);
  });
});
