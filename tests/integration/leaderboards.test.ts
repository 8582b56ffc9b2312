/**
 * Live leaderboards (PROTOCOL §8 "Leaderboards and live streams") on the memory engine (one node)
 * and on Redis (three nodes on one Redis): score writes through REST on any node (and the emitter)
 * answer the ranks a model computes under random sequences; subscribers on every node see the
 * model's top after applying `leaderboard:update`s to their subscribe answer; however many scores
 * arrive, a leaderboard gets at most one update per interval cluster-wide; tenants are apart;
 * achievements unlock once into notifications; malformed input is refused.
 */
import { EmitterError, SwitchboardEmitter } from "@switchboard/emitter";
import type { LeaderboardEntry, LeaderboardUpdateEvent, LeaderboardView, Notification } from "@switchboard/shared";
import fc from "fast-check";
import { command, connect, nextEvent, type Client } from "../helpers/clients";
import { clusterFixture } from "../helpers/cluster";
import { metricValue, scrape } from "../helpers/metrics";
import { sleep, waitFor } from "../helpers/ports";
import { serviceToken, signToken } from "../helpers/tokens";

const INTERVAL_MS = 100;
const USERS = ["u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7"];

/** The ranking a leaderboard must show: highest score first, ties by user id in byte order. */
class Model {
  readonly scores = new Map<string, number>();

  apply(userId: string, op: { value?: number; inc?: number }): { score: number; previous: number | null } {
    const previous = this.scores.get(userId) ?? null;
    const score = op.inc === undefined ? op.value! : (previous ?? 0) + op.inc;
    this.scores.set(userId, score);
    return { score, previous };
  }

  ranking(): LeaderboardEntry[] {
    return [...this.scores]
      .sort(([ua, a], [ub, b]) => b - a || (ua < ub ? -1 : ua > ub ? 1 : 0))
      .map(([userId, score], i) => ({ rank: i + 1, userId, score }));
  }

  rankOf(userId: string): number {
    return this.ranking().findIndex((e) => e.userId === userId) + 1;
  }
}

/** What a subscriber shows: its subscribe answer with every later update applied (seq order, no gaps). */
class Subscription {
  readonly updates: (LeaderboardUpdateEvent & { at: number })[] = [];
  private ack?: LeaderboardView;
  private readonly listener = (event: LeaderboardUpdateEvent) => {
    if (event.id === this.id) this.updates.push({ ...event, at: Date.now() });
  };

  constructor(
    readonly client: Client,
    readonly id: string,
    readonly top: number,
  ) {
    client.on("leaderboard:update", this.listener);
  }

  static async open(client: Client, id: string, top = 5, around = false): Promise<Subscription> {
    const sub = new Subscription(client, id, top);
    const ack = await command(client, "leaderboard:subscribe", { id, top, ...(around ? { around } : {}) });
    if (!ack.ok) throw new Error(`subscribe failed: ${JSON.stringify(ack.error)}`);
    const { ok: _ok, ...view } = ack;
    sub.ack = view as unknown as LeaderboardView;
    return sub;
  }

  get answer(): LeaderboardView {
    return this.ack!;
  }

  view(): LeaderboardEntry[] {
    const rows = new Map(this.ack!.top.map((e) => [e.userId, e]));
    let seq = this.ack!.seq;
    for (const u of [...this.updates].sort((a, b) => a.seq - b.seq)) {
      if (u.seq <= seq) continue;
      if (u.seq !== seq + 1) throw new Error(`update ${seq + 1} of ${this.id} is missing (got ${u.seq})`);
      seq = u.seq;
      for (const c of u.changes) rows.set(c.userId, { rank: c.rank, userId: c.userId, score: c.score });
      for (const userId of u.removed) rows.delete(userId);
    }
    return [...rows.values()].filter((e) => e.rank <= this.top).sort((a, b) => a.rank - b.rank);
  }

  close(): void {
    this.client.off("leaderboard:update", this.listener);
  }
}

