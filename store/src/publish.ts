/**
 * Publishing into a room, as a node's rooms service and the emitter both do it: the message built
 * from the request, stored and delivered by the history in one step, and the protocol's answer or
 * refusal — for a retried `clientMsgId`, the first publish's id and position.
 */
import { AppError, assertNotReserved, type MessageSender, type PublishPayload, type PublishResult } from "@switchboard/shared";
import { duplicatePosition } from "./messages";
import type { RoomHistory } from "./types";

/** `kind` of a message published without one. */
export const DEFAULT_MESSAGE_KIND = "text";

export interface RoomPublish {
  tenant: string;
  room: string;
  from: MessageSender;
  input: PublishPayload;
  /** Refuse unless this user is a member (undefined: a service publishing anywhere in its tenant). */
  memberRequired?: string;
  historySize: number;
  historyTtlS: number;
  idleTtlS: number;
}

/** Stores and delivers the message and answers it; FORBIDDEN for a reserved room or a sender who is not a member, NOT_FOUND for a missing room. */
export async function publishMessage(history: RoomHistory, request: RoomPublish): Promise<PublishResult> {
  const { tenant, room, from, input, memberRequired, historySize, historyTtlS, idleTtlS } = request;
  assertNotReserved(room);
  const ts = Date.now();
  const { kind = DEFAULT_MESSAGE_KIND, data, priority = "normal", replyTo, clientMsgId } = input;
  const message = { from, kind, data, ts, priority, ...(replyTo === undefined ? {} : { replyTo }) };
  const outcome = await history.publish({ tenant, room, message, memberRequired, clientMsgId, historySize, historyTtlS, idleTtlS });
  if (outcome.status === "missing") throw new AppError("NOT_FOUND", `room ${room} does not exist`);
  if (outcome.status === "forbidden") throw new AppError("FORBIDDEN", `only members publish to room ${room}`);
  if (outcome.status === "published") return { id: outcome.id, ts, seq: outcome.seq, epoch: outcome.epoch };
  const first = await history.message(tenant, room, outcome.id);
  return { id: outcome.id, ts: first?.ts ?? Number(outcome.id.split("-")[0]), ...duplicatePosition(outcome, first), duplicate: true };
}
