/** Types of bench/fanout-compare.js, for the TypeScript tests that use it. */
export interface FanoutStep {
  targetRate: number;
  publishesPerSec: number;
  /** Deliveries received while the step's window was open. */
  deliveriesPerSec: number;
  /** Deliveries of the window's own publishes, however late within the drain, per second of the window. */
  deliveredPerSec: number;
  p99: number | null;
  lostDeliveries: number;
  aborted: string | null;
  history?: { checked: number; missing: number; ok: boolean };
  cpu?: { generator: number; nodes: number; redis: number } | null;
}
export interface StepComparison {
  rate: number;
  ratio: number;
  met: boolean;
}
export interface FanoutComparison {
  ratioTarget: number;
  referenceRate: number | null;
  steps: StepComparison[];
  meetsTarget: boolean;
  saturation: { rate: number; reached: boolean; ratio: number; met: boolean; switchboard: { deliveriesPerSec: number; atRate: number; bestBelow: boolean } | null } | null;
  switchboardMaxRateP99Under50: number | null;
  bareMaxRateP99Under50: number | null;
}
export const P99_TARGET_MS: number;
export const RATIO_TARGET: number;
export function compare(sbSteps: FanoutStep[], bareSteps: FanoutStep[], perRoom: number): FanoutComparison;
