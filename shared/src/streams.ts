/**
 * Live data streams (PROTOCOL §8 "Leaderboards and live streams"): services append points to a
 * named stream; every point is aggregated once into rolling windows that dashboards follow.
 * The kind of a stream is its name up to the first `:` — `metrics`, `feedback` and
 * `model_performance` have schemas; points of any other kind are free-form objects.
 */
import Joi from "joi";
import { jsonBytes } from "./json";
import { userId } from "./schemas";

export const STREAM_NAME_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;
export const STREAM_KINDS = ["metrics", "feedback", "model_performance"] as const;
export type StreamKind = (typeof STREAM_KINDS)[number];

/** Rolling windows and the buckets each is kept in (a window is its last `span / bucket` buckets). */
export const STREAM_WINDOWS = {
  "10s": { spanMs: 10_000, bucketMs: 1_000 },
  "1m": { spanMs: 60_000, bucketMs: 5_000 },
  "5m": { spanMs: 300_000, bucketMs: 30_000 },
  "1h": { spanMs: 3_600_000, bucketMs: 300_000 },
} as const;
export type StreamWindow = keyof typeof STREAM_WINDOWS;
export const STREAM_WINDOW_NAMES = Object.keys(STREAM_WINDOWS) as StreamWindow[];
export const STREAM_WINDOW_DEFAULT: StreamWindow = "1m";

/** Values kept per bucket for percentiles; beyond, a uniform sample of the bucket's values. */
export const STREAM_BUCKET_SAMPLE = 1000;
/** The most points a subscribe answer (tail) and an update carry. */
export const STREAM_TAIL_MAX = 500;
export const STREAM_UPDATE_POINTS_MAX = 100;
/** Points per `POST /v1/streams/:name/points` or emitter `append([...])`. */
export const STREAM_APPEND_MAX = 500;
/** Streams a cluster follows (the most recently appended to). */
export const STREAMS_MAX = 1000;
/** Largest serialized point. */
export const STREAM_POINT_MAX_BYTES = 8192;

/** Aggregates of one window: null statistics when it holds no point. */
export interface StreamAggregate {
  count: number;
  mean: number | null;
  min: number | null;
  max: number | null;
  p50: number | null;
  p95: number | null;
}

export type StreamAggregates = Record<StreamWindow, StreamAggregate>;

/** A point as stored and delivered. */
export interface StreamPoint {
  /** The stream entry id `<ms>-<seq>`; its ms is when the point arrived (which buckets it is counted in). */
  id: string;
  /** The point's own `ts` when it has one, else when it arrived. */
  ts: number;
  /** What the aggregates take from it (null: it is kept, not aggregated). */
  value: number | null;
  data: Record<string, unknown>;
}

/** `stream:update`: the rolling aggregates of every window, and the points appended since the previous update. */
export interface StreamUpdateEvent {
  name: string;
  seq: number;
  /** ms since the epoch: the time the windows are computed at (the store's clock). */
  ts: number;
  windows: StreamAggregates;
  /** Up to STREAM_UPDATE_POINTS_MAX of the newest points appended since the previous update, oldest first. */
  points: StreamPoint[];
  /** True when more points were appended than `points` carries. */
  truncated: boolean;
}

export interface StreamSubscribePayload {
  name: string;
  window?: StreamWindow;
}

export interface StreamRefPayload {
  name: string;
}

/** `stream:subscribe` ack: the tail of the chosen window (oldest first) and the current aggregates. */
export interface StreamView {
  name: string;
  kind: string;
  window: StreamWindow;
  ts: number;
  points: StreamPoint[];
  windows: StreamAggregates;
}

export interface StreamAppendResult {
  ids: string[];
}

export const streamName = Joi.string().pattern(STREAM_NAME_PATTERN, "stream name");

const ts = Joi.number().integer().min(0).max(8.64e15);
const finite = Joi.number();
const label = Joi.string().pattern(/^[A-Za-z0-9_.:/-]{1,128}$/, "name");
const tags = Joi.object().pattern(Joi.string().pattern(/^[A-Za-z0-9_.:-]{1,64}$/, "tag name"), Joi.string().max(256)).max(16);

/** Point schemas of the known kinds. */
export const streamPointSchemas: Record<StreamKind, Joi.ObjectSchema> = {
  metrics: Joi.object({ value: finite.required(), ts, name: label, unit: Joi.string().max(32), tags }),
  feedback: Joi.object({ rating: Joi.number().integer().min(1).max(5).required(), userId, comment: Joi.string().max(2000).allow(""), ts, tags }),
  model_performance: Joi.object({ model: label.required(), metric: label.required(), value: finite.required(), version: Joi.string().max(64), ts, tags }),
};

