/**
 * A cluster-wide index of leaderboards (streams) with an update due: a sorted set member ->
 * due time (ms). The dirty flag lives beside the data, on the data's slot, so it cannot be set
 * in the same script as this index on a Redis Cluster: a writer sets the flag first and marks
 * the index second; the node that settles an entry removes it first and checks the flag second,
 * so a write that lands in between is never left unmarked.
 */
import { parseScopedMember, scopedMember } from "@switchboard/shared";
import type { LiveRef } from "../types";
import type { RedisClient } from "../script";

export class DueIndex {
  constructor(
    private readonly redis: RedisClient,
    private readonly key: string,
  ) {}

  /** Due now (an earlier due time is kept; a later one is brought forward). */
  async mark(ref: LiveRef): Promise<void> {
    await this.redis.zadd(this.key, "LT", Date.now(), scopedMember(ref.tenant, ref.id));
  }

  async due(limit: number): Promise<LiveRef[]> {
    const members = await this.redis.zrangebyscore(this.key, "-inf", Date.now(), "LIMIT", 0, limit);
    return members.map((m) => parseScopedMember(m));
  }

  /**
   * After a flush or a clean look: due again at `nextAt` (undefined: not due), or now when the
   * flag shows a write that came meanwhile.
   */
  async settle(ref: LiveRef, dirtyKey: string, nextAt?: number): Promise<void> {
    const member = scopedMember(ref.tenant, ref.id);
    if (nextAt === undefined) await this.redis.zrem(this.key, member);
    else await this.redis.zadd(this.key, nextAt, member);
    if ((await this.redis.exists(dirtyKey)) === 1) await this.mark(ref);
  }
}
