/**
 * The node's share of notification delivery. Every node reads the queue through one consumer
 * group, so each notification has one owner, which:
 *   1. keeps it in the user's inbox (again, in case its producer stopped after queuing it),
 *   2. emits `notification` to the user's online devices on every node, once, and waits up to
 *      NOTIFY_ACK_GRACE_MS for a `notification:ack`,
 *   3. without an ack (or with the user offline) pushes it to each of the user's push devices that
 *      has not had it yet, under a per-device lease, and removes devices whose token is dead,
 *   4. acks the queue entry.
 * An owner that dies leaves its entries pending; another node claims them once they have been idle
 * NOTIFY_CLAIM_IDLE_MS (a live owner keeps touching its entries) and resumes where the delivery
 * state says the first owner stopped: no second emission, no second push to a device that had it.
 * A device whose lease the dead owner still holds (it died before its request, with the request in
 * flight, or after the provider answered but before recording it) is waited for, never skipped:
 * the lease records its owner process (node id and start time), and once that process is no longer
 * live in the node registry (HEARTBEAT_TIMEOUT_MS after its last heartbeat, or at once when a new
 * process of the same NODE_ID took its place) the claimer takes the lease at once and pushes.
 */
import { tenantRoom, userRoom, type Notification } from "@switchboard/shared";
import type { Engine, NotificationEntry, PushDeviceRecord, StoredNotification } from "../../engine";
import type { AppServer } from "../../io";
import type { Logger } from "../../observability/logger";
import type { Metrics } from "../../observability/metrics";
import type { PushMessage, PushOutcome } from "../../push/types";
import { ConsumerGroupWorker } from "../consumer-group-worker";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/** Whatever sends one push to one device (the node's PushDispatcher). */
export interface PushSender {
  send(device: PushDeviceRecord, message: PushMessage): Promise<PushOutcome>;
}

export interface DeliveryOptions {
  ackGraceMs: number;
  claimIdleMs: number;
  /** How long one owner may hold a device's push before another may try (covers the retries). */
  pushLeaseMs: number;
  /** A node is dead when its last heartbeat is older than this (HEARTBEAT_TIMEOUT_MS). */
  heartbeatTimeoutMs: number;
  /** The wait between two claims of a device's push held by a live node; default heartbeatTimeoutMs / 3, at most 1 s. */
  busyRetryMs?: number;
  /**
   * Tests only (SWITCHBOARD_TEST_PAUSE_PUSH, refused unless NODE_ENV=test): every device push
   * stops for good after its lease was taken (`claimed`) or after the provider answered, before
   * the answer is recorded (`answered`), with a log line `push paused for a test`, so a test can
   * kill the node at that point.
   */
  testPausePush?: "claimed" | "answered";
  /** Entries one read asks for, and how long it waits for the first. */
  batch?: number;
  blockMs?: number;
  /** Entries handled at once; reading pauses at this many. */
  maxInFlight?: number;
}

export interface DeliveryDeps {
  nodeId: string;
  /** When this node's process started (its node registry entry's startedAt): with nodeId, who holds a lease. */
  startedAt: number;
  engine: Engine;
  io: AppServer;
  push: PushSender;
  logger: Logger;
  metrics: Metrics;
  options: DeliveryOptions;
}

/** The node stopped while an owned notification waited for its ack. */
class LeftForAnotherNode extends Error {
  constructor() {
    super("node stopping: left for another node");
  }
}

export class NotificationDelivery {
  /** Queue entry id -> its delivery; reading pauses at maxInFlight. */
  private readonly inFlight = new Map<string, Promise<void>>();
  /** Notification id -> wakes its owner early when a device acks on this node. */
  private readonly waiting = new Map<string, () => void>();
  private readonly worker: ConsumerGroupWorker;
  /** What this process's push leases record: a process started again with the same NODE_ID is another owner. */
  private readonly leaseOwner: string;