describe.each(["memory", "redis"] as const)("leaderboards (%s)", (engineName) => {
  const cluster = clusterFixture({
    backing: engineName,
    nodes: engineName === "redis" ? 3 : 1,
    sequential: true,
    env: { LEADERBOARD_UPDATE_INTERVAL_MS: String(INTERVAL_MS), RATE_LIMIT_POINTS: "100000" },
  });
  const { nodes, node: nodeAt, unique } = cluster;
  let service: string;

  async function rest(i: number, method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${nodeAt(i).url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token ?? service}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }
  const score = (i: number, id: string, body: Record<string, unknown>, token?: string) => rest(i, "POST", `/v1/leaderboards/${id}/scores`, body, token);
  const broadcastsSoFar = async () => {
    const counts = await Promise.all(nodes.map(async (n) => metricValue(await scrape(n.url), "switchboard_leaderboard_broadcasts_total") || 0));
    return counts.reduce((a, b) => a + b, 0);
  };
  /**
   * The broadcasts so far, once none has been sent for 3 intervals: an earlier test's leaderboard
   * can still have an update due (its subscribers watched only the top 5, so a change below it
   * was not waited for), and the counter counts every leaderboard's.
   */
  async function quietBroadcasts(): Promise<number> {
    let last = await broadcastsSoFar();
    for (let i = 0; i < 50; i++) {
      await sleep(3 * INTERVAL_MS);
      const now = await broadcastsSoFar();
      if (now === last) return now;
      last = now;
    }
    throw new Error("leaderboard broadcasts did not stop");
  }

  beforeAll(async () => {
    service = await serviceToken();
  });

  it("answers the ranks of a model under random score sequences, and every node's subscribers converge to its top", async () => {
    const watchers = await Promise.all(nodes.map((n, i) => connect(n.url, { tokenOptions: { sub: `watcher-${i}` } })));
    const op = fc.record({
      userId: fc.constantFrom(...USERS),
      node: fc.nat({ max: 2 }),
      op: fc.oneof(fc.record({ value: fc.integer({ min: -20, max: 60 }) }), fc.record({ inc: fc.integer({ min: -15, max: 25 }) })),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 30 }), async (ops) => {
        const id = unique("prop");
        const model = new Model();
        const subs = await Promise.all(watchers.map((w) => Subscription.open(w, id, 5)));
        try {
          for (const { userId, node, op: write } of ops) {
            const res = await score(node, id, { userId, ...write });
            const expected = model.apply(userId, write);
            expect(res).toEqual({ status: 200, body: { userId, score: expected.score, previous: expected.previous, rank: model.rankOf(userId) } });
          }
          const top = model.ranking().slice(0, 5);
          for (const sub of subs) await waitFor(() => JSON.stringify(sub.view()) === JSON.stringify(top), 10_000, `subscriber view of ${id}`);
          // Live reads agree with the model too.
          const live = await rest(ops.length, "GET", `/v1/leaderboards/${id}?top=5&userId=${ops[0]!.userId}`);
          expect(live.body).toEqual({ id, total: model.scores.size, top, me: { rank: model.rankOf(ops[0]!.userId), userId: ops[0]!.userId, score: model.scores.get(ops[0]!.userId) } });
        } finally {
          for (const sub of subs) sub.close();
        }
      }),
      { numRuns: 12 },
    );
  });

  it("sends at most one update per interval per leaderboard, cluster-wide, however many scores arrive", async () => {
    const id = unique("burst");
    const watchers = await Promise.all(nodes.map((n, i) => connect(n.url, { tokenOptions: { sub: `burst-watcher-${i}` } })));
    const subs = await Promise.all(watchers.map((w) => Subscription.open(w, id, 10)));
    const before = await quietBroadcasts();
    const model = new Model();
    const started = Date.now();
    // Three writers, one per node (or all on the one node), as fast as each gets its answers.
    let sent = 0;
    await Promise.all(
      [0, 1, 2].map(async (w) => {
        for (let i = 0; i < 150; i++) {
          const userId = `p${(i * 7 + w) % 40}`;
          const res = await score(w, id, { userId, inc: 1 + ((i + w) % 5) });
          expect(res.status).toBe(200);
          sent++;
        }
      }),
    );
    const writing = Date.now() - started;
    // The final ranking: replay what the writers did (increments commute).
    for (let w = 0; w < 3; w++) for (let i = 0; i < 150; i++) model.apply(`p${(i * 7 + w) % 40}`, { inc: 1 + ((i + w) % 5) });
    const top = model.ranking().slice(0, 10);
    for (const sub of subs) await waitFor(() => JSON.stringify(sub.view()) === JSON.stringify(top), 10_000, "final view");
    // The top 10 can be final while a change below it is still due: wait for the last broadcast,
    // then for every subscriber to have it.
    const broadcasts = (await quietBroadcasts()) - before;
    for (const sub of subs) await waitFor(() => sub.updates.length >= broadcasts, 10_000, "every broadcast received");
    const elapsed = Date.now() - started;

    expect(sent).toBe(450);
    const seqs = subs[0]!.updates.map((u) => u.seq);
    expect(seqs.length).toBe(broadcasts);
    // Every subscriber, on every node, got the same updates: one broadcast each, none missing.
    for (const sub of subs) expect(sub.updates.map((u) => u.seq)).toEqual(seqs);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    expect(seqs.length).toBeGreaterThan(1);
    expect(seqs.length).toBeLessThanOrEqual(Math.ceil(elapsed / INTERVAL_MS) + 1);
    // Computed at least an interval apart (the store's clock), whichever node computed them.
    const ts = subs[0]!.updates.map((u) => u.ts);
    for (let i = 1; i < ts.length; i++) expect(ts[i]! - ts[i - 1]!).toBeGreaterThanOrEqual(INTERVAL_MS);
    // 450 writes became at most one broadcast per interval of writing (and a last one after).
    expect(seqs.length).toBeLessThanOrEqual(Math.ceil(writing / INTERVAL_MS) + 2);
    for (const sub of subs) sub.close();
  });

  it("answers the caller's rank and neighbours, live, and the top of the last update", async () => {
    const id = unique("around");
    for (let i = 0; i < 20; i++) expect((await score(i, id, { userId: `r${String(i).padStart(2, "0")}`, value: 100 - i })).status).toBe(200);
    await sleep(3 * INTERVAL_MS);
    const me = await connect(nodeAt(1).url, { tokenOptions: { sub: "r06" } });
    const sub = await Subscription.open(me, id, 3, true);
    expect(sub.answer).toEqual({
      id,
      seq: expect.any(Number),
      total: 20,
      top: [
        { rank: 1, userId: "r00", score: 100 },
        { rank: 2, userId: "r01", score: 99 },
        { rank: 3, userId: "r02", score: 98 },
      ],
      me: { rank: 7, userId: "r06", score: 94 },
      around: Array.from({ length: 11 }, (_, k) => ({ rank: k + 2, userId: `r${String(k + 1).padStart(2, "0")}`, score: 99 - k })),
    });
    expect(sub.answer.seq).toBeGreaterThan(0);
    // At the top, the neighbours start at rank 1; someone not on it has no standing.
    const first = await Subscription.open(await connect(nodeAt(2).url, { tokenOptions: { sub: "r00" } }), id, 1, true);
    expect(first.answer.around!.map((e) => e.rank)).toEqual([1, 2, 3, 4, 5, 6]);
    const stranger = await Subscription.open(await connect(nodeAt(0).url, { tokenOptions: { sub: "nobody" } }), id, 1, true);
    expect(stranger.answer).toMatchObject({ me: null, around: [] });
    const plain = await Subscription.open(await connect(nodeAt(0).url, { tokenOptions: { sub: "r19" } }), id, 2);
    expect(plain.answer.me).toEqual({ rank: 20, userId: "r19", score: 81 });
    expect(plain.answer.around).toBeUndefined();
    // Unsubscribed: no more updates.
    expect((await command(plain.client, "leaderboard:unsubscribe", { id })).ok).toBe(true);
    await score(0, id, { userId: "r19", value: 1000 });
    await waitFor(() => sub.view()[0]?.userId === "r19", 3000, "update after the change");
    await sleep(2 * INTERVAL_MS);
    expect(plain.updates).toEqual([]);
  });

  it("keeps tenants apart", async () => {
    const id = unique("tenant");
    const acmeService = await serviceToken({ tenant: "acme" });
    const acmeUser = await connect(nodeAt(1).url, { tokenOptions: { sub: "amy", tenant: "acme" } });
    const plainUser = await connect(nodeAt(2).url, { tokenOptions: { sub: "amy" } });
    const acme = await Subscription.open(acmeUser, id);
    const plain = await Subscription.open(plainUser, id);
    expect((await score(0, id, { userId: "amy", value: 7 }, acmeService)).body).toMatchObject({ rank: 1, score: 7 });
    await waitFor(() => acme.view().length === 1, 3000, "acme update");
    expect(acme.view()).toEqual([{ rank: 1, userId: "amy", score: 7 }]);
    await sleep(2 * INTERVAL_MS);
    expect(plain.updates).toEqual([]);
    expect((await rest(0, "GET", `/v1/leaderboards/${id}`)).body).toEqual({ id, total: 0, top: [], me: null });
    expect((await rest(0, "GET", `/v1/leaderboards/${id}?userId=amy`, undefined, acmeService)).body).toMatchObject({ total: 1, me: { rank: 1, userId: "amy", score: 7 } });
    // The same id in the default tenant is another leaderboard.
    expect((await score(1, id, { userId: "bob", value: 1 })).body).toMatchObject({ rank: 1, score: 1 });
    await waitFor(() => plain.view().length === 1, 3000, "default-tenant update");
    expect(acme.view()).toEqual([{ rank: 1, userId: "amy", score: 7 }]);
  });

  it("unlocks an achievement once, as an achievement_unlocked notification", async () => {
    const id = unique("ach");
    const zoe = await connect(nodeAt(2).url, { tokenOptions: { sub: "zoe" } });
    const notes: Notification[] = [];
    zoe.on("notification", (n: Notification) => notes.push(n));
    const achievement = { id: "century", title: "100 points!", body: "You crossed 100", threshold: 100, data: { badge: "gold" } };
    expect((await score(0, id, { userId: "zoe", value: 60, achievement })).body).not.toHaveProperty("achievement");
    const crossing = await score(1, id, { userId: "zoe", inc: 50, achievement });
    expect(crossing.body).toMatchObject({ score: 110, rank: 1, achievement: { id: "century", notificationId: expect.any(String) } });
    const again = await score(0, id, { userId: "zoe", inc: 50, achievement });
    expect(again.body).not.toHaveProperty("achievement");
    await waitFor(() => notes.length === 1, 5000, "the notification");
    expect(notes[0]).toMatchObject({
      id: (crossing.body.achievement as { notificationId: string }).notificationId,
      userId: "zoe",
      type: "achievement_unlocked",
      title: "100 points!",
      body: "You crossed 100",
      data: { badge: "gold", leaderboardId: id, achievementId: "century", score: 110, rank: 1 },
    });
    expect((await command(zoe, "notification:ack", { id: notes[0]!.id })).ok).toBe(true);
    await sleep(300);
    expect(notes).toHaveLength(1);
    const inbox = (await command(zoe, "notification:list", {})) as unknown as { notifications: Notification[] };
    expect(inbox.notifications.filter((n) => n.type === "achievement_unlocked")).toHaveLength(1);
  });

  it("refuses malformed writes and subscriptions, and writes from users", async () => {
    const id = unique("bad");
    const user = await signToken({ sub: "mallory" });
    expect(await score(0, id, { userId: "a", value: 1 }, user)).toMatchObject({ status: 403, body: { error: { code: "FORBIDDEN" } } });
    for (const body of [{ userId: "a" }, { userId: "a", value: 1, inc: 1 }, { userId: "a", value: "5" }, { userId: "a", value: 1e16 }, { userId: "a b", value: 1 }, { value: 1 }, { userId: "a", value: 1, extra: true }, { userId: "a", inc: 1, achievement: { id: "x" } }]) {
      expect(await score(0, id, body)).toMatchObject({ status: 400, body: { error: { code: "VALIDATION_FAILED" } } });
    }
    expect(await score(0, "no%20spaces", { userId: "a", value: 1 })).toMatchObject({ status: 400 });
    expect((await rest(0, "GET", `/v1/leaderboards/${id}?top=101`)).status).toBe(400);
    // Nothing was written.
    expect((await rest(0, "GET", `/v1/leaderboards/${id}`)).body).toMatchObject({ total: 0 });

    const client = await connect(nodeAt(0).url, { tokenOptions: { sub: "mallory" } });
    for (const payload of [{ id, top: 101 }, { id, top: 0 }, {}, { id, around: "yes" }, { id, extra: 1 }, { id: "bad id" }]) {
      expect(await command(client, "leaderboard:subscribe", payload)).toMatchObject({ ok: false, error: { code: "VALIDATION_FAILED" } });
    }
    expect(await command(client, "leaderboard:unsubscribe", {})).toMatchObject({ ok: false, error: { code: "VALIDATION_FAILED" } });
  });

  if (engineName === "redis") {
    it("takes scores from the emitter exactly as from REST, validated before anything is sent", async () => {
      const emitter = new SwitchboardEmitter({ redis: cluster.redis.url });
      try {
        const id = unique("emit");
        const watcher = await Subscription.open(await connect(nodeAt(1).url, { tokenOptions: { sub: "em-w" } }), id);
        expect(await emitter.leaderboard(id).score("u1", 10)).toEqual({ userId: "u1", score: 10, rank: 1, previous: null });
        expect(await emitter.leaderboard(id).score("u2", { inc: 15 })).toEqual({ userId: "u2", score: 15, rank: 1, previous: null });
        expect((await score(2, id, { userId: "u1", inc: 10 })).body).toEqual({ userId: "u1", score: 20, rank: 1, previous: 10 });
        await waitFor(() => JSON.stringify(watcher.view()) === JSON.stringify([{ rank: 1, userId: "u1", score: 20 }, { rank: 2, userId: "u2", score: 15 }]), 3000, "emitter scores");

        const zed = await connect(nodeAt(0).url, { tokenOptions: { sub: "zed" } });
        const note = nextEvent<Notification>(zed, "notification");
        const unlocked = await emitter.leaderboard(id).score("zed", { value: 5, achievement: { id: "first", title: "First score" } });
        expect(unlocked.achievement).toEqual({ id: "first", notificationId: expect.any(String) });
        expect(await note).toMatchObject({ id: unlocked.achievement!.notificationId, type: "achievement_unlocked", data: { leaderboardId: id, achievementId: "first", score: 5, rank: 3 } });

        const bad: [() => Promise<unknown>, string][] = [
          [() => emitter.leaderboard(id).score("u1", { value: 1, inc: 1 }), "VALIDATION_FAILED"],
          [() => emitter.leaderboard(id).score("u1", Number.NaN), "VALIDATION_FAILED"],
          [() => emitter.leaderboard(id).score("u1", {} as never), "VALIDATION_FAILED"],
          [() => emitter.leaderboard(id).score("bad user", 1), "VALIDATION_FAILED"],
          [async () => emitter.leaderboard("bad id").score("u1", 1), "VALIDATION_FAILED"],
        ];
        for (const [call, code] of bad) {
          const err = await call().then(() => undefined, (e: unknown) => e);
          expect(err).toBeInstanceOf(EmitterError);
          expect((err as EmitterError).code).toBe(code);
        }
        expect((await rest(0, "GET", `/v1/leaderboards/${id}?userId=u1`)).body).toMatchObject({ total: 3, me: { score: 20 } });
      } finally {
        await emitter.close();
      }
    });
  }
});
