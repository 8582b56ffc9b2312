/**
 * Notifications: each one the server sends is handed to the app once and acknowledged at once
 * (which stops the push fallback). After a reconnect, and when the node says its subscription
 * came back (`session:resync`), the inbox is read, and notifications that did not arrive live are
 * handed over (and acknowledged) too.
 */
import type { Notification, NotificationListPayload } from "@switchboard/shared";
import type { Client } from "./client.js";
import { Emitter } from "./emitter.js";

export interface NotificationEvents {
  notification: (notification: Notification, meta: { replayed: boolean }) => void;
}

const SEEN_MAX = 1000;

export class Notifications extends Emitter<NotificationEvents> {
  private readonly seen = new Set<string>();
  /** Notifications created before this (the first session's server time) are not handed over on restore. */
  private since?: number;

  constructor(
    private readonly client: Client,
    private readonly autoAck: boolean,
  ) {
    super();
    client.subs.add(this);
  }

  /** The inbox, newest first. */
  async list(options: NotificationListPayload = {}): Promise<Notification[]> {
    return (await this.client.request("notification:list", options)).notifications;
  }

  /** Marks a notification read. */
  async read(id: string): Promise<void> {
    await this.client.request("notification:read", { id });
  }

  /** Acknowledges delivery (done at once unless `autoAck: false`). */
  async ack(id: string): Promise<void> {
    await this.client.request("notification:ack", { id });
  }

  /** @internal */
  receive(notification: Notification, replayed = false): void {
    if (this.autoAck) this.ack(notification.id).catch((err: unknown) => this.client.report(err));
    if (this.seen.has(notification.id)) return;
    this.seen.add(notification.id);
    if (this.seen.size > SEEN_MAX) this.seen.delete(this.seen.values().next().value!);
    this.emit("notification", notification, { replayed });
  }

  /** @internal After a reconnect: what arrived in the inbox while disconnected. */
  async restore(): Promise<void> {
    if (this.since === undefined) {
      this.since = this.client.session!.serverTime;
      return;
    }
    await this.catchUp();
  }

  /** @internal What the inbox holds that was not handed over (after a reconnect, or `session:resync`). */
  async catchUp(): Promise<void> {
    if (this.since === undefined || this.listenerCount("notification") === 0) return;
    const { notifications } = await this.client.call("notification:list", { limit: 50 });
    for (const n of notifications.reverse()) if (n.createdAt >= this.since && !this.seen.has(n.id)) this.receive(n, true);
  }
}
