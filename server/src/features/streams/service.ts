/**
 * Live data streams: services append points (validated by the stream's kind); any user of the
 * tenant follows a stream — the tail of a window first, then `stream:update` with the rolling
 * aggregates of every window, one broadcast per stream per interval (CoalescedUpdates).
 */
import {
  STREAM_TAIL_MAX,
  STREAM_WINDOW_DEFAULT,
  STREAM_WINDOWS,
  streamAppendSchema,
  streamKind,
  streamPointValue,
  streamRoom,
  tenantRoom,
  PAYLOAD_OPTIONS,
  validateInput,
  type StreamAppendResult,
  type StreamUpdateEvent,
  type StreamView,
  type StreamWindow,
} from "@switchboard/shared";
import { requirePrivileged, type Actor } from "../../auth/actor";
import type { Config } from "../../config";
import { subscribe } from "../../connections/subscriptions";
import type { Engine, LiveRef, StreamFlush } from "../../engine";
import type { AppServer, AppSocket } from "../../io";
import type { Metrics } from "../../observability/metrics";

export interface StreamServiceDeps {
  config: Config;
  engine: Engine;
  io: AppServer;
  metrics: Metrics;
  /** After points were appended here. */
  appended?: () => void;
}

export class StreamService {
  constructor(private readonly deps: StreamServiceDeps) {}

  socketRoom(tenant: string, name: string): string {
    return tenantRoom(tenant, streamRoom(name));
  }

  /** Validates every point against the stream's kind (all or nothing) and appends them in order. */
  async append(actor: Actor, name: string, body: unknown): Promise<StreamAppendResult> {
    requirePrivileged(actor, "append to streams");
    const value = validateInput(streamAppendSchema(name), body, PAYLOAD_OPTIONS, { what: "points" });
    const points = value.points.map((data) => ({ data, value: streamPointValue(name, data) }));
    const ids = await this.deps.engine.streams.append(actor.tenant, name, points, this.deps.config.live.streamMaxLen);
    this.deps.metrics.streamPointsAppended.inc(ids.length);
    this.deps.appended?.();
    return { ids };
  }

  /** Joins first, then reads: what is aggregated after the read comes with the next update. */
  async subscribe(actor: Actor, socket: AppSocket, name: string, window: StreamWindow = STREAM_WINDOW_DEFAULT): Promise<StreamView> {
    await subscribe(socket, this.socketRoom(actor.tenant, name), this.deps.config.maxSubscriptionsPerSocket);
    return this.view(actor, name, window);
  }

  async unsubscribe(actor: Actor, socket: AppSocket, name: string): Promise<void> {
    await socket.leave(this.socketRoom(actor.tenant, name));
  }

  /** The window's tail (newest STREAM_TAIL_MAX, oldest first) and the aggregates of every window. */
  async view(actor: Actor, name: string, window: StreamWindow = STREAM_WINDOW_DEFAULT): Promise<StreamView> {
    const { engine } = this.deps;
    const ref = { tenant: actor.tenant, id: name };
    const { ts, windows } = await engine.streams.aggregates(ref);
    const points = await engine.streams.tail(actor.tenant, name, ts - STREAM_WINDOWS[window].spanMs, STREAM_TAIL_MAX);
    return { name, kind: streamKind(name), window, ts, points, windows };
  }

  broadcast(ref: LiveRef, update: StreamFlush): void {
    const event: StreamUpdateEvent = { name: ref.id, ...update };
    this.deps.io.to(this.socketRoom(ref.tenant, ref.id)).emit("stream:update", event);
    this.deps.metrics.streamBroadcasts.inc();
  }
}
