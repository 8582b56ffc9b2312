/**
 * @switchboard/emitter: publish into a Switchboard cluster from a backend service through the
 * cluster's Redis, without opening a socket. This release sets up the connection and the key
 * layout shared with the nodes; the publishing API of the protocol (§5) builds on it.
 */
import { DEFAULT_TENANT, keyLayout, tenantId, type KeyLayout } from "@switchboard/shared";
import { Cluster, Redis } from "ioredis";
import Joi from "joi";

export interface EmitterOptions {
  /** A Redis URL, or an ioredis client the caller owns (it is not closed by close()). */
  redis?: string | Redis | Cluster;
  /** A Redis Cluster as a comma list `host:port,host:port`. */
  redisClusterNodes?: string;
  /** Tenant of everything this emitter publishes (default: none). */
  tenant?: string;
  /** Must match the nodes' REDIS_KEY_PREFIX (default `sb:`). */
  keyPrefix?: string;
}

const optionsSchema = Joi.object({
  redis: Joi.alternatives(Joi.string().uri({ scheme: ["redis", "rediss"] }), Joi.object()),
  redisClusterNodes: Joi.string().pattern(/^[A-Za-z0-9_.-]+:\d{1,5}(,[A-Za-z0-9_.-]+:\d{1,5})*$/, "host:port list"),
  tenant: tenantId,
  keyPrefix: Joi.string().pattern(/^[A-Za-z0-9_.:-]{0,64}$/).allow(""),
}).xor("redis", "redisClusterNodes");

export class SwitchboardEmitter {
  readonly tenant: string;
  readonly keys: KeyLayout;
  readonly redis: Redis | Cluster;
  private readonly ownsClient: boolean;

  constructor(options: EmitterOptions) {
    const { error } = optionsSchema.validate(options);
    if (error) throw new TypeError(`SwitchboardEmitter: ${error.message}`);
    this.tenant = options.tenant ?? DEFAULT_TENANT;
    this.keys = keyLayout(options.keyPrefix ?? "sb:");
    if (options.redisClusterNodes) {
      const nodes = options.redisClusterNodes.split(",").map((hp) => {
        const [host, port] = hp.split(":");
        return { host: host!, port: Number(port) };
      });
      this.redis = new Cluster(nodes);
      this.ownsClient = true;
    } else if (typeof options.redis === "string") {
      this.redis = new Redis(options.redis);
      this.ownsClient = true;
    } else {
      this.redis = options.redis!;
      this.ownsClient = false;
    }
  }

  /** Releases every connection this emitter opened. */
  async close(): Promise<void> {
    if (this.ownsClient) await this.redis.quit();
  }
}
