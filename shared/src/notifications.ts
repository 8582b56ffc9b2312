/**
 * Notifications and push (PROTOCOL §3 "Notifications and push", `POST /v1/notify`): the types and
 * schemas shared by nodes, the emitter and clients.
 */
import Joi from "joi";
import { epochMs, userId } from "./schemas";

export type NotificationPriority = "low" | "normal" | "high" | "urgent";
export const NOTIFICATION_PRIORITIES: readonly NotificationPriority[] = ["low", "normal", "high", "urgent"];
/** Types the product speaks of; any other type matching the pattern is allowed too. */
export const KNOWN_NOTIFICATION_TYPES = ["milestone_achieved", "review_reminder", "peer_message", "achievement_unlocked", "intervention_alert"] as const;

/** Default inbox lifetime of a notification (7 days), and the longest allowed (30 days). */
export const NOTIFICATION_TTL_DEFAULT_S = 7 * 24 * 3600;
export const NOTIFICATION_TTL_MAX_S = 30 * 24 * 3600;
/** The newest notifications kept per user; older ones leave the inbox. */
export const INBOX_SIZE = 1000;
export const NOTIFICATION_LIST_DEFAULT = 50;
export const NOTIFICATION_LIST_MAX = 200;
/** The most push devices one user may register. */
export const PUSH_DEVICES_MAX = 20;

export interface Notification {
  id: string;
  userId: string;
  type: string;
  priority: NotificationPriority;
  title: string;
  body: string;
  data: Record<string, unknown>;
  /** ms since the epoch. */
  createdAt: number;
  expiresAt: number;
  read: boolean;
}

/** A notification as queued and filed in the inbox, by nodes and the emitter alike. */
export interface QueuedNotification extends Omit<Notification, "read"> {
  tenant: string;
}

/** Entries kept in the notification stream (approximately); acked ones are only history. */
export const NOTIFICATION_QUEUE_MAX_LEN = 100_000;

/** The notification a validated request becomes, with its defaults applied. */
export function queuedNotification(tenant: string, id: string, request: NotifyRequest, now: number): QueuedNotification {
  return {
    tenant,
    id,
    userId: request.userId,
    type: request.type,
    priority: request.priority ?? "normal",
    title: request.title,
    body: request.body,
    data: request.data ?? {},
    createdAt: now,
    expiresAt: now + (request.ttl ?? NOTIFICATION_TTL_DEFAULT_S) * 1000,
  };
}

/** What a service asks for: `POST /v1/notify` and the emitter's `notify(userId, …)`. */
export interface NotifyRequest {
  userId: string;
  type: string;
  priority?: NotificationPriority;
  title: string;
  body: string;
  data?: Record<string, unknown>;
  /** Seconds the notification stays in the inbox. */
  ttl?: number;
  /**
   * Makes the request idempotent: another request for the same user with the same id, while the
   * first notification lives, queues nothing and answers the first one's id (`duplicate: true`).
   */
  clientNotifyId?: string;
}

/**
 * How the notification is set to travel, as seen when it was accepted: `socket` (a device is
 * online; push follows if none acks in time), `push` (offline, with push devices), `inbox` (offline,
 * no push device: it waits in the inbox).
 */
export type NotifyDelivery = "socket" | "push" | "inbox";

export interface NotifyResult {
  id: string;
  delivery: NotifyDelivery;
  /** True when `clientNotifyId` matched an earlier request: `id` is that one's, nothing was queued again. */
  duplicate?: true;
}

export type PushPlatform = "fcm" | "apns" | "webpush";
export const PUSH_PLATFORMS: readonly PushPlatform[] = ["fcm", "apns", "webpush"];

export interface WebPushSubscription {
  endpoint: string;
  keys: { p256dh: string; auth: string };
  expirationTime?: number | null;
}

export interface PushRegisterPayload {
  platform: PushPlatform;
  token?: string;
  subscription?: WebPushSubscription;
}

export interface NotificationListPayload {
  unreadOnly?: boolean;
  limit?: number;
}

export interface NotificationRefPayload {
  id: string;
}

export const NOTIFICATION_TYPE_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;
export const NOTIFICATION_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const base64Url = /^[A-Za-z0-9_-]+={0,2}$/;
/**
 * FCM and APNs tokens are printable ASCII. Anything else is refused here: a stored device is read
 * back by a Redis script (cjson), which cannot decode a lone surrogate and would then fail every
 * later registration of that user.
 */
export const PUSH_TOKEN_PATTERN = /^[\x21-\x7e]+$/;

export const notificationId = Joi.string().pattern(NOTIFICATION_ID_PATTERN, "notification id");
const clientNotifyId = Joi.string().pattern(/^[A-Za-z0-9_.:-]{1,64}$/, "client notify id");

/** Fields of a notification request, shared by `POST /v1/notify` and the emitter. */
export const notifyFields = {
  userId: userId.required(),
  type: Joi.string().pattern(NOTIFICATION_TYPE_PATTERN, "notification type").required(),
  priority: Joi.string().valid(...NOTIFICATION_PRIORITIES),
  title: Joi.string().min(1).max(256).required(),
  body: Joi.string().max(4096).allow("").required(),
  data: Joi.object().unknown(true),
  ttl: Joi.number().integer().min(1).max(NOTIFICATION_TTL_MAX_S),
  clientNotifyId,
};
export const notifyRequest = Joi.object<NotifyRequest>(notifyFields);

export const pushRegisterFields = {
  platform: Joi.string()
    .valid(...PUSH_PLATFORMS)
    .required(),
  token: Joi.string().max(4096).pattern(PUSH_TOKEN_PATTERN, "push token (printable ASCII)").when("platform", { is: "webpush", then: Joi.forbidden(), otherwise: Joi.required() }),
  subscription: Joi.object({
    endpoint: Joi.string().uri({ scheme: ["https"] }).max(2048).required(),
    keys: Joi.object({
      p256dh: Joi.string().pattern(base64Url, "URL-safe base64").max(256).required(),
      auth: Joi.string().pattern(base64Url, "URL-safe base64").max(64).required(),
    }).required(),
    expirationTime: Joi.number().integer().min(0).allow(null),
  }).when("platform", { is: "webpush", then: Joi.required(), otherwise: Joi.forbidden() }),
};

const notificationRef = Joi.object({ id: notificationId.required() });

export const notificationSchemas = {
  "notification:ack": notificationRef,
  "notification:read": notificationRef,
  "notification:list": Joi.object({
    unreadOnly: Joi.boolean(),
    limit: Joi.number().integer().min(1).max(NOTIFICATION_LIST_MAX),
  }),
  "push:register": Joi.object(pushRegisterFields),
  "push:unregister": Joi.object({ id: Joi.string().pattern(NOTIFICATION_ID_PATTERN, "push device id").required() }),
} as const;

/* Response schemas (the OpenAPI document's; nodes do not validate their answers with them). */
export const notificationSchema = Joi.object<Notification>({
  id: notificationId.required(),
  userId: userId.required(),
  type: Joi.string().required(),
  priority: Joi.string().valid(...NOTIFICATION_PRIORITIES).required(),
  title: Joi.string().required(),
  body: Joi.string().allow("").required(),
  data: Joi.object().unknown(true).required(),
  createdAt: epochMs.required(),
  expiresAt: epochMs.required(),
  read: Joi.boolean().required(),
}).id("Notification");

export const notifyResultSchema = Joi.object<NotifyResult>({
  id: notificationId.required(),
  delivery: Joi.string().valid("socket", "push", "inbox").required().description("socket: a device is online; push: sent to push devices; inbox: stored only"),
});
