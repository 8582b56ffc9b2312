/**
 * An OT client for collaborative documents, as an editor would run it: local edits apply at once,
 * one op is in flight at a time (later edits are composed while it travels), remote `doc:op`
 * events are applied in version order (buffered when they arrive early) after being transformed
 * against the client's own unacknowledged ops, and a reconnect catches up with `doc:open
 * { version }` and resends the op in flight with the same clientOpId.
 */
import { DOC_OT, type DocOpEntry, type DocOpEvent, type DocOt, type DocType } from "@switchboard/shared";
import type { Socket } from "socket.io-client";
import { command, type AckResult } from "./clients";
import { sleep } from "./ports";

export interface DocEditorOptions {
  type?: DocType;
  /** ms to hold each incoming event and ack before handling it (simulated network delay). */
  delay?: () => number;
  /** Prefix of this editor's clientOpIds. */
  name?: string;
}

interface Sent {
  op: unknown;
  clientOpId: string;
}

export class DocEditor {
  readonly ot: DocOt;
  type: DocType;
  version = 0;
  content: unknown;
  /** Every ack that was not ok (RATE_LIMITED retried by itself is not kept). */
  readonly errors: AckResult["error"][] = [];
  /** clientOpId -> version, for every op of this editor the server acknowledged. */
  readonly acked = new Map<string, number>();
  private inflight?: Sent;
  private pending?: unknown;
  private ownAt?: number;
  private readonly buffer = new Map<number, DocOpEntry>();
  private seq = 0;
  private socket: Socket;
  private readonly delay: () => number;
  private readonly name: string;
  private readonly onOp = (event: DocOpEvent) => {
    if (event.docId !== this.docId) return;
    this.later(() => this.receive(event));
  };

  constructor(
    socket: Socket,
    readonly docId: string,
    options: DocEditorOptions = {},
  ) {
    this.socket = socket;
    this.type = options.type ?? "text";
    this.ot = DOC_OT[this.type];
    this.content = this.ot.create();
    this.delay = options.delay ?? (() => 0);
    this.name = options.name ?? `ed${Math.random().toString(36).slice(2, 8)}`;
    socket.on("doc:op", this.onOp);
  }

  get text(): string {
    return this.content as string;
  }

  /** The clientOpId of the op in flight (sent, not yet acknowledged). */
  get inFlight(): string | undefined {
    return this.inflight?.clientOpId;
  }

  /** True while an op is in flight or edits wait to be sent. */
  get busy(): boolean {
    return this.inflight !== undefined || this.pending !== undefined || this.buffer.size > 0;
  }

  async open(): Promise<AckResult> {
    const ack = await command(this.socket, "doc:open", { docId: this.docId, type: this.type });
    if (!ack.ok) throw new Error(`doc:open ${this.docId}: ${JSON.stringify(ack.error)}`);
    this.version = ack.version as number;
    this.content = ack.snapshot;
    return ack;
  }

  /** Moves to another socket (after a disconnect): catch up from the version held, then resend. */
  async reconnect(socket: Socket): Promise<AckResult> {
    this.socket.off("doc:op", this.onOp);
    this.socket = socket;
    socket.on("doc:op", this.onOp);
    const ack = await command(socket, "doc:open", { docId: this.docId, version: this.version });
    if (!ack.ok) throw new Error(`doc:open ${this.docId}: ${JSON.stringify(ack.error)}`);
    if (Array.isArray(ack.ops)) {
      for (const entry of ack.ops as DocOpEntry[]) this.receive(entry);
    } else {
      // Fell off the log: start over from the snapshot; unsent work is lost.
      this.content = ack.snapshot;
      this.version = ack.version as number;
      this.inflight = this.pending = this.ownAt = undefined;
      this.buffer.clear();
    }
    if (this.inflight) this.send();
    return ack;
  }

  /**
   * A local edit: applied now, sent when the op in flight is acknowledged. Answers the clientOpId
   * of the op that carries it (edits made while an op travels are composed into the next one).
   */
  edit(op: unknown): string {
    this.content = this.ot.apply(this.content, op);
    this.pending = this.pending === undefined ? op : this.ot.compose(this.pending, op);
    this.flush();
    return this.pending === undefined ? this.inflight!.clientOpId : `${this.name}-${this.seq + 1}`;
  }

  /** Resolves once nothing is in flight or waiting. */
  async settled(timeoutMs = 10000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.busy) {
      if (Date.now() > deadline) throw new Error(`${this.name}: still busy after ${timeoutMs} ms (version ${this.version}, inflight ${JSON.stringify(this.inflight)}, buffered ${[...this.buffer.keys()].join(",")}, errors ${JSON.stringify(this.errors)})`);
      await sleep(5);
    }
  }

  close(): void {
    this.socket.off("doc:op", this.onOp);
  }

  private later(fn: () => void): void {
    const ms = this.delay();
    if (ms <= 0) fn();
    else setTimeout(fn, ms);
  }

  private flush(): void {
    if (this.inflight || this.pending === undefined) return;
    this.inflight = { op: this.pending, clientOpId: `${this.name}-${++this.seq}` };
    this.pending = undefined;
    this.send();
  }

  private send(): void {
    const sent = this.inflight!;
    command(this.socket, "doc:op", { docId: this.docId, version: this.version, op: sent.op, clientOpId: sent.clientOpId }).then(
      (ack) => this.later(() => this.acknowledged(sent, ack)),
      // No answer (the connection went away): the op stays in flight until reconnect() resends it.
      () => undefined,
    );
  }

  private acknowledged(sent: Sent, ack: AckResult): void {
    // The op in flight is transformed as remote ops arrive: it is the same op while its id is.
    if (this.inflight?.clientOpId !== sent.clientOpId) return;
    if (ack.ok) {
      this.acked.set(sent.clientOpId, ack.version as number);
      this.ownAt = ack.version as number;
      this.drain();
      return;
    }
    if (ack.error?.code === "RATE_LIMITED") {
      const wait = (ack.error.details as { retryAfterMs: number }).retryAfterMs;
      setTimeout(() => this.inflight?.clientOpId === sent.clientOpId && this.send(), wait + 1);
      return;
    }
    this.errors.push(ack.error);
  }

  private receive(entry: DocOpEntry): void {
    if (entry.version <= this.version) return;
    this.buffer.set(entry.version, entry);
    this.drain();
  }

  private drain(): void {
    for (;;) {
      const next = this.version + 1;
      const entry = this.buffer.get(next);
      if (entry) this.buffer.delete(next);
      const own = this.ownAt === next || (entry !== undefined && this.inflight !== undefined && entry.clientOpId === this.inflight.clientOpId);
      if (own) {
        if (this.inflight) this.acked.set(this.inflight.clientOpId, next);
        this.version = next;
        this.inflight = this.ownAt = undefined;
        this.flush();
        continue;
      }
      if (!entry) return;
      let op = entry.op;
      if (this.inflight) {
        const mine = this.inflight.op;
        this.inflight = { ...this.inflight, op: this.ot.transform(mine, op, "left") };
        op = this.ot.transform(op, mine, "right");
      }
      if (this.pending !== undefined) {
        const mine = this.pending;
        this.pending = this.ot.transform(mine, op, "left");
        op = this.ot.transform(op, mine, "right");
      }
      this.content = this.ot.apply(this.content, op);
      this.version = next;
    }
  }
}

/** Length of a text in Unicode code points (ot-text-unicode positions). */
export const codePoints = (text: string): number => [...text].length;