/** Free-form points: any JSON object; an optional numeric `value` is aggregated, an optional `ts` kept. */
const freeFormPoint = Joi.object({ value: finite, ts }).unknown(true);

/** The kind of a stream: its name up to the first `:`. */
export function streamKind(name: string): string {
  const at = name.indexOf(":");
  return at < 0 ? name : name.slice(0, at);
}

export function isKnownStreamKind(kind: string): kind is StreamKind {
  return (STREAM_KINDS as readonly string[]).includes(kind);
}

/** The schema a point of this stream must pass. */
export function streamPointSchema(name: string): Joi.ObjectSchema {
  const kind = streamKind(name);
  return isKnownStreamKind(kind) ? streamPointSchemas[kind] : freeFormPoint;
}

/** A batch of points for the stream (1 – STREAM_APPEND_MAX, each at most STREAM_POINT_MAX_BYTES). */
export function streamAppendSchema(name: string): Joi.ObjectSchema<{ points: Record<string, unknown>[] }> {
  const point = streamPointSchema(name)
    .custom((value: object, helpers) => (jsonBytes(value) > STREAM_POINT_MAX_BYTES ? helpers.error("point.size") : value))
    .messages({ "point.size": `{{#label}} is larger than ${STREAM_POINT_MAX_BYTES} bytes` });
  return Joi.object({ points: Joi.array().items(point).min(1).max(STREAM_APPEND_MAX).required() });
}

/** What the aggregates take from a validated point. */
export function streamPointValue(name: string, point: Record<string, unknown>): number | null {
  const value = streamKind(name) === "feedback" ? point.rating : point.value;
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

export const streamSchemas = {
  "stream:subscribe": Joi.object<StreamSubscribePayload>({ name: streamName.required(), window: Joi.string().valid(...STREAM_WINDOW_NAMES) }),
  "stream:unsubscribe": Joi.object<StreamRefPayload>({ name: streamName.required() }),
} as const;

/** A stored entry back as a point. */
export function parseStreamEntry(id: string, fields: readonly string[]): StreamPoint {
  const get = (name: string) => {
    for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
    return undefined;
  };
  const data = JSON.parse(get("p") ?? "{}") as Record<string, unknown>;
  const v = get("v");
  const arrived = Number(id.slice(0, id.indexOf("-")));
  return { id, ts: typeof data.ts === "number" ? data.ts : arrived, value: v === undefined || v === "" ? null : Number(v), data };
}

/** Every window with no point. */
export function emptyStreamAggregates(): StreamAggregates {
  const empty = (): StreamAggregate => ({ count: 0, mean: null, min: null, max: null, p50: null, p95: null });
  return { "10s": empty(), "1m": empty(), "5m": empty(), "1h": empty() };
}

/** The start (ms) of the bucket of `windowName` that `at` falls in. */
export function streamBucketStart(windowName: StreamWindow, at: number): number {
  const { bucketMs } = STREAM_WINDOWS[windowName];
  return Math.floor(at / bucketMs) * bucketMs;
}

/** The bucket starts a window covers at `now`: the current bucket and the ones before it, `span / bucket` in all. */
export function streamWindowBuckets(windowName: StreamWindow, now: number): number[] {
  const { spanMs, bucketMs } = STREAM_WINDOWS[windowName];
  const current = streamBucketStart(windowName, now);
  return Array.from({ length: spanMs / bucketMs }, (_, i) => current - i * bucketMs);
}

/** Nearest-rank percentile of sorted values. */
export function percentileOf(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/* Response schemas (the OpenAPI document's; nodes do not validate their answers with them). */
const nullableNumber = Joi.number().allow(null).required();
const streamAggregateSchema = Joi.object<StreamAggregate>({
  count: Joi.number().integer().min(0).required(),
  mean: nullableNumber,
  min: nullableNumber,
  max: nullableNumber,
  p50: nullableNumber,
  p95: nullableNumber,
});

export const streamViewSchema = Joi.object<StreamView>({
  name: streamName.required(),
  kind: Joi.string().required(),
  window: Joi.string().valid(...STREAM_WINDOW_NAMES).required(),
  ts: Joi.number().integer().min(0).required(),
  points: Joi.array()
    .items(Joi.object<StreamPoint>({ id: Joi.string().required(), ts: Joi.number().integer().min(0).required(), value: Joi.number().allow(null).required(), data: Joi.object().unknown(true).required() }))
    .required(),
  windows: Joi.object(Object.fromEntries(STREAM_WINDOW_NAMES.map((w) => [w, streamAggregateSchema.required()]))).required(),
});

export const streamAppendResultSchema = Joi.object<StreamAppendResult>({ ids: Joi.array().items(Joi.string()).required() });