  constructor(private readonly deps: DeliveryDeps) {
    const { nodeId, engine, logger, options } = deps;
    this.leaseOwner = `${nodeId}@${deps.startedAt}`;
    const { batch = 50, blockMs = 1000, maxInFlight = 1000 } = options;
    this.worker = new ConsumerGroupWorker({
      engine,
      logger,
      log: { event: "notify", readFailed: "notification queue read failed", claimFailed: "notification claim failed", touchFailed: "notification touch failed" },
      claimIdleMs: options.claimIdleMs,
      // The read blocks up to blockMs for new entries, so reads follow one another without a wait.
      pauseMs: 100,
      maxOwned: maxInFlight,
      owned: () => this.inFlight.size,
      read: async () => {
        for (const entry of await engine.notifications.read(nodeId, batch, blockMs)) this.handle(entry);
      },
      claim: () => this.claim(),
      touch: () => engine.notifications.touch(nodeId, [...this.inFlight.keys()]),
      // Owners waiting for an ack give up: their entries stay pending for another node to claim.
      stopping: () => {
        for (const wake of this.waiting.values()) wake();
      },
    });
  }

  start(): void {
    this.worker.start();
  }

  /** Stops taking entries; those in flight stay pending for another node to claim. */
  stop(): Promise<void> {
    return this.worker.stop();
  }

  /** A device acked: an owner waiting on this node pushes nothing. */
  acked(notificationId: string): void {
    this.waiting.get(notificationId)?.();
  }

  private async claim(): Promise<void> {
    const claimed = await this.deps.engine.notifications.claim(this.deps.nodeId, this.deps.options.claimIdleMs, 100);
    for (const entry of claimed) {
      if (this.inFlight.has(entry.entryId)) continue;
      this.deps.logger.info("claimed a notification", { event: "notify", notificationId: entry.notification.id, entryId: entry.entryId });
      this.handle(entry);
    }
  }

  private handle(entry: NotificationEntry): void {
    const task = this.deliver(entry.notification)
      .then(() => this.deps.engine.notifications.ack([entry.entryId]))
      .catch((err: unknown) => {
        // Left pending either way: claimed again after NOTIFY_CLAIM_IDLE_MS, by this node or another.
        const fields = { event: "notify", notificationId: entry.notification.id };
        if (err instanceof LeftForAnotherNode) this.deps.logger.info("notification left pending at shutdown", fields);
        else this.deps.logger.warn("notification delivery failed", { ...fields, error: String(err) });
      })
      .finally(() => this.inFlight.delete(entry.entryId));
    this.inFlight.set(entry.entryId, task);
  }

  private async deliver(n: StoredNotification): Promise<void> {
    const { engine, io, metrics } = this.deps;
    // Filed in the inbox (should the request that queued it have stopped first) while the user's
    // devices are read: two round trips at once.
    const [, devices] = await Promise.all([engine.inbox.put(n), engine.presence.devices(n.tenant, n.userId)]);
    if (n.expiresAt <= Date.now()) {
      metrics.notifications.inc({ channel: "socket", outcome: "expired" });
      return;
    }
    if (devices.length > 0) {
      const now = Date.now();
      const emittedAt = await engine.inbox.markEmitted(n.tenant, n.userId, n.id, now);
      if (emittedAt === now) io.to(tenantRoom(n.tenant, userRoom(n.userId))).emit("notification", toNotification(n));
      await this.waitForAck(n, emittedAt + this.deps.options.ackGraceMs);
      if (await engine.inbox.isAcked(n.tenant, n.userId, n.id)) {
        metrics.notifications.inc({ channel: "socket", outcome: "acked" });
        return;
      }
      metrics.notifications.inc({ channel: "socket", outcome: "unacked" });
    }
    await this.pushAll(n);
  }

