/**
 * Notifications: accepting them (REST, emitter), the caller's inbox, acks and reads, and the
 * caller's push devices. Delivery itself is NotificationDelivery's.
 */
import { randomUUID } from "node:crypto";
import {
  AppError,
  NOTIFICATION_LIST_DEFAULT,
  PUSH_DEVICES_MAX,
  type Notification,
  type NotificationListPayload,
  type NotifyRequest,
  type NotifyResult,
  type PushRegisterPayload,
} from "@switchboard/shared";
import type { Actor } from "../../auth/actor";
import { notifyUser, type Engine, type PushDeviceRecord } from "../../engine";
import type { WebPushEndpointPolicy } from "../../push/endpoint-guard";
import type { NotificationDelivery } from "./delivery";

export interface NotificationServiceDeps {
  engine: Engine;
  delivery: NotificationDelivery;
  /** Which Web Push endpoints may be registered (public https hosts, WEBPUSH_ALLOWED_HOSTS). */
  webPushEndpoints: WebPushEndpointPolicy;
}

export class NotificationService {
  constructor(private readonly deps: NotificationServiceDeps) {}

  /** Queues first (durable), then files in the inbox so the user can list it at once (as the emitter does). */
  async notify(actor: Actor, request: NotifyRequest): Promise<NotifyResult> {
    return notifyUser(this.deps.engine, actor.tenant, request);
  }

  async list(actor: Actor, query: NotificationListPayload): Promise<Notification[]> {
    return this.deps.engine.inbox.list(actor.tenant, actor.userId, { unreadOnly: query.unreadOnly ?? false, limit: query.limit ?? NOTIFICATION_LIST_DEFAULT });
  }

  async read(actor: Actor, id: string): Promise<void> {
    if (!(await this.deps.engine.inbox.markRead(actor.tenant, actor.userId, id))) throw notFound(id);
  }

  /** Delivered: stops the push fallback (read state is separate). */
  async ack(actor: Actor, id: string): Promise<void> {
    if (!(await this.deps.engine.inbox.markAcked(actor.tenant, actor.userId, id))) throw notFound(id);
    this.deps.delivery.acked(id);
  }

  async registerPush(actor: Actor, payload: PushRegisterPayload): Promise<{ id: string; created: boolean }> {
    if (payload.platform === "webpush") {
      const problem = this.deps.webPushEndpoints.problem(payload.subscription!.endpoint);
      if (problem !== undefined) {
        const message = `subscription.endpoint ${problem}`;
        throw new AppError("VALIDATION_FAILED", `invalid payload: ${message}`, [{ path: "subscription.endpoint", message, type: "webpush.endpoint" }]);
      }
    }
    const base = { id: `pd-${randomUUID()}`, createdAt: Date.now() };
    const device: PushDeviceRecord =
      payload.platform === "webpush"
        ? { ...base, platform: "webpush", subscription: payload.subscription! }
        : { ...base, platform: payload.platform, token: payload.token! };
    const registered = await this.deps.engine.pushDevices.register(actor.tenant, actor.userId, device, PUSH_DEVICES_MAX);
    if (registered === "full") {
      throw new AppError("VALIDATION_FAILED", `a user has at most ${PUSH_DEVICES_MAX} push devices; unregister one first`, { limit: PUSH_DEVICES_MAX });
    }
    return registered;
  }

  async unregisterPush(actor: Actor, id: string): Promise<void> {
    if (!(await this.deps.engine.pushDevices.unregister(actor.tenant, actor.userId, id))) throw new AppError("NOT_FOUND", `push device ${id} is not registered`);
  }
}

const notFound = (id: string) => new AppError("NOT_FOUND", `notification ${id} is not in the inbox`);
