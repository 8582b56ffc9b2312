/**
 * Who a command or request speaks for, whichever way it came (socket session or REST token).
 */
import { AppError } from "@switchboard/shared";
import { ROLE_ADMIN, ROLE_SERVICE } from "./tokens";

export interface Actor {
  tenant: string;
  userId: string;
  name?: string;
  /** Set for socket commands; REST calls have no device. */
  deviceId?: string;
  roles: readonly string[];
}

/** Backend services and admins act for their whole tenant (no membership needed). */
export function isPrivileged(actor: Actor): boolean {
  return actor.roles.includes(ROLE_SERVICE) || actor.roles.includes(ROLE_ADMIN);
}

/** Refuses (FORBIDDEN) an actor that is not privileged; `what` completes "only a service or an admin may …". */
export function requirePrivileged(actor: Actor, what: string): void {
  if (!isPrivileged(actor)) throw new AppError("FORBIDDEN", `only a service or an admin may ${what}`);
}
