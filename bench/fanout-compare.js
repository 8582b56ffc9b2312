"use strict";
/**
 * What the fan-out suite (bench/fanout.js) concludes from the two systems' steps, the figures
 * goals 1 and 2 of `npm run bench` read:
 *   1. every step up to the highest rate where bare keeps p99 < 50 ms at every step
 *      (`referenceRate`): Switchboard's deliveries/s of the window's publishes (`deliveredPerSec`)
 *      >= bare's, its p99 < 50 ms, nothing lost, every acknowledged publish in history. Below
 *      saturation both systems deliver what is offered; the deliveries received while the window
 *      is open (`deliveriesPerSec`) would also weigh how many were in flight at its two ends;
 *   2. at bare's saturation rate (its step with the most deliveries/s received in the window):
 *      Switchboard's deliveries/s received in the window at that offered rate >= bare's (the
 *      steady-state rate: a system falling behind is not credited with what arrives after it).
 * Deliveries/s are compared as their quotient rounded once to 2 decimals (0.995 and up counts as
 * 1.00x, 0.9946 as 0.99x); `ratio` keeps 3 decimals for the tables.
 */
const { round } = require("./lib");

const P99_TARGET_MS = 50;
/** Switchboard's deliveries/s over bare's. */
const RATIO_TARGET = 1.0;
/** The bench process (publisher and every subscriber) using this much of a core limits the step itself. */
const GENERATOR_BOUND_CORES = 0.9;

/** A step that kept p99 under the target and lost nothing. */
const under = (s) => !s.aborted && s.p99 !== null && s.p99 < P99_TARGET_MS && s.lostDeliveries === 0;

/**
 * Switchboard's deliveries/s (`field`: received in the window, or of the window's publishes) over
 * bare's: for the tables (3 decimals) and against the target (2, rounded once).
 */
function ratioOf(sb, bare, field = "deliveriesPerSec") {
  const quotient = sb && bare && bare[field] > 0 ? sb[field] / bare[field] : 0;
  return { ratio: round(quotient, 3), meets: round(quotient, 2) >= RATIO_TARGET };
}

/** `perRoom`: deliveries per publish (a room's members). */
function compare(sbSteps, bareSteps, perRoom) {
  let referenceRate = null;
  for (const s of bareSteps) {
    if (!under(s)) break;
    referenceRate = s.targetRate;
  }
  const steps = bareSteps
    .filter((b) => referenceRate !== null && b.targetRate <= referenceRate)
    .map((b) => {
      const sb = sbSteps.find((s) => s.targetRate === b.targetRate);
      const { ratio, meets } = ratioOf(sb, b, "deliveredPerSec");
      const historyOk = Boolean(sb && sb.history && sb.history.ok);
      return {
        rate: b.targetRate,
        bare: { deliveredPerSec: b.deliveredPerSec, deliveriesPerSec: b.deliveriesPerSec, p99: b.p99 },
        switchboard: sb
          ? { deliveredPerSec: sb.deliveredPerSec, deliveriesPerSec: sb.deliveriesPerSec, p99: sb.p99, lostDeliveries: sb.lostDeliveries, history: sb.history || null, aborted: sb.aborted }
          : null,
        ratio,
        met: Boolean(sb) && meets && under(sb) && historyOk,
      };
    });
  const peak = bareSteps.reduce((best, s) => (best === null || s.deliveriesPerSec > best.deliveriesPerSec ? s : best), null);
  const last = bareSteps[bareSteps.length - 1];
  let saturation = null;
  if (peak) {
    // Switchboard's throughput at that offered rate; when it fell behind at a lower rate and never ran
    // this one, the most it delivered at any step stands in (it delivers no more at a higher rate)
    const atRate = sbSteps.find((s) => s.targetRate === peak.targetRate);
    const sbPeak = sbSteps.reduce((best, s) => (best === null || s.deliveriesPerSec > best.deliveriesPerSec ? s : best), null);
    const sb = atRate || sbPeak;
    const { ratio, meets } = ratioOf(sb, peak);
    saturation = {
      rate: peak.targetRate,
      // bare fell behind (aborted, or short of the offered publishes or deliveries), or gave no more at a higher rate
      reached: Boolean(last && (last.aborted || last !== peak || peak.publishesPerSec < 0.95 * peak.targetRate || peak.deliveriesPerSec < 0.95 * peak.targetRate * perRoom)),
      generatorBound: Boolean(peak.cpu && peak.cpu.generator >= GENERATOR_BOUND_CORES),
      generatorCores: peak.cpu ? peak.cpu.generator : null,
      bare: { deliveriesPerSec: peak.deliveriesPerSec, p99: peak.p99 },
      switchboard: sb ? { deliveriesPerSec: sb.deliveriesPerSec, p99: sb.p99, aborted: sb.aborted, atRate: sb.targetRate, bestBelow: !atRate } : null,
      ratio,
      met: Boolean(sb) && meets,
    };
  }
  const sbGood = sbSteps.filter(under);
  return {
    ratioTarget: RATIO_TARGET,
    referenceRate,
    steps,
    meetsTarget: steps.length > 0 && steps.every((s) => s.met),
    saturation,
    switchboardMaxRateP99Under50: sbGood.length ? sbGood[sbGood.length - 1].targetRate : null,
    bareMaxRateP99Under50: referenceRate,
  };
}

module.exports = { compare, P99_TARGET_MS, RATIO_TARGET };