  private async waitForAck(n: StoredNotification, deadline: number): Promise<void> {
    const remaining = deadline - Date.now();
    if (remaining <= 0 || !this.worker.running) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiting.delete(n.id);
        resolve();
      };
      const timer = setTimeout(done, remaining);
      this.waiting.set(n.id, done);
    });
    if (!this.worker.running) throw new LeftForAnotherNode();
  }

  private async pushAll(n: StoredNotification): Promise<void> {
    const { engine, push, logger } = this.deps;
    const devices = await engine.pushDevices.list(n.tenant, n.userId);
    const message: PushMessage = {
      notificationId: n.id,
      type: n.type,
      title: n.title,
      body: n.body,
      data: n.data,
      priority: n.priority,
      ttlS: Math.max(1, Math.ceil((n.expiresAt - Date.now()) / 1000)),
    };
    await Promise.all(
      devices.map(async (device) => {
        if (!(await this.claimPush(n, device))) return;
        await this.testPause("claimed", n, device);
        const outcome = await push.send(device, message);
        await this.testPause("answered", n, device);
        if (outcome === "sent") await this.recordSent(n, device);
        if (outcome === "dead") {
          await engine.pushDevices.unregister(n.tenant, n.userId, device.id);
          logger.info("removed a dead push device", { event: "notify", userId: n.userId, platform: device.platform, pushDeviceId: device.id });
        }
      }),
    );
  }

  /**
   * Records that the provider accepted a device's push. The store may be away for a moment (a
   * Redis restarting): the record is tried again while this node runs and holds the lease, since a
   * push left unrecorded is sent again by whoever claims it once the lease lapses.
   */
  private async recordSent(n: StoredNotification, device: PushDeviceRecord): Promise<void> {
    const until = Date.now() + this.deps.options.pushLeaseMs;
    for (let waitMs = 100; ; waitMs = Math.min(2 * waitMs, 2000)) {
      try {
        return await this.deps.engine.inbox.pushSent(n.tenant, n.userId, n.id, device.id);
      } catch (err) {
        if (!this.worker.running || Date.now() + waitMs >= until) throw err;
        await sleep(waitMs);
      }
    }
  }

  /**
   * Takes the lease of one device's push: true to push now, false when the device had it.
   * A lease held by a live node (this one included) is claimed again every busyRetryMs until it is
   * recorded as sent, lapses, or its owner is no longer live (a dead owner's lease is taken at once),
   * or until the notification expires.
   */
  private async claimPush(n: StoredNotification, device: PushDeviceRecord): Promise<boolean> {
    const { engine, logger, options } = this.deps;
    const retryMs = options.busyRetryMs ?? Math.max(50, Math.min(1000, Math.floor(options.heartbeatTimeoutMs / 3)));
    const lease = { owner: this.leaseOwner, leaseMs: options.pushLeaseMs };
    for (;;) {
      if (n.expiresAt <= Date.now()) return false;
      let claim = await engine.inbox.claimPush(n.tenant, n.userId, n.id, device.id, lease);
      if (claim.status === "busy" && claim.owner !== this.leaseOwner && !(await this.isLive(claim.owner))) {
        const deadOwner = claim.owner;
        claim = await engine.inbox.claimPush(n.tenant, n.userId, n.id, device.id, { ...lease, takeOverFrom: deadOwner });
        if (claim.status === "claimed") {
          const dead = parseLeaseOwner(deadOwner);
          logger.info("took over the push of a dead node", { event: "notify", notificationId: n.id, pushDeviceId: device.id, deadNodeId: dead.nodeId, deadStartedAt: dead.startedAt });
        }
      }
      if (claim.status !== "busy") return claim.status === "claimed";
      if (!this.worker.running) throw new LeftForAnotherNode();
      await sleep(retryMs);
    }
  }

  /** Whether the lease owner's process is live (an owner recorded without a start time: any process of its node id). */
  private async isLive(owner: string): Promise<boolean> {
    const { nodeId, startedAt } = parseLeaseOwner(owner);
    const live = await this.deps.engine.nodes.live(this.deps.options.heartbeatTimeoutMs);
    return live.some((node) => node.nodeId === nodeId && (startedAt === undefined || node.startedAt === startedAt));
  }

  private async testPause(point: "claimed" | "answered", n: StoredNotification, device: PushDeviceRecord): Promise<void> {
    if (this.deps.options.testPausePush !== point) return;
    this.deps.logger.info("push paused for a test", { event: "notify", point, notificationId: n.id, pushDeviceId: device.id, platform: device.platform });
    await new Promise<never>(() => undefined);
  }
}

/** `<nodeId>@<startedAt>` (node ids have no `@`), or a bare node id as leases recorded before. */
function parseLeaseOwner(owner: string): { nodeId: string; startedAt?: number } {
  const at = owner.lastIndexOf("@");
  return at < 0 ? { nodeId: owner } : { nodeId: owner.slice(0, at), startedAt: Number(owner.slice(at + 1)) };
}

export function toNotification(n: StoredNotification, read = false): Notification {
  const { tenant: _tenant, ...rest } = n;
  return { ...rest, read };
}
