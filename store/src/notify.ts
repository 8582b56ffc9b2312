/**
 * Accepting a notification, as `POST /v1/notify`, a leaderboard achievement and the emitter all
 * do it: queued first (durable: delivered even if no node reads at this instant), then filed in
 * the user's inbox so the user can list it at once. Delivery itself is the nodes' (the queue's
 * consumer group).
 */
import { randomUUID } from "node:crypto";
import { queuedNotification, type NotifyDelivery, type NotifyRequest, type NotifyResult } from "@switchboard/shared";
import type { NotificationInbox, NotificationQueue, PresenceRegistry, PushDeviceRegistry, StoredNotification } from "./types";

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

/** Queues a validated request as a notification of the tenant, files it in the inbox, and answers it. */
export async function queueNotification(stores: NotificationStores, tenant: string, request: NotifyRequest): Promise<StoredNotification> {
  const notification = queuedNotification(tenant, randomUUID(), request, Date.now());
  await stores.notifications.enqueue(notification);
  await stores.inbox.put(notification);
  return notification;
}

/** How a notification will reach the user: a device online, else push devices, else the inbox. */
export async function plannedDelivery(stores: DeliveryPlanStores, tenant: string, userId: string): Promise<NotifyDelivery> {
  if ((await stores.presence.devices(tenant, userId)).length > 0) return "socket";
  return (await stores.pushDevices.list(tenant, userId)).length > 0 ? "push" : "inbox";
}

/** `POST /v1/notify`: queues and files the notification; answers its id and the path it is set on. */
export async function notifyUser(stores: NotificationStores & DeliveryPlanStores, tenant: string, request: NotifyRequest): Promise<NotifyResult> {
  const notification = await queueNotification(stores, tenant, request);
  return { id: notification.id, delivery: await plannedDelivery(stores, tenant, request.userId) };
}
