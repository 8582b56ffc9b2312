/**
 * Rolling windows of a live stream, from its buckets: both engines keep per window and bucket the
 * count, sum, min, max and a sample of the values (all of them up to STREAM_BUCKET_SAMPLE), and
 * compute the aggregates here, the same way.
 */
import { emptyStreamAggregates, percentileOf, STREAM_WINDOW_NAMES, streamWindowBuckets, type StreamAggregates, type StreamWindow } from "@switchboard/shared";

export interface BucketData {
  window: StreamWindow;
  count: number;
  sum: number;
  min: number;
  max: number;
  values: number[];
}

/** Every bucket each window covers at `now`, window by window. */
export function windowBuckets(now: number): { window: StreamWindow; start: number }[] {
  return STREAM_WINDOW_NAMES.flatMap((window) => streamWindowBuckets(window, now).map((start) => ({ window, start })));
}

/**
 * Aggregates per window. Percentiles are exact while every bucket kept all its values; a bucket
 * beyond its sample size contributes its sample, weighted as the sample.
 */
export function aggregateWindows(buckets: readonly BucketData[]): StreamAggregates {
  const out = emptyStreamAggregates();
  for (const window of STREAM_WINDOW_NAMES) {
    let count = 0;
    let sum = 0;
    let min = Infinity;
    let max = -Infinity;
    const values: number[] = [];
    for (const b of buckets) {
      if (b.window !== window || b.count === 0) continue;
      count += b.count;
      sum += b.sum;
      if (b.min < min) min = b.min;
      if (b.max > max) max = b.max;
      for (const v of b.values) values.push(v);
    }
    if (count === 0) continue;
    values.sort((a, b) => a - b);
    out[window] = { count, mean: sum / count, min, max, p50: percentileOf(values, 50), p95: percentileOf(values, 95) };
  }
  return out;
}
