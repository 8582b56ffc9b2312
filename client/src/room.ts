/**
 * A room: join once, and the SDK keeps it joined. It tracks the last message id seen and, after
 * every reconnect, joins again with `since`, so the app gets each message it missed exactly once
 * and in order (live messages that arrive meanwhile wait until the missed ones are handed over).
 *
 * While connected it checks each live message's `seq` against the last one handed over: a
 * message past the next one means deliveries were lost (the cluster's pub/sub is at-most-once),
 * so later ones wait while the missing range is read from history; a seq already handed over is
 * dropped; a new `epoch` means the room's history was lost (`gap`). A `room:position` (the node's
 * subscription came back) past the last one handed over is filled the same way, so a loss is
 * noticed even when no message follows it.
 */
import type { CursorEvent, HistoryPage, HistoryQuery, MemberEvent, Message, PublishPayload, PublishResult, ReceiptEvent, RoomInfo, RoomJoinResult, RoomPositionEvent, TypingEvent } from "@switchboard/shared";
import type { Client } from "./client.js";
import { Emitter } from "./emitter.js";
import type { SwitchboardError } from "./errors.js";
import { randomId } from "./id.js";

export interface RoomEvents {
  /** A message, once, in order; `replayed` when it came from history (missed while disconnected, or a lost live delivery). */
  message: (message: Message, meta: { replayed: boolean }) => void;
  /**
   * Some messages cannot be handed over: history no longer reaches back to the last message seen,
   * or (with `epoch`, the new one) the room's history was lost and started a new epoch. Reload.
   */
  gap: (info: { room: string; lastId: string; epoch?: string }) => void;
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

/** What arrives live for a room, in order: its messages, and where it stands (`room:position`). */
type Live = Message | RoomPositionEvent;

/** Orders `<ms>-<seq>` message ids. */
export function compareIds(a: string, b: string): number {
  const [am, as] = a.split("-").map(Number) as [number, number];
  const [bm, bs] = b.split("-").map(Number) as [number, number];
  return am - bm || as - bs;
}

export class Room extends Emitter<RoomEvents> {
  /** The newest message id handed to the app (or the start point). */
  lastId?: string;
  /** The seq of the newest message handed to the app (or where the room stood when joined), in `epoch`. */
  seq?: number;
  /** The room's history epoch `seq` counts in (undefined while its history is empty). */
  epoch?: string;
  info?: RoomInfo;
  /** Kept joined across reconnects. */
  joined = false;
  /** Live messages (and positions) held while a (re)join's missed messages are handed over. */
  private held: Live[] | null = null;
  /** Live messages (and positions) held while a range lost in delivery is read from history. */
  private filling: Live[] | null = null;
  /** Counts connections lost: a history read of an earlier one is stale. */
  private generation = 0;
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
    this.filling = null;
    this.generation++;
  }

  /** @internal A live message, or where the room stands (`room:position`; one of another shape is ignored). */
  receive(item: Live): void {
    if (!("id" in item) && !isPosition(item)) return;
    if (this.held) this.held.push(item);
    else if (this.filling) this.filling.push(item);
    else if (this.joined) this.live(item);
  }

  /**
   * A live message: handed over when it is the next one; a jump first fills the range lost in
   * delivery. A position past the last message handed over fills up to it.
   */
  private live(item: Live): void {
    const message = "id" in item ? item : undefined;
    const { seq, epoch } = item;
    if (this.seq === undefined || seq === undefined || (message && epoch === undefined)) {
      if (message) this.deliver([message], false);
      return;
    }
    if (this.epoch !== undefined && epoch !== this.epoch) {
      // History was lost: what the app has may miss messages. The new epoch is followed from its start.
      this.emit("gap", { room: this.id, lastId: this.lastId ?? EMPTY, ...(epoch === undefined ? {} : { epoch }) });
      this.seq = 0;
    }
    this.epoch = epoch;
    if (seq <= this.seq) return;
    if (message && seq === this.seq + 1) return this.deliver([message], false);
    this.fill(item);
  }

