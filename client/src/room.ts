/**
 * A room: join once, and the SDK keeps it joined. It tracks the last message id seen and, after
 * every reconnect, joins again with `since`, so the app gets each message it missed exactly once
 * and in order (live messages that arrive meanwhile wait until the missed ones are handed over).
 */
import type { CursorEvent, HistoryPage, HistoryQuery, MemberEvent, Message, PublishPayload, PublishResult, ReceiptEvent, RoomInfo, RoomJoinResult, TypingEvent } from "@switchboard/shared";
import type { Client } from "./client.js";
import { Emitter } from "./emitter.js";
import type { SwitchboardError } from "./errors.js";
import { randomId } from "./id.js";

export interface RoomEvents {
  /** A message, once, in id order; `replayed` when it was missed while disconnected. */
  message: (message: Message, meta: { replayed: boolean }) => void;
  /** History no longer reaches back to the last message seen: some were lost; refetch. */
  gap: (info: { room: string; lastId: string }) => void;
  /** Each (re)join's answer. */
  joined: (result: RoomJoinResult) => void;
  member_joined: (event: MemberEvent) => void;
  member_left: (event: MemberEvent) => void;
  typing: (event: TypingEvent) => void;
  cursor: (event: CursorEvent) => void;
  receipt: (event: ReceiptEvent) => void;
  error: (error: Error) => void;
}

export interface JoinOptions {
  /** Start after this message id (e.g. one the app kept): every later message is handed over. */
  since?: string;
}

/** `since` of a room that had no message when it was first joined. */
const EMPTY = "0-0";
const PAGE = 500;

/** Orders `<ms>-<seq>` message ids. */
export function compareIds(a: string, b: string): number {
  const [am, as] = a.split("-").map(Number) as [number, number];
  const [bm, bs] = b.split("-").map(Number) as [number, number];
  return am - bm || as - bs;
}

export class Room extends Emitter<RoomEvents> {
  /** The newest message id handed to the app (or the start point). */
  lastId?: string;
  info?: RoomInfo;
  /** Kept joined across reconnects. */
  joined = false;
  /** Live messages held while a (re)join's missed messages are handed over. */
  private held: Message[] | null = null;
  private publishes = 0;

  constructor(
    private readonly client: Client,
    readonly id: string,
  ) {
    super();
  }

  /**
   * Joins (waiting for a connection if there is none) and stays joined. The first join starts
   * after the room's newest message (or `since`), so every later message reaches the app.
   */
  join(options: JoinOptions = {}): Promise<RoomJoinResult> {
    if (options.since) this.lastId = options.since;
    return this.client.whenLive(async () => {
      const result = await this.rejoin();
      if (!this.joined) {
        this.joined = true;
        this.client.subs.add(this);
      }
      return result;
    });
  }

  /** Leaves the room (queued while offline) and stops restoring it. */
  async leave(): Promise<void> {
    this.joined = false;
    this.client.subs.delete(this);
    await this.client.request("room:leave", { room: this.id });
  }

  /**
   * Publishes (queued while offline). Each publish carries a `clientMsgId`, so a retry after a lost
   * connection is stored and delivered once. Publishes of a room are sent one after another.
   */
  async publish(data: unknown, options: Omit<PublishPayload, "data"> = {}): Promise<PublishResult> {
    const payload = { room: this.id, data, ...options, clientMsgId: options.clientMsgId ?? `${this.client.deviceId ?? "c"}.${randomId()}.${++this.publishes}`.slice(-64) };
    const { id, ts, seq, epoch, duplicate } = await this.client.request("room:publish", payload, { lane: `room:${this.id}` });
    return duplicate ? { id, ts, seq, epoch, duplicate } : { id, ts, seq, epoch };
  }

  /** A page of history (`before`/`after`/`limit`), oldest first. */
  async history(query: HistoryQuery = {}): Promise<HistoryPage> {
    const { messages, hasMore } = await this.client.request("room:history", { room: this.id, ...query });
    return { messages, hasMore };
  }

  async members() {
    return (await this.client.request("room:members", { room: this.id })).members;
  }

  /** Marks a message read (the sender's devices get `receipt`). */
  async read(id: string): Promise<void> {
    await this.client.request("message:read", { room: this.id, id });
  }

  /** Volatile: sent only while connected, never queued. */
  typing(typing: boolean): void {
    void this.client.call("room:typing", { room: this.id, typing }).catch(() => undefined);
  }

  cursor(position: unknown): void {
    void this.client.call("room:cursor", { room: this.id, position }).catch(() => undefined);
  }

  /** @internal Joins again after a reconnect. */
  restore(): Promise<RoomJoinResult> {
    return this.rejoin().catch((err: SwitchboardError) => {
      // Refused (the room is gone, or the user was removed): no longer kept joined.
      if (err.code !== "DISCONNECTED" && err.code !== "TIMEOUT") {
        this.joined = false;
        this.client.subs.delete(this);
      }
      this.emit("error", err);
      throw err;
    });
  }

  /** @internal The connection is gone: what arrives next comes through a rejoin. */
  pause(): void {
    this.held = null;
  }

  /** @internal */
  receive(message: Message): void {
    if (this.held) this.held.push(message);
    else if (this.joined) this.deliver([message], false);
  }

  /** @internal */
  forward(name: string, event: unknown): void {
    this.emit(name as "typing", event as TypingEvent);
  }

  private async rejoin(): Promise<RoomJoinResult> {
    const client = this.client;
    this.held = [];
    // A first join without `since` starts now: nothing before it is missed, and nothing replayed.
    const known = this.lastId !== undefined;
    try {
      let since = this.lastId;
      if (since === undefined) {
        // Start after the newest message: joining with `since` hands over whatever comes between.
        const { messages } = await client.call("room:history", { room: this.id, limit: 1 });
        since = messages[0]?.id ?? EMPTY;
      }
      const result = await client.call("room:join", { room: this.id, since });
      const { missed = [], recovered } = result;
      this.lastId ??= since;
      if (!recovered && known && since !== EMPTY) this.emit("gap", { room: this.id, lastId: since });
      this.deliver(missed, known);
      for (let more = result.hasMore; more; ) {
        const page = await client.call("room:history", { room: this.id, after: this.lastId, limit: PAGE });
        this.deliver(page.messages, known);
        more = page.hasMore;
      }
      const held = this.held ?? [];
      this.held = null;
      this.deliver(held, false);
      this.info = result.room;
      this.emit("joined", result);
      return result;
    } catch (err) {
      this.held = null;
      throw err;
    }
  }

  private deliver(messages: readonly Message[], replayed: boolean): void {
    for (const message of messages) {
      if (this.lastId !== undefined && compareIds(message.id, this.lastId) <= 0) continue;
      this.lastId = message.id;
      this.emit("message", message, { replayed });
    }
  }
}
