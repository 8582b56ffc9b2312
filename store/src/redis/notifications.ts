/**
 * Notifications in Redis: a stream read by every node through one consumer group (exactly one
 * owner per entry, XAUTOCLAIM for entries of a dead node), and per-user inbox, delivery state and
 * push devices, each changed by one script on the user's slot.
 */
import { INBOX_SIZE, inboxKeys, NOTIFICATION_QUEUE_MAX_LEN, type KeyLayout, type Notification } from "@switchboard/shared";
import {
  pushAddress,
  type InboxQuery,
  type NotificationEntry,
  type NotificationInbox,
  type NotificationQueue,
  type PushClaim,
  type PushLease,
  type PushDeviceRecord,
  type PushDeviceRegistry,
  type StoredNotification,
} from "../types";
import type { RedisClient } from "../script";
import { RedisScript } from "../script";
import { LUA } from "../lua.generated";

/** The consumer group every node reads the notification stream through. */
export const NOTIFICATION_GROUP = "switchboard";

type StreamEntry = [id: string, fields: string[]];

export class RedisNotificationQueue implements NotificationQueue {
  /** XREADGROUP BLOCK holds its connection, so reads get their own. */
  private blocking?: RedisClient;
  private groupReady = false;
  private claimCursor = "0-0";
  private closed = false;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: KeyLayout,
    /** The connection reads block on; a queue that is only appended to (the emitter's) needs none. */
    private readonly openBlocking?: () => RedisClient,
  ) {}

  async enqueue(notification: StoredNotification, clientNotifyId?: string): Promise<string> {
    const { tenant, userId, id } = notification;
    const queue = this.keys.notificationQueue();
    const once = clientNotifyId === undefined ? queue : this.keys.notifyOnce(tenant, userId, clientNotifyId);
    const args = [JSON.stringify(notification), NOTIFICATION_QUEUE_MAX_LEN, clientNotifyId === undefined ? 0 : 1, id, notification.expiresAt - notification.createdAt];
    const [status, prior] = (await queueAppend.run(this.redis, [queue, once], args)) as [string, string?];
    return status === "duplicate" ? String(prior) : id;
  }

  async read(consumer: string, count: number, blockMs: number): Promise<NotificationEntry[]> {
    await this.ensureGroup();
    this.blocking ??= this.blockingClient();
    const reply = (await this.withGroup(() =>
      this.blocking!.xreadgroup("GROUP", NOTIFICATION_GROUP, consumer, "COUNT", count, "BLOCK", blockMs, "STREAMS", this.keys.notificationQueue(), ">"),
    )) as [string, StreamEntry[]][] | null;
    return reply ? parseEntries(reply[0]![1]) : [];
  }

  async claim(consumer: string, minIdleMs: number, count: number): Promise<NotificationEntry[]> {
    await this.ensureGroup();
    const reply = (await this.withGroup(() =>
      this.redis.xautoclaim(this.keys.notificationQueue(), NOTIFICATION_GROUP, consumer, minIdleMs, this.claimCursor, "COUNT", count),
    )) as [string, StreamEntry[], string[]?];
    this.claimCursor = reply[0];
    return parseEntries(reply[1]);
  }

  async touch(consumer: string, entryIds: readonly string[]): Promise<void> {
    if (entryIds.length === 0) return;
    await this.withGroup(() => this.redis.xclaim(this.keys.notificationQueue(), NOTIFICATION_GROUP, consumer, 0, ...entryIds, "JUSTID"));
  }

  async ack(entryIds: readonly string[]): Promise<void> {
    if (entryIds.length === 0) return;
    await this.redis.xack(this.keys.notificationQueue(), NOTIFICATION_GROUP, ...entryIds);
  }

  close(): void {
    this.closed = true;
    this.blocking?.disconnect();
  }

  /**
   * The group starts at the stream's beginning, so notifications appended before any node was
   * reading (an emitter, a node that had not started) are delivered too.
   */
  private async ensureGroup(): Promise<void> {
    if (this.groupReady) return;
    try {
      await this.redis.xgroup("CREATE", this.keys.notificationQueue(), NOTIFICATION_GROUP, "0", "MKSTREAM");
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith("BUSYGROUP")) throw err;
    }
    this.groupReady = true;
  }

  /** A Redis that restarted empty has no group: create it again and retry once. */
  private async withGroup<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith("NOGROUP")) throw err;
      this.groupReady = false;
      this.claimCursor = "0-0";
      await this.ensureGroup();
      return call();
    }
  }

  private blockingClient(): RedisClient {
    if (!this.openBlocking) throw new Error("this notification queue has no connection to read with");
    const client = this.openBlocking();
    client.on("error", () => undefined); // reported through the main clients; reads retry
    if (this.closed) client.disconnect();
    return client;
  }
}

function parseEntries(entries: StreamEntry[]): NotificationEntry[] {
  const out: NotificationEntry[] = [];
  for (const entry of entries) {
    // XAUTOCLAIM answers deleted entries as null fields.
    if (!entry?.[1]) continue;
    const json = entry[1][entry[1].indexOf("n") + 1];
    if (json) out.push({ entryId: entry[0], notification: JSON.parse(json) as StoredNotification });
  }
  return out;
}