  /**
   * Reads the messages after the last one handed over, up to `target` (before the message, or up
   * to the position), from history: newest first, back from the message (or from the newest
   * message, skipping those past the position). Hands them over, then the message and whatever
   * arrived meanwhile. Lost with the connection, the rejoin's `since` recovers them instead.
   */
  private fill(target: Live): void {
    const generation = this.generation;
    const from = this.seq!;
    const message = "id" in target ? target : undefined;
    const to = message ? target.seq! - 1 : target.seq!;
    this.filling = message ? [message] : [];
    const found: Message[] = [];
    const read = async () => {
      let before = message?.id;
      for (let span = to - from; span > 0; ) {
        const page = await this.client.call("room:history", { room: this.id, ...(before === undefined ? {} : { before }), limit: Math.min(span, PAGE) });
        found.unshift(...page.messages.filter((m) => m.epoch === target.epoch && m.seq !== undefined && m.seq > from && m.seq <= to));
        // Page back while the oldest one read is of the epoch and newer than the first one wanted.
        const oldest = page.messages[0];
        if (!page.hasMore || oldest?.seq === undefined || oldest.epoch !== target.epoch || oldest.seq <= from + 1) break;
        before = oldest.id;
        span = oldest.seq - from - 1;
      }
    };
    const done = (lost: boolean) => {
      if (lost) this.emit("gap", { room: this.id, lastId: this.lastId ?? EMPTY });
      this.deliver(found, true);
      this.seq = Math.max(this.seq!, to);
      this.release();
    };
    read().then(
      () => {
        // Missing from history too (trimmed): lost for good.
        if (generation === this.generation) done(found.length < to - from);
      },
      (err: Error) => {
        if (generation !== this.generation) return;
        // Still connected but history could not be read: what it would have given is lost.
        this.emit("error", err);
        done(true);
      },
    );
  }

  /** Hands over the live messages held during a fill (which may start another). */
  private release(): void {
    const waiting = this.filling ?? [];
    this.filling = null;
    this.flush(waiting);
  }

  /** Live messages and positions, in arrival order; from a jump on, the rest wait for its fill. */
  private flush(items: readonly Live[]): void {
    for (const item of items) {
      if (this.filling) this.filling.push(item);
      else this.live(item);
    }
  }

  /** @internal */
  forward(name: string, event: unknown): void {
    this.emit(name as "typing", event as TypingEvent);
  }

  private async rejoin(): Promise<RoomJoinResult> {
    const client = this.client;
    this.held = [];
    this.filling = null;
    const generation = ++this.generation;
    // A first join without `since` starts now: nothing before it is missed, and nothing replayed.
    const known = this.lastId !== undefined;
    try {
      let since = this.lastId;
      if (since === undefined) {
        // Start after the newest message: joining with `since` hands over whatever comes between.
        const { messages } = await client.call("room:history", { room: this.id, limit: 1 });
        since = messages[0]?.id ?? EMPTY;
        this.seq = messages[0]?.seq;
        this.epoch = messages[0]?.epoch;
      }
      const result = await client.call("room:join", { room: this.id, since });
      const { missed = [], recovered } = result;
      this.lastId ??= since;
      // A server with positions answers where the room stands; a different epoch (or none) means
      // history was lost since the last message seen: the new epoch is followed from its start.
      const positioned = result.seq !== undefined;
      const newEpoch = positioned && this.epoch !== undefined && result.epoch !== this.epoch;
      if ((!recovered && known && since !== EMPTY) || (known && newEpoch)) this.emit("gap", { room: this.id, lastId: since, ...(newEpoch && result.epoch ? { epoch: result.epoch } : {}) });
      if (positioned && result.epoch !== this.epoch) {
        this.epoch = result.epoch;
        this.seq = 0;
      }
      this.deliver(missed, known);
      for (let more = result.hasMore; more; ) {
        const page = await client.call("room:history", { room: this.id, after: this.lastId, limit: PAGE });
        this.deliver(page.messages, known);
        more = page.hasMore;
      }
      // Everything up to where the room stood at the join was handed over; later ones come live.
      if (positioned && this.epoch === result.epoch) this.seq = Math.max(this.seq ?? 0, result.seq);
      const held = this.held ?? [];
      this.held = null;
      if (generation === this.generation) this.flush(held);
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
      if (this.handedOver(message)) continue;
      this.lastId = message.id;
      if (message.seq !== undefined && message.epoch !== undefined) {
        this.seq = message.seq;
        this.epoch = message.epoch;
      }
      this.emit("message", message, { replayed });
    }
  }

  /** Already handed over: by seq within the epoch, else by id. */
  private handedOver(message: Message): boolean {
    if (message.seq !== undefined && this.seq !== undefined && message.epoch === this.epoch) return message.seq <= this.seq;
    return this.lastId !== undefined && compareIds(message.id, this.lastId) <= 0;
  }
}

/** A `room:position` as the protocol has it: a seq (0 for an empty history) and, past 0, an epoch. */
function isPosition(item: Live): boolean {
  const { seq, epoch } = item as Partial<RoomPositionEvent>;
  return Number.isSafeInteger(seq) && seq! >= 0 && (epoch === undefined ? seq === 0 : typeof epoch === "string" && epoch.length > 0);
}
