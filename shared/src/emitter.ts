/**
 * What the emitter (PROTOCOL §5) and the nodes agree on beyond keys and scripts: the Socket.IO
 * adapter's channels, and which event names a backend service may emit freely.
 */
import Joi from "joi";

/** The uid the emitter's adapter packets carry: every node delivers them (none takes them for its own). */
export const EMITTER_UID = "emitter";
/** The adapter's channel prefix (socket.io's default; nodes keep it so the emitter reaches them). */
export const ADAPTER_CHANNEL_PREFIX = "socket.io";

/** Event names that belong to the protocol or to Socket.IO: the emitter sends them only through their own methods. */
const PROTOCOL_EVENTS = new Set(["session", "notification", "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener", "error"]);
const PROTOCOL_EVENT_PREFIXES = ["room:", "message:", "presence:", "sync:", "notification:", "push:", "workspace:", "agent:", "command:", "system:", "leaderboard:", "stream:", "doc:"];

export const CUSTOM_EVENT_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

/** True for an event of the protocol (or Socket.IO's own), which `emit`/`broadcast` refuse. */
export function isProtocolEvent(event: string): boolean {
  return PROTOCOL_EVENTS.has(event) || PROTOCOL_EVENT_PREFIXES.some((prefix) => event.startsWith(prefix));
}

/** A custom event name a service may emit to users or broadcast to its tenant. */
export const customEventName = Joi.string()
  .pattern(CUSTOM_EVENT_PATTERN, "event name")
  .custom((value: string, helpers) => (isProtocolEvent(value) ? helpers.error("event.protocol") : value))
  .messages({ "event.protocol": "{{#label}} is an event of the protocol; send it through its own method (room().publish, notify, workspace().update, agent())" });
