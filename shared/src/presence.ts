/**
 * Cluster-wide presence (PROTOCOL §3 "Presence"): the types and schemas shared by nodes and clients.
 */
import Joi from "joi";
import { epochMs, userId } from "./schemas";

/** What a user chooses to show while connected. */
export type PresenceStatus = "online" | "away" | "busy" | "dnd" | "in_call";
export const PRESENCE_STATUSES: readonly PresenceStatus[] = ["online", "away", "busy", "dnd", "in_call"];
export const PRESENCE_MESSAGE_MAX = 140;
/** The most users one presence command names. */
export const PRESENCE_USERS_MAX = 100;
/** The most users one connection watches at once. */
export const PRESENCE_WATCH_MAX = 1000;

export interface Presence {
  userId: string;
  /** The chosen status while a device is connected anywhere in the cluster; `offline` otherwise. */
  status: PresenceStatus | "offline";
  message?: string;
  online: boolean;
  /** Connected device ids, sorted. */
  devices: string[];
  /** ms since the epoch of the last change; null when the user was never seen (or long gone). */
  lastSeen: number | null;
  /** Grows with every change of this user's presence: of two updates, the larger rev is newer. */
  rev: number;
}

export interface PresenceSetPayload {
  status: PresenceStatus;
  message?: string;
}
export interface PresenceUsersPayload {
  userIds: string[];
}
export interface PresenceMap {
  presence: Record<string, Presence>;
}

const userIds = Joi.array().items(userId).min(1).max(PRESENCE_USERS_MAX).unique().required();

export const presenceSchemas = {
  "presence:set": Joi.object({
    status: Joi.string()
      .valid(...PRESENCE_STATUSES)
      .required(),
    message: Joi.string().max(PRESENCE_MESSAGE_MAX),
  }),
  "presence:get": Joi.object({ userIds }),
  "presence:watch": Joi.object({ userIds }),
  "presence:unwatch": Joi.object({ userIds }),
} as const;

/** A Presence as REST answers it (the OpenAPI document's schema; not used to validate). */
export const presenceSchema = Joi.object<Presence>({
  userId: userId.required(),
  status: Joi.string().valid(...PRESENCE_STATUSES, "offline").required(),
  message: Joi.string(),
  online: Joi.boolean().required(),
  devices: Joi.array().items(Joi.string()).required(),
  lastSeen: epochMs.allow(null).required(),
  rev: Joi.number().integer().min(0).required(),
}).id("Presence");
