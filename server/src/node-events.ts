/**
 * What happens on a node that capabilities react to, without the session and cluster code
 * knowing the capabilities: a presence change made here (a device came or went, a node was
 * swept, a status was set) is announced by whoever listens.
 */
import { EventEmitter } from "node:events";
import type { PresenceRecord } from "./engine";

export type PresenceChangeReason = "connect" | "disconnect" | "status" | "sweep" | "reconcile";

export interface NodeEventMap {
  /** A presence change this node made in the store: announce it exactly once. */
  presence: [tenant: string, record: PresenceRecord, reason: PresenceChangeReason];
}

export class NodeEvents extends EventEmitter<NodeEventMap> {}
