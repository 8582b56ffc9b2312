/**
 * Synced documents in Redis: one string key per document (JSON, the layout of
 * ../sync-resolver.ts), resolved by one Lua script so concurrent pushes serialize on the key.
 * The key shares the user's hash tag, so it lives on one slot of a Redis Cluster.
 */
import type { ConflictStrategy, KeyLayout, SyncDocument } from "@switchboard/shared";
import { parseDoc, prepareWrite, toOutcome, viewOf, type AppliedSyncPush } from "../sync-resolver";
import type { SyncPush, SyncPushOutcome, SyncStore } from "../types";
import { RedisScript, type RedisClient } from "../script";
import { LUA } from "../lua.generated";

/** store/lua/sync/resolve.lua: the port of ../sync-resolver.ts, held to identical documents by the tests. */
const resolveSync = new RedisScript(LUA["sync/resolve"]);

export class RedisSyncStore implements SyncStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: KeyLayout,
  ) {}

  async push(push: SyncPush): Promise<SyncPushOutcome> {
    return (await this.apply(push)).outcome;
  }

  /** Runs a push and tells what was stored and by which clock. */
  async apply(push: SyncPush): Promise<AppliedSyncPush> {
    const write = prepareWrite(push);
    const clock = push.strategy === "vector_clock" && write.clock !== undefined ? JSON.stringify(write.clock) : "";
    const args = [push.strategy, push.deviceId, push.ttlS, push.maxBytes, write.ts ?? "", clock, ...write.fields.flatMap(([field, v]) => [field, v === false ? "" : v])];
    const reply = (await resolveSync.run(this.redis, [this.keys.syncDocument(push.tenant, push.userId, push.key)], args)) as [string, string | number, number];
    const [status, body, now] = reply;
    if (status === "too_large") return { outcome: toOutcome({ status, bytes: Number(body) }, push.strategy, push.maxBytes), now: Number(now) };
    const doc = parseDoc(String(body));
    return { outcome: toOutcome({ status: "ok", doc }, push.strategy, push.maxBytes), doc, now: Number(now) };
  }

  async get(tenant: string, userId: string, key: string, strategy: ConflictStrategy): Promise<SyncDocument> {
    return viewOf(parseDoc(await this.redis.get(this.keys.syncDocument(tenant, userId, key))), strategy);
  }
}
