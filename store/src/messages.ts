/**
 * Messages as both engines store and deliver them. Message ids are history offsets in the Redis
 * Streams form `<ms>-<seq>`; both engines make and compare them the same way.
 */
import { randomBytes } from "node:crypto";
import type { Message, MessageSender } from "@switchboard/shared";
import type { StoredMessage } from "./types";
export function parseMessageId(id: string): [number, number] {
  const [ms, seq] = id.split("-");
  return [Number(ms), Number(seq)];
}

export function compareMessageIds(a: string, b: string): number {
  const [am, as] = parseMessageId(a);
  const [bm, bs] = parseMessageId(b);
  return am !== bm ? am - bm : as - bs;
}

/** Makes increasing ids the way XADD does: the clock's ms, or the last ms with the next sequence. */
export class MessageIdClock {
  private lastMs = 0;
  private seq = 0;

  next(now = Date.now()): string {
    if (now > this.lastMs) {
      this.lastMs = now;
      this.seq = 0;
    } else {
      this.seq++;
    }
    return `${this.lastMs}-${this.seq}`;
  }
}

/** Where a message stands in its room's history (see Message.seq); absent for messages stored before positions existed. */
export interface MessagePosition {
  seq: number;
  epoch: string;
}

/** This process's epochs: a random prefix, then a count, so none repeats (a publish offers one each time; few are taken). */
const epochPrefix = randomBytes(6).toString("hex");
let epochsOffered = 0;

/** A new history epoch: unique to this process and call, so it never repeats one the room had before. */
export function newEpoch(): string {
  return `${epochPrefix}${(epochsOffered++).toString(16).padStart(4, "0")}`;
}

/**
 * The message as delivered: `id`, `seq`, `epoch` and `room`, then the stored fields in their
 * stored order, as the publish script writes it into the frame other nodes receive.
 */
export function toMessage(room: string, id: string, stored: StoredMessage, position?: MessagePosition): Message {
  const message: Message = position
    ? { id, seq: position.seq, epoch: position.epoch, room, from: stored.from, kind: stored.kind, data: stored.data, ts: stored.ts, priority: stored.priority }
    : { id, room, from: stored.from, kind: stored.kind, data: stored.data, ts: stored.ts, priority: stored.priority };
  if (stored.replyTo !== undefined) message.replyTo = stored.replyTo;
  return message;
}

/** `from` of what a user or service writes (messages, document ops), its fields in the order nodes write them. */
export function senderOf({ userId, deviceId, name }: MessageSender): MessageSender {
  const from: MessageSender = { userId };
  if (deviceId !== undefined) from.deviceId = deviceId;
  if (name !== undefined) from.name = name;
  return from;
}

/**
 * A duplicate publish's answer position: the first publish's, kept with its publish-once key or
 * read from history; `0` and `""` only for a message stored before positions existed.
 */
export function duplicatePosition(outcome: { seq?: number; epoch?: string }, first: Message | undefined): MessagePosition {
  return { seq: outcome.seq ?? first?.seq ?? 0, epoch: outcome.epoch ?? first?.epoch ?? "" };
}
