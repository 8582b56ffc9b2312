/**
 * Sessions a hostile user cannot stretch: sockets per device are capped cluster-wide (so one user
 * reusing a deviceId cannot fill a node), and a socket lives only as long as its token unless the
 * client hands it a newer one with `session:refresh`.
 */
import type { Session } from "@switchboard/shared";
import { closeClients, command, connect, connectRefused, nextEvent } from "../helpers/clients";
import { clusterFixture } from "../helpers/cluster";
import { sleep } from "../helpers/ports";
import { signToken } from "../helpers/tokens";
import { inProcessNode } from "../helpers/nodes";
import { Redis } from "ioredis";
import { io } from "socket.io-client";

describe.each(["memory", "redis"] as const)("sessions (%s engine)", (name) => {
  // Two nodes sharing Redis; the memory engine has one node (its limits are the node's own).
  const cluster = clusterFixture({
    backing: name,
    nodes: name === "redis" ? 2 : 1,
    env: { MAX_CONNECTIONS: "8", MAX_DEVICES_PER_USER: "2", MAX_CONNECTIONS_PER_DEVICE: "2" },
  });
  const { node: anyNode } = cluster;
  afterEach(() => closeClients());

  it("caps the sockets of one device across nodes, so reusing a deviceId cannot fill a node", async () => {
    const user = { tokenOptions: { sub: `hog-${name}` } };
    await connect(anyNode(0).url, { ...user, deviceId: "same" });
    await connect(anyNode(1).url, { ...user, deviceId: "same" });
    const refusals = await Promise.all([0, 1, 2, 3].map((i) => connectRefused(anyNode(i).url, { ...user, deviceId: "same" })));
    for (const refusal of refusals) {
      expect(refusal.data).toMatchObject({ code: "DEVICE_LIMIT" });
      expect(refusal.data!.message).toContain("device same already has 2 connections");
    }
    // A second device is allowed, a third is not (MAX_DEVICES_PER_USER): 4 sockets at most.
    await connect(anyNode(0).url, { ...user, deviceId: "other" });
    expect((await connectRefused(anyNode(0).url, { ...user, deviceId: "third" })).data?.code).toBe("DEVICE_LIMIT");
    // The node (MAX_CONNECTIONS 8) still has room for everybody else.
    const bystander = await connect(anyNode(0).url, { tokenOptions: { sub: `bystander-${name}` }, deviceId: "b1" });
    expect((await command(bystander, "system:ping", {})).ok).toBe(true);
  });

  it("frees a device's slot when one of its sockets disconnects", async () => {
    const user = { tokenOptions: { sub: `tabs-${name}` }, deviceId: "tabs" };
    const first = await connect(anyNode(0).url, user);
    await connect(anyNode(1).url, user);
    expect((await connectRefused(anyNode(0).url, user)).data?.code).toBe("DEVICE_LIMIT");
    first.close();
    await expect(waitForConnect(anyNode(0).url, user)).resolves.toBeDefined();
  });

  it("ends a socket when its token expires, with session:expired first", async () => {
    const token = await signToken({ sub: `short-${name}`, expiresIn: 2 });
    const client = await connect(anyNode(0).url, { token, deviceId: "short" });
    expect(client.session!.expiresAt).toBeGreaterThan(Date.now());
    expect(client.session!.expiresAt).toBeLessThanOrEqual(Date.now() + 2000);
    expect((await command(client, "system:ping", {})).ok).toBe(true);
    const expired = nextEvent<{ code: string; expiredAt: number }>(client, "session:expired", 5000);
    const disconnected = nextEvent<string>(client, "disconnect", 5000);
    await expect(expired).resolves.toMatchObject({ code: "TOKEN_EXPIRED", expiredAt: client.session!.expiresAt });
    await expect(disconnected).resolves.toBe("io server disconnect");
    // The same token cannot come back.
    expect((await connectRefused(anyNode(0).url, { token, deviceId: "short" })).data?.code).toBe("TOKEN_EXPIRED");
  });

  it("ends every socket whose token expires in the same second, whoever else left or refreshed", async () => {
    // One token, so one expiry second, for three sockets of one node: one leaves early, one
    // refreshes, and the third must still be ended at the old expiry.
    const sub = `same-second-${name}`;
    const token = await signToken({ sub, expiresIn: 2 });
    const [leaver, refresher, stayer] = await Promise.all(["d1", "d1", "d2"].map((deviceId) => connect(anyNode(0).url, { token, deviceId })));
    leaver!.close();
    const refreshed = jest.fn();
    refresher!.on("session:expired", refreshed);
    expect((await command(refresher!, "session:refresh", { token: await signToken({ sub, expiresIn: 3600 }) })).ok).toBe(true);
    await expect(nextEvent(stayer!, "session:expired", 5000)).resolves.toMatchObject({ code: "TOKEN_EXPIRED" });
    await sleep(500);
    expect(refreshed).not.toHaveBeenCalled();
    expect((await command(refresher!, "system:ping", {})).ok).toBe(true);
  });

  if (name === "redis") {
    it("gives the device back when its client leaves during the handshake", async () => {
      // A script holds Redis for 600 ms, so the handshake waits in its presence step while the client
      // goes; Socket.IO then drops the socket without a `connection` or a `disconnect`.
      const sub = `leaver-${name}`;
      const watcher = await connect(anyNode(0).url, { tokenOptions: { sub: `watcher-${name}` } });
      const hold = new Redis(cluster.redis.port, "127.0.0.1");
      try {
        const token = await signToken({ sub });
        const held = hold.eval("local s = redis.call('TIME') repeat local n = redis.call('TIME') until (n[1] - s[1]) * 1000000 + n[2] - s[2] > 600000 return 1", 0);
        await sleep(50);
        const leaving = io(anyNode(1).url, { auth: { token, deviceId: "gone" }, transports: ["websocket"], reconnection: false, forceNew: true });
        const session = jest.fn();
        leaving.on("session", session);
        await sleep(250);
        leaving.close();
        await held;
        await sleep(100);
        expect(session).not.toHaveBeenCalled();
      } finally {
        hold.disconnect();
      }
      const presenceOf = async () => (await command(watcher, "presence:get", { userIds: [sub] })).presence as Record<string, { online: boolean; devices: string[] }>;
      await sleep(500);
      expect((await presenceOf())[sub]).toMatchObject({ online: false, devices: [] });
      // Both device slots are free: the user connects two devices at once.
      await connect(anyNode(0).url, { tokenOptions: { sub }, deviceId: "one" });
      await connect(anyNode(1).url, { tokenOptions: { sub }, deviceId: "two" });
    });
  }

  it("keeps a socket whose client refreshed its token", async () => {
    const sub = `refresher-${name}`;
    const client = await connect(anyNode(0).url, { token: await signToken({ sub, expiresIn: 2 }), deviceId: "r1" });
    const expired = jest.fn();
    client.on("session:expired", expired);
    const fresh = await signToken({ sub, expiresIn: 3600, name: "Renewed" });
    const ack = await command(client, "session:refresh", { token: fresh });
    expect(ack).toEqual({ ok: true, expiresAt: expect.any(Number) });
    expect(ack.expiresAt as number).toBeGreaterThan(Date.now() + 3500 * 1000);
    await sleep(3000);
    expect(expired).not.toHaveBeenCalled();
    expect(client.connected).toBe(true);
    expect((await command(client, "system:ping", {})).ok).toBe(true);
  });

  it("refuses a refresh with another user's, an expired or a forged token, and changes nothing", async () => {
    const sub = `careful-${name}`;
    const client = await connect(anyNode(0).url, { token: await signToken({ sub, expiresIn: 2 }), deviceId: "c1" });
    const other = await command(client, "session:refresh", { token: await signToken({ sub: "someone-else" }) });
    expect(other.error?.code).toBe("FORBIDDEN");
    const otherTenant = await command(client, "session:refresh", { token: await signToken({ sub, tenant: "acme" }) });
    expect(otherTenant.error?.code).toBe("FORBIDDEN");
    expect((await command(client, "session:refresh", { token: await signToken({ sub, expiresIn: -10 }) })).error?.code).toBe("TOKEN_EXPIRED");
    expect((await command(client, "session:refresh", { token: await signToken({ sub, secret: "x".repeat(40) }) })).error?.code).toBe("UNAUTHORIZED");
    expect((await command(client, "session:refresh", { token: 42 })).error?.code).toBe("VALIDATION_FAILED");
    // None of them extended the session: it still ends at the first token's exp.
    await expect(nextEvent(client, "session:expired", 5000)).resolves.toMatchObject({ code: "TOKEN_EXPIRED" });
  });
});

