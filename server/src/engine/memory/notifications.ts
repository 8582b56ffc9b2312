/**
 * Notifications for the memory engine: a queue with the consumer-group semantics of the Redis
 * stream (pending entries, idle time, claims), the inbox and push devices. One node, same rules.
 */
import { compositeKey, INBOX_SIZE, type Notification } from "@switchboard/shared";
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

interface Pending {
  entry: NotificationEntry;
  consumer: string;
  /** When the entry was last delivered or touched (ms). */
  since: number;
}

/** How often expired `clientNotifyId`s are forgotten. */
const ONCE_SWEEP_INTERVAL_MS = 60_000;

export class MemoryNotificationQueue implements NotificationQueue {
  private readonly fresh: NotificationEntry[] = [];
  private readonly pending = new Map<string, Pending>();
  private readonly waiters = new Set<() => void>();
  /** `clientNotifyId`s seen, per user: the id queued and until when it is remembered. */
  private readonly once = new Map<string, { id: string; expiresAt: number }>();
  /** Forgets expired `clientNotifyId`s now and then (a lookup checks expiry itself). */
  private readonly sweeper = setInterval(() => this.sweepOnce(), ONCE_SWEEP_INTERVAL_MS).unref();
  private seq = 0;

  async enqueue(notification: StoredNotification, clientNotifyId?: string): Promise<string> {
    const now = Date.now();
    const onceKey = clientNotifyId === undefined ? undefined : compositeKey(notification.tenant, notification.userId, clientNotifyId);
    const prior = onceKey === undefined ? undefined : this.once.get(onceKey);
    if (prior && prior.expiresAt > now) return prior.id;
    this.fresh.push({ entryId: `${now}-${this.seq++}`, notification: structuredClone(notification) });
    if (onceKey !== undefined) this.once.set(onceKey, { id: notification.id, expiresAt: now + notification.expiresAt - notification.createdAt });
    for (const wake of this.waiters) wake();
    return notification.id;
  }

  async read(consumer: string, count: number, blockMs: number): Promise<NotificationEntry[]> {
    if (this.fresh.length === 0 && blockMs > 0) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, blockMs);
        this.waiters.add(done);
      });
    }
    const taken = this.fresh.splice(0, count);
    for (const entry of taken) this.pending.set(entry.entryId, { entry, consumer, since: Date.now() });
    return taken.map((e) => structuredClone(e));
  }

  async claim(consumer: string, minIdleMs: number, count: number): Promise<NotificationEntry[]> {
    const now = Date.now();
    const claimed: NotificationEntry[] = [];
    for (const p of this.pending.values()) {
      if (claimed.length >= count) break;
      if (now - p.since < minIdleMs) continue;
      p.consumer = consumer;
      p.since = now;
      claimed.push(structuredClone(p.entry));
    }
    return claimed;
  }

  async touch(consumer: string, entryIds: readonly string[]): Promise<void> {
    for (const id of entryIds) {
      const p = this.pending.get(id);
      if (p && p.consumer === consumer) p.since = Date.now();
    }
  }

  async ack(entryIds: readonly string[]): Promise<void> {
    for (const id of entryIds) this.pending.delete(id);
  }

  /** Wakes blocked reads so a closing node does not wait for them. */
  close(): void {
    clearInterval(this.sweeper);
    for (const wake of this.waiters) wake();
  }

  private sweepOnce(): void {
    const now = Date.now();
    for (const [key, entry] of this.once) if (entry.expiresAt <= now) this.once.delete(key);
  }
}

interface Delivery {
  emittedAt?: number;
  acked: boolean;
  sent: Set<string>;
  /** deviceId -> the lease: its owner node and expiry (ms). */
  leases: Map<string, { owner: string; until: number }>;
}

interface UserInbox {
  items: Map<string, { notification: StoredNotification; read: boolean; delivery: Delivery }>;
}

const userKey = (tenant: string, userId: string) => compositeKey(tenant, userId);

export class MemoryNotificationInbox implements NotificationInbox {
  private readonly users = new Map<string, UserInbox>();

  async put(notification: StoredNotification): Promise<boolean> {
    if (notification.expiresAt <= Date.now()) return false;
    const inbox = this.inbox(notification.tenant, notification.userId, true);
    if (inbox.items.has(notification.id)) return false;
    inbox.items.set(notification.id, { notification: structuredClone(notification), read: false, delivery: { acked: false, sent: new Set(), leases: new Map() } });
    // Keep the newest INBOX_SIZE, by creation time as the Redis engine orders them.
    if (inbox.items.size > INBOX_SIZE) {
      const oldest = [...inbox.items.values()].sort((a, b) => a.notification.createdAt - b.notification.createdAt || cmp(a.notification.id, b.notification.id));
      for (const item of oldest.slice(0, inbox.items.size - INBOX_SIZE)) inbox.items.delete(item.notification.id);
    }
    return true;
  }

