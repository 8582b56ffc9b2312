/**
 * Accepting a notification, as `POST /v1/notify`, a leaderboard achievement and the emitter all
 * do it: queued first (durable: delivered even if no node reads at this instant), then filed in
 * the user's inbox so the user can list it at once. Delivery itself is the nodes' (the queue's
 * consumer group).
 */
import { randomUUID } from "node:crypto";
import { queuedNotification, type NotifyDelivery, type NotifyRequest, type NotifyResult } from "@switchboard/shared";
import type { NotificationInbox, NotificationQueue, PresenceRegistry, PushDeviceRegistry } from "./types";

/** Where a notification is accepted: the queue the nodes deliver from, and the users' inboxes. */
export interface NotificationStores {
  notifications: Pick<NotificationQueue, "enqueue">;
  inbox: Pick<NotificationInbox, "put">;
}

/** What tells how a notification will reach its user. */
export interface DeliveryPlanStores {
  presence: Pick<PresenceRegistry, "devices">;
  pushDevices: Pick<PushDeviceRegistry, "list">;
}

/**
 * Queues a validated request as a notification of the tenant and files it in the inbox; answers
 * its id. A request whose `clientNotifyId` queued one before answers that one's id, `duplicate`
 * (its owner node files it in the inbox, should the first request have stopped before).
 */
export async function queueNotification(stores: NotificationStores, tenant: string, request: NotifyRequest): Promise<{ id: string; duplicate: boolean }> {
  const notification = queuedNotification(tenant, randomUUID(), request, Date.now());
  const id = await stores.notifications.enqueue(notification, request.clientNotifyId);
  if (id !== notification.id) return { id, duplicate: true };
  await stores.inbox.put(notification);
  return { id, duplicate: false };
}

/** How a notification will reach the user: a device online, else push devices, else the inbox. */
export async function plannedDelivery(stores: DeliveryPlanStores, tenant: string, userId: string): Promise<NotifyDelivery> {
  if ((await stores.presence.devices(tenant, userId)).length > 0) return "socket";
  return (await stores.pushDevices.list(tenant, userId)).length > 0 ? "push" : "inbox";
}

/** `POST /v1/notify`: queues and files the notification; answers its id and the path it is set on (read meanwhile). */
export async function notifyUser(stores: NotificationStores & DeliveryPlanStores, tenant: string, request: NotifyRequest): Promise<NotifyResult> {
  const [{ id, duplicate }, delivery] = await Promise.all([queueNotification(stores, tenant, request), plannedDelivery(stores, tenant, request.userId)]);
  return duplicate ? { id, delivery, duplicate: true } : { id, delivery };
}
