import type { KeyLayout } from "@switchboard/shared";
import type { NodeInfo, NodeRegistry } from "../types";
import type { RedisClient } from "../script";
import { RedisScript } from "../script";
import { LUA } from "../lua.generated";

const heartbeat = new RedisScript(LUA["nodes/heartbeat"]);
const liveNodes = new RedisScript(LUA["nodes/live"]);
const expiredNodes = new RedisScript(LUA["nodes/expired"]);
const claimSweep = new RedisScript(LUA["nodes/claim-sweep"]);

export class RedisNodeRegistry implements NodeRegistry {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: KeyLayout,
  ) {}

  async heartbeat(info: Omit<NodeInfo, "lastHeartbeat">): Promise<number> {
    const now = await heartbeat.run(this.redis, [this.keys.nodes(), this.keys.nodeInfo()], [info.nodeId, JSON.stringify(info)]);
    return Number(now);
  }

  async live(timeoutMs: number): Promise<NodeInfo[]> {
    const rows = (await liveNodes.run(this.redis, [this.keys.nodes(), this.keys.nodeInfo()], [timeoutMs])) as (string | null)[];
    return rows.filter((row): row is string => row !== null).map((row) => JSON.parse(row) as NodeInfo);
  }

  async expired(timeoutMs: number): Promise<string[]> {
    return (await expiredNodes.run(this.redis, [this.keys.nodes()], [timeoutMs])) as string[];
  }

  async claimSweep(nodeId: string, timeoutMs: number, leaseMs: number): Promise<boolean> {
    const lease = `${this.keys.nodes()}:sweep:${nodeId}`;
    return (await claimSweep.run(this.redis, [this.keys.nodes(), lease], [nodeId, timeoutMs, leaseMs])) === 1;
  }

  async remove(nodeId: string): Promise<void> {
    await this.redis
      .multi()
      .zrem(this.keys.nodes(), nodeId)
      .hdel(this.keys.nodeInfo(), nodeId)
      .del(this.keys.nodeSessions(nodeId))
      .exec();
  }
}
