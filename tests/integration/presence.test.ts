/**
 * Presence (PROTOCOL §3 "Presence", GET /v1/presence/:userId) with clients spread over three
 * nodes (Redis engine) and on one node (memory engine): several devices per user, watchers and
 * room co-members on every node, exactly one update per change, tenants apart, bad input refused.
 */
import type { Presence } from "@switchboard/shared";
import { closeClients, command, connect, connectRefused, type Client } from "../helpers/clients";
import { clusterFixture, collect } from "../helpers/cluster";
import { sleep, waitFor } from "../helpers/ports";
import { signToken } from "../helpers/tokens";

/** Every presence:update a client receives, in arrival order. */
const updates = (client: Client) => collect<Presence>(client, "presence:update");

/** Time for a stray duplicate to arrive before a count is asserted. */
const SETTLE_MS = 300;

describe.each(["memory", "redis"] as const)("presence (%s engine)", (name) => {
  const { url, unique } = clusterFixture({ backing: name, nodes: name === "redis" ? 3 : 1, env: { RATE_LIMIT_POINTS: "10000", MAX_DEVICES_PER_USER: "4" } });
  const device = (sub: string, i: number, deviceId?: string, tenant?: string) => connect(url(i), { tokenOptions: { sub, tenant }, deviceId });

  afterEach(() => closeClients());

  it("follows a user's devices across nodes: online with the first, offline only when the last goes, one update per change", async () => {
    const alice = unique("alice");
    const watcher = await device(unique("watcher"), 0);
    const seen = updates(watcher);
    const watched = await command(watcher, "presence:watch", { userIds: [alice] });
    expect(watched).toEqual({ ok: true, presence: { [alice]: { userId: alice, status: "offline", online: false, devices: [], lastSeen: null, rev: 0 } } });

    const phone = await device(alice, 1, "phone");
    await waitFor(() => seen.length === 1, 3000, "online update");
    expect(seen[0]).toEqual({ userId: alice, status: "online", online: true, devices: ["phone"], lastSeen: expect.any(Number), rev: expect.any(Number) });

    const laptop = await device(alice, 2, "laptop");
    await waitFor(() => seen.length === 2, 3000, "second device");
    expect(seen[1]).toMatchObject({ status: "online", online: true, devices: ["laptop", "phone"] });

    // A second tab of a device already connected changes nothing.
    const phoneTab = await device(alice, 0, "phone");
    phoneTab.close();
    phone.close();
    await waitFor(() => seen.length === 3, 3000, "phone gone");
    expect(seen[2]).toMatchObject({ status: "online", online: true, devices: ["laptop"] });

    const before = Date.now();
    laptop.close();
    await waitFor(() => seen.length === 4, 3000, "offline");
    expect(seen[3]).toMatchObject({ status: "offline", online: false, devices: [] });
    expect(seen[3]!.lastSeen).toBeGreaterThanOrEqual(before - 1000);
    // Every update is newer than the one before it.
    expect(seen.map((p) => p.rev)).toEqual([...seen.map((p) => p.rev)].sort((a, b) => a - b));
    expect(new Set(seen.map((p) => p.rev)).size).toBe(4);
    await sleep(SETTLE_MS);
    expect(seen).toHaveLength(4);

    const got = await command(watcher, "presence:get", { userIds: [alice] });
    expect(got).toEqual({ ok: true, presence: { [alice]: seen[3] } });
  });

  it("sets a status and message that watchers on every node see once; the same status again is no change", async () => {
    const bob = unique("bob");
    const bobPhone = await device(bob, 0, "phone");
    const watchers = await Promise.all([device(unique("w"), 1), device(unique("w"), 2)]);
    const inboxes = watchers.map(updates);
    await Promise.all(watchers.map((w) => command(w, "presence:watch", { userIds: [bob] })));

    expect(await command(bobPhone, "presence:set", { status: "busy", message: "exam until 3pm" })).toEqual({ ok: true, changed: true });
    for (const inbox of inboxes) await waitFor(() => inbox.length === 1, 3000, "status update");
    for (const inbox of inboxes) expect(inbox[0]).toMatchObject({ userId: bob, status: "busy", message: "exam until 3pm", online: true, devices: ["phone"] });

    // The same status again changes nothing (and announces nothing): `changed: false` says so.
    expect(await command(bobPhone, "presence:set", { status: "busy", message: "exam until 3pm" })).toEqual({ ok: true, changed: false });
    expect(await command(bobPhone, "presence:set", { status: "dnd" })).toEqual({ ok: true, changed: true });
    for (const inbox of inboxes) await waitFor(() => inbox.length === 2, 3000, "dnd update");
    await sleep(SETTLE_MS);
    for (const inbox of inboxes) {
      expect(inbox).toHaveLength(2);
      expect(inbox[1]).toMatchObject({ status: "dnd", online: true });
      expect(inbox[1]!.message).toBeUndefined();
    }

    // Offline shows `offline`; the chosen status comes back with the next device.
    bobPhone.close();
    await waitFor(() => inboxes[0]!.length === 3, 3000, "offline");
    expect(inboxes[0]![2]).toMatchObject({ status: "offline", online: false });
    await device(bob, 1, "laptop");
    await waitFor(() => inboxes[0]!.length === 4, 3000, "back online");
    expect(inboxes[0]![3]).toMatchObject({ status: "dnd", online: true, devices: ["laptop"] });
  });

  it("tells the members of the user's rooms, on every node, once even when they also watch the user", async () => {
    const [carol, dave, erin, frank] = [unique("carol"), unique("dave"), unique("erin"), unique("frank")];
    const carolPhone = await device(carol, 0, "phone");
    const daveSocket = await device(dave, 1);
    const erinSocket = await device(erin, 2);
    const frankSocket = await device(frank, 1);
    const [room1, room2] = [unique("study"), unique("chat")];
    expect((await command(carolPhone, "room:create", { id: room1, name: "Study" })).ok).toBe(true);
    expect((await command(carolPhone, "room:create", { id: room2, name: "Chat" })).ok).toBe(true);
    // Dave shares both rooms and also watches carol; erin shares one; frank shares none.
    for (const r of [room1, room2]) expect((await command(daveSocket, "room:join", { room: r })).ok).toBe(true);
    expect((await command(erinSocket, "room:join", { room: room2 })).ok).toBe(true);
    expect((await command(daveSocket, "presence:watch", { userIds: [carol] })).ok).toBe(true);
    const [daveSeen, erinSeen, frankSeen] = [daveSocket, erinSocket, frankSocket].map(updates);

    await command(carolPhone, "presence:set", { status: "away" });
    await waitFor(() => daveSeen.length === 1 && erinSeen.length === 1, 3000, "co-member updates");
    await sleep(SETTLE_MS);
    expect(daveSeen).toEqual([expect.objectContaining({ userId: carol, status: "away" })]);
    expect(erinSeen).toEqual([expect.objectContaining({ userId: carol, status: "away" })]);
    expect(frankSeen).toEqual([]);

    // Once carol leaves room2, erin no longer hears of her.
    expect((await command(carolPhone, "room:leave", { room: room2 })).ok).toBe(true);
    await command(carolPhone, "presence:set", { status: "online" });
    await waitFor(() => daveSeen.length === 2, 3000, "dave's second update");
    await sleep(SETTLE_MS);
    expect(erinSeen).toHaveLength(1);
  });

  it("stops updates after unwatch, and keeps tenants apart", async () => {
    const gina = unique("gina");
    const watcher = await device(unique("w"), 0);
    const otherTenant = await device(unique("w"), 1, undefined, "acme");
    const [seen, acmeSeen] = [watcher, otherTenant].map(updates);
    await command(watcher, "presence:watch", { userIds: [gina] });
    // The same user id in tenant acme is somebody else.
    const acmeView = await command(otherTenant, "presence:watch", { userIds: [gina] });
    expect(acmeView).toMatchObject({ presence: { [gina]: { online: false } } });

    const ginaPhone = await device(gina, 2, "phone");
    await waitFor(() => seen.length === 1, 3000, "update");
    expect(await command(watcher, "presence:unwatch", { userIds: [gina] })).toEqual({ ok: true });
    await command(ginaPhone, "presence:set", { status: "in_call" });
    ginaPhone.close();
    await sleep(SETTLE_MS * 2);
    expect(seen).toHaveLength(1);
    expect(acmeSeen).toEqual([]);
  });

  it("refuses bad presence commands with VALIDATION_FAILED and changes nothing", async () => {
    const hank = unique("hank");
    const socket = await device(hank, 0, "desk");
    const watcher = await device(unique("w"), 1);
    const seen = updates(watcher);
    await command(watcher, "presence:watch", { userIds: [hank] });
    const bad: [string, unknown][] = [
      ["presence:set", { status: "sleeping" }],
      ["presence:set", { status: "offline" }],
      ["presence:set", { status: "away", message: "x".repeat(141) }],
      ["presence:set", { status: "away", mood: "happy" }],
      ["presence:set", {}],
      ["presence:get", { userIds: [] }],
      ["presence:get", { userIds: Array.from({ length: 101 }, (_, i) => `u${i}`) }],
      ["presence:get", { userIds: ["bad id with spaces"] }],
      ["presence:get", { userIds: ["dup", "dup"] }],
      ["presence:watch", { userIds: "hank" }],
      ["presence:unwatch", {}],
    ];
    for (const [event, payload] of bad) {
      const reply = await command(socket, event, payload);
      expect([event, reply.ok, reply.error?.code]).toEqual([event, false, "VALIDATION_FAILED"]);
    }
    const got = await command(socket, "presence:get", { userIds: [hank] });
    expect(got).toMatchObject({ presence: { [hank]: { status: "online", devices: ["desk"] } } });
    await sleep(SETTLE_MS);
    expect(seen).toEqual([]);
  });

  it("caps how many users one connection watches", async () => {
    const watcher = await device(unique("w"), 0);
    for (let i = 0; i < 10; i++) {
      const ids = Array.from({ length: 100 }, (_, j) => `cap-${i}-${j}`);
      expect((await command(watcher, "presence:watch", { userIds: ids })).ok).toBe(true);
    }
    const over = await command(watcher, "presence:watch", { userIds: ["one-too-many"] });
    expect(over).toMatchObject({ ok: false, error: { code: "VALIDATION_FAILED", details: { limit: 1000, watching: 1000 } } });
    // Watching someone already watched is not more.
    expect((await command(watcher, "presence:watch", { userIds: ["cap-0-0"] })).ok).toBe(true);
  });

  it("answers GET /v1/presence/:userId for any token of the tenant", async () => {
    const ivan = unique("ivan");
    const phone = await device(ivan, 1, "phone");
    await command(phone, "presence:set", { status: "away", message: "brb" });
    const token = await signToken({ sub: unique("reader") });
    const res = await fetch(`${url(2)}/v1/presence/${ivan}`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ userId: ivan, status: "away", message: "brb", online: true, devices: ["phone"], lastSeen: expect.any(Number), rev: expect.any(Number) });

    const acme = await signToken({ sub: "reader", tenant: "acme" });
    const other = await fetch(`${url(0)}/v1/presence/${ivan}`, { headers: { authorization: `Bearer ${acme}` } });
    expect(await other.json()).toMatchObject({ status: "offline", online: false, devices: [] });

    const bad = await fetch(`${url(0)}/v1/presence/${encodeURIComponent("not valid!")}`, { headers: { authorization: `Bearer ${token}` } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("VALIDATION_FAILED");
    expect((await fetch(`${url(0)}/v1/presence/${ivan}`)).status).toBe(401);
  });

  it("lets exactly MAX_DEVICES_PER_USER of many simultaneous devices in, with one update per admitted device", async () => {
    const racer = unique("racer");
    const watcher = await device(unique("w"), 0);
    const seen = updates(watcher);
    await command(watcher, "presence:watch", { userIds: [racer] });
    const token = await signToken({ sub: racer });
    const attempts = Array.from({ length: 16 }, (_, i) =>
      connect(url(i % 2), { token, deviceId: `dev-${i}` }).then(
        (client) => ({ ok: true as const, client }),
        (err: Error & { data?: { code: string } }) => ({ ok: false as const, code: err.data?.code }),
      ),
    );
    const results = await Promise.all(attempts);
    expect(results.filter((r) => r.ok)).toHaveLength(4);
    expect(results.filter((r) => !r.ok).map((r) => (r.ok ? "" : r.code))).toEqual(Array.from({ length: 12 }, () => "DEVICE_LIMIT"));
    await waitFor(() => seen.length === 4, 3000, "four updates");
    await sleep(SETTLE_MS);
    expect(seen.map((p) => p.devices.length).sort()).toEqual([1, 2, 3, 4]);
    expect((await connectRefused(url(1), { token, deviceId: "late" })).message).toBe("DEVICE_LIMIT");
  });
});