/** Connects, retrying while the freed slot is still being released. */
async function waitForConnect(url: string, options: Parameters<typeof connect>[1]): Promise<Session> {
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      return (await connect(url, options)).session!;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(50);
    }
  }
}

describe("the handshake keeps no credential (in-process node)", () => {
  const inProcess = inProcessNode();

  it("drops the token from the handshake's auth and headers, and keeps the rest", async () => {
    const node = inProcess();
    const inAuth = await connect(node.url, { tokenOptions: { sub: "keeps-auth" }, deviceId: "phone" });
    const inHeader = await connect(node.url, { tokenOptions: { sub: "keeps-header" }, deviceId: "laptop", bearer: true });
    const server = (client: { id?: string }) => node.io.sockets.sockets.get(client.id!)!;
    expect(server(inAuth).handshake.auth).toEqual({ deviceId: "phone" });
    expect(server(inHeader).handshake.auth).toEqual({ deviceId: "laptop" });
    expect(server(inHeader).handshake.headers).not.toHaveProperty("authorization");
    expect(server(inHeader).handshake.headers).toHaveProperty("host");
    // What the Admin UI and fetchSockets() serialise carries no token.
    const listed = await node.io.fetchSockets();
    expect(listed.map((s) => s.data.userId).sort()).toEqual(["keeps-auth", "keeps-header"]);
    // a JWT (its header is base64url of `{"`, so it starts with eyJ, and a dot follows) or a Bearer
    // header; matched with case, since random base64 (the WebSocket key) may hold "EYj"
    const listing = JSON.stringify(listed.map((s) => s.handshake));
    expect(listing).not.toMatch(/eyJ[A-Za-z0-9_-]+\./);
    expect(listing).not.toMatch(/bearer/i);
  });
});