  async get(tenant: string, userId: string, id: string): Promise<Notification | undefined> {
    const item = this.inbox(tenant, userId, false)?.items.get(id);
    return item && toNotification(item.notification, item.read);
  }

  async list(tenant: string, userId: string, query: InboxQuery): Promise<Notification[]> {
    const inbox = this.inbox(tenant, userId, false);
    if (!inbox) return [];
    return [...inbox.items.values()]
      .filter((item) => !query.unreadOnly || !item.read)
      .sort((a, b) => b.notification.createdAt - a.notification.createdAt || cmp(b.notification.id, a.notification.id))
      .slice(0, query.limit)
      .map((item) => toNotification(item.notification, item.read));
  }

  async markRead(tenant: string, userId: string, id: string): Promise<boolean> {
    const item = this.inbox(tenant, userId, false)?.items.get(id);
    if (!item) return false;
    item.read = true;
    return true;
  }

  async markAcked(tenant: string, userId: string, id: string): Promise<boolean> {
    const item = this.inbox(tenant, userId, false)?.items.get(id);
    if (!item) return false;
    item.delivery.acked = true;
    return true;
  }

  async isAcked(tenant: string, userId: string, id: string): Promise<boolean> {
    return this.inbox(tenant, userId, false)?.items.get(id)?.delivery.acked ?? false;
  }

  async markEmitted(tenant: string, userId: string, id: string, at: number): Promise<number> {
    const item = this.inbox(tenant, userId, false)?.items.get(id);
    if (!item) return at;
    item.delivery.emittedAt ??= at;
    return item.delivery.emittedAt;
  }

  async claimPush(tenant: string, userId: string, id: string, deviceId: string, lease: PushLease): Promise<PushClaim> {
    const delivery = this.inbox(tenant, userId, false)?.items.get(id)?.delivery;
    if (!delivery) return { status: "claimed" };
    if (delivery.sent.has(deviceId)) return { status: "sent" };
    const now = Date.now();
    const held = delivery.leases.get(deviceId);
    if (held && held.until > now && held.owner !== lease.takeOverFrom) return { status: "busy", owner: held.owner };
    delivery.leases.set(deviceId, { owner: lease.owner, until: now + lease.leaseMs });
    return { status: "claimed" };
  }

  async pushSent(tenant: string, userId: string, id: string, deviceId: string): Promise<void> {
    const delivery = this.inbox(tenant, userId, false)?.items.get(id)?.delivery;
    delivery?.sent.add(deviceId);
    delivery?.leases.delete(deviceId);
  }

  /** The user's inbox without expired notifications. */
  private inbox(tenant: string, userId: string, create: true): UserInbox;
  private inbox(tenant: string, userId: string, create: false): UserInbox | undefined;
  private inbox(tenant: string, userId: string, create: boolean): UserInbox | undefined {
    const key = userKey(tenant, userId);
    let inbox = this.users.get(key);
    if (inbox) {
      const now = Date.now();
      for (const [id, item] of inbox.items) if (item.notification.expiresAt <= now) inbox.items.delete(id);
      if (inbox.items.size === 0 && !create) {
        this.users.delete(key);
        inbox = undefined;
      }
    }
    if (!inbox && create) {
      inbox = { items: new Map() };
      this.users.set(key, inbox);
    }
    return inbox;
  }
}

export class MemoryPushDevices implements PushDeviceRegistry {
  private readonly users = new Map<string, Map<string, PushDeviceRecord>>();

  async register(tenant: string, userId: string, device: PushDeviceRecord, max: number): Promise<{ id: string; created: boolean } | "full"> {
    const devices = this.users.get(userKey(tenant, userId)) ?? new Map<string, PushDeviceRecord>();
    const same = [...devices.values()].find((d) => pushAddress(d) === pushAddress(device));
    if (same) return { id: same.id, created: false };
    if (devices.size >= max) return "full";
    devices.set(device.id, structuredClone(device));
    this.users.set(userKey(tenant, userId), devices);
    return { id: device.id, created: true };
  }

  async unregister(tenant: string, userId: string, id: string): Promise<boolean> {
    return this.users.get(userKey(tenant, userId))?.delete(id) ?? false;
  }

  async list(tenant: string, userId: string): Promise<PushDeviceRecord[]> {
    return [...(this.users.get(userKey(tenant, userId))?.values() ?? [])].sort((a, b) => a.createdAt - b.createdAt || cmp(a.id, b.id)).map((d) => structuredClone(d));
  }
}

function toNotification(stored: StoredNotification, read: boolean): Notification {
  const { tenant: _tenant, ...notification } = stored;
  return { ...structuredClone(notification), read };
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