const queueAppend = new RedisScript(LUA["notifications/queue-append"]);
const inboxPut = new RedisScript(LUA["notifications/inbox-put"]);
const inboxList = new RedisScript(LUA["notifications/inbox-list"]);
const inboxGet = new RedisScript(LUA["notifications/inbox-get"]);
const inboxMarkRead = new RedisScript(LUA["notifications/inbox-mark-read"]);
const deliveryAck = new RedisScript(LUA["notifications/delivery-ack"]);
const deliveryEmitted = new RedisScript(LUA["notifications/delivery-emitted"]);
const deliveryClaimPush = new RedisScript(LUA["notifications/delivery-claim-push"]);
const deliveryPushSent = new RedisScript(LUA["notifications/delivery-push-sent"]);
const pushRegister = new RedisScript(LUA["notifications/push-register"]);

export class RedisNotificationInbox implements NotificationInbox {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: KeyLayout,
  ) {}

  async put(n: StoredNotification): Promise<boolean> {
    const reply = await inboxPut.run(this.redis, this.inboxKeys(n.tenant, n.userId), [n.id, JSON.stringify(n), n.createdAt, n.expiresAt, INBOX_SIZE]);
    return Number(reply) === 1;
  }

  async get(tenant: string, userId: string, id: string): Promise<Notification | undefined> {
    const [json, read] = (await inboxGet.run(this.redis, this.inboxKeys(tenant, userId), [id])) as [string?, number?];
    return json === undefined ? undefined : toNotification(json, read === 1);
  }

  async list(tenant: string, userId: string, query: InboxQuery): Promise<Notification[]> {
    const reply = (await inboxList.run(this.redis, this.inboxKeys(tenant, userId), [query.unreadOnly ? 1 : 0, query.limit])) as (string | number)[];
    const out: Notification[] = [];
    for (let i = 0; i < reply.length; i += 2) out.push(toNotification(String(reply[i]), reply[i + 1] === 1));
    return out;
  }

  async markRead(tenant: string, userId: string, id: string): Promise<boolean> {
    return Number(await inboxMarkRead.run(this.redis, this.inboxKeys(tenant, userId), [id])) === 1;
  }

  async markAcked(tenant: string, userId: string, id: string): Promise<boolean> {
    return Number(await deliveryAck.run(this.redis, this.deliveryKeys(tenant, userId, id), [id])) === 1;
  }

  async isAcked(tenant: string, userId: string, id: string): Promise<boolean> {
    return (await this.redis.hget(this.keys.notificationDelivery(tenant, userId, id), "acked")) === "1";
  }

  async markEmitted(tenant: string, userId: string, id: string, at: number): Promise<number> {
    return Number(await deliveryEmitted.run(this.redis, this.deliveryKeys(tenant, userId, id), [id, at]));
  }

  async claimPush(tenant: string, userId: string, id: string, deviceId: string, lease: PushLease): Promise<PushClaim> {
    const keys = [...this.deliveryKeys(tenant, userId, id), this.keys.notificationPushLease(tenant, userId, id, deviceId)];
    const [status, owner] = (await deliveryClaimPush.run(this.redis, keys, [id, deviceId, lease.leaseMs, lease.owner, lease.takeOverFrom ?? ""])) as [string, string?];
    if (status === "busy") return { status, owner: String(owner) };
    return { status: status === "sent" ? "sent" : "claimed" };
  }

  async pushSent(tenant: string, userId: string, id: string, deviceId: string): Promise<void> {
    const keys = [...this.deliveryKeys(tenant, userId, id), this.keys.notificationPushLease(tenant, userId, id, deviceId)];
    await deliveryPushSent.run(this.redis, keys, [id, deviceId]);
  }

  private inboxKeys(tenant: string, userId: string): string[] {
    return inboxKeys(this.keys, tenant, userId);
  }

  private deliveryKeys(tenant: string, userId: string, id: string): string[] {
    return [...this.inboxKeys(tenant, userId), this.keys.notificationDelivery(tenant, userId, id)];
  }
}

export class RedisPushDevices implements PushDeviceRegistry {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: KeyLayout,
  ) {}

  async register(tenant: string, userId: string, device: PushDeviceRecord, max: number): Promise<{ id: string; created: boolean } | "full"> {
    const reply = (await pushRegister.run(this.redis, [this.keys.pushDevices(tenant, userId)], [device.id, JSON.stringify(device), pushAddress(device), max])) as [string?, number?];
    return reply[0] === undefined ? "full" : { id: reply[0], created: reply[1] === 1 };
  }

  async unregister(tenant: string, userId: string, id: string): Promise<boolean> {
    return (await this.redis.hdel(this.keys.pushDevices(tenant, userId), id)) === 1;
  }

  async list(tenant: string, userId: string): Promise<PushDeviceRecord[]> {
    const all = await this.redis.hvals(this.keys.pushDevices(tenant, userId));
    const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    return all.map((json) => JSON.parse(json) as PushDeviceRecord).sort((a, b) => a.createdAt - b.createdAt || cmp(a.id, b.id));
  }
}

function toNotification(json: string, read: boolean): Notification {
  const { tenant: _tenant, ...notification } = JSON.parse(json) as StoredNotification;
  return { ...notification, read };
}
