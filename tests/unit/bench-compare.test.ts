/**
 * What the fan-out suite concludes for goals 1 and 2 (bench/fanout-compare.js): Switchboard's
 * deliveries/s against bare's, their quotient rounded once to 2 decimals (goal 1 those of the
 * window's own publishes, goal 2 those received in the window); p99, losses and the history check
 * at every step up to bare's last step under 50 ms; bare's saturation step.
 */
import { compare, type FanoutStep } from "../../bench/fanout-compare";

const PER_ROOM = 10;

function step(targetRate: number, deliveriesPerSec: number, extra: Partial<FanoutStep> = {}): FanoutStep {
  return {
    targetRate,
    publishesPerSec: targetRate,
    deliveriesPerSec,
    deliveredPerSec: deliveriesPerSec,
    p99: 10,
    lostDeliveries: 0,
    aborted: null,
    history: { checked: 100, missing: 0, ok: true },
    ...extra,
  };
}

describe("fan-out comparison", () => {
  it("rounds the quotient once: 0.9946 is 0.99x and misses, 0.9951 is 1.00x and meets", () => {
    const bare = [step(4000, 40_000), step(4800, 48_122), step(6400, 50_000, { p99: 80 })];
    const missed = compare([step(4000, 40_000), step(4800, 47_862)], bare, PER_ROOM);
    expect(missed.referenceRate).toBe(4800);
    expect(missed.steps.map((s) => [s.rate, s.ratio, s.met])).toEqual([
      [4000, 1, true],
      [4800, 0.995, false],
    ]);
    expect(missed.meetsTarget).toBe(false);
    const met = compare([step(4000, 40_000), step(4800, 48_122 * 0.9951)], bare, PER_ROOM);
    expect(met.steps.map((s) => s.met)).toEqual([true, true]);
    expect(met.meetsTarget).toBe(true);
  });

  it("reads goal 1 from the deliveries of the window's own publishes, goal 2 from those received in the window", () => {
    // As in a run at 6 400/s: both delivered all 320 000 of the window's publishes' deliveries;
    // Switchboard had more of them in flight when its window closed than when it opened.
    const bare = [step(6400, 63_955, { deliveredPerSec: 63_911 }), step(8000, 79_701, { p99: 55 })];
    const sb = [step(6400, 63_604, { deliveredPerSec: 63_974 }), step(8000, 79_862)];
    const summary = compare(sb, bare, PER_ROOM);
    expect(summary.steps.map((s) => [s.rate, s.ratio, s.met])).toEqual([[6400, 1.001, true]]);
    expect(summary.saturation).toMatchObject({ rate: 8000, ratio: 1.002 });
    // and a step that delivered less of what it was offered misses, whatever arrived in its window
    const short = compare([step(6400, 64_000, { deliveredPerSec: 63_200 })], bare, PER_ROOM);
    expect(short.steps.map((s) => [s.ratio, s.met])).toEqual([[0.989, false]]);
  });

  it("fails a step whose p99 reaches 50 ms, that lost deliveries, fell behind or has a publish missing from history", () => {
    const bare = [step(800, 8_000), step(1600, 16_000), step(2400, 24_000), step(3200, 32_000)];
    const sb = [
      step(800, 8_000, { p99: 50 }),
      step(1600, 16_000, { lostDeliveries: 1 }),
      step(2400, 24_000, { aborted: "fell behind" }),
      step(3200, 32_000, { history: { checked: 100, missing: 1, ok: false } }),
    ];
    expect(compare(sb, bare, PER_ROOM).steps.map((s) => s.met)).toEqual([false, false, false, false]);
  });

  it("stops at bare's last step under 50 ms, and reads goal 2 at bare's best step, or Switchboard's best below it", () => {
    const bare = [step(800, 8_000), step(1600, 16_000, { p99: 60 }), step(3200, 30_000, { p99: 200 }), step(6400, 28_000, { p99: 400 })];
    const sb = [step(800, 8_000), step(1600, 16_000), step(3200, 29_000, { p99: 300 })];
    const summary = compare(sb, bare, PER_ROOM);
    expect(summary.referenceRate).toBe(800);
    expect(summary.steps.map((s) => s.rate)).toEqual([800]);
    expect(summary.saturation).toMatchObject({ rate: 3200, reached: true, ratio: 0.967, met: false, switchboard: { atRate: 3200, bestBelow: false } });
    const behind = compare([step(800, 8_000), step(1600, 31_000, { p99: 90 })], bare, PER_ROOM);
    expect(behind.saturation).toMatchObject({ rate: 3200, ratio: 1.033, met: true, switchboard: { atRate: 1600, bestBelow: true } });
    expect(behind.switchboardMaxRateP99Under50).toBe(800);
  });
});
