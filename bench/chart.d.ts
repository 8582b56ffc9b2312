/** Types of bench/chart.js, for the TypeScript tests that use it. */
export interface FanoutStep {
  targetRate: number;
  deliveriesPerSec: number;
  p99: number | null;
  aborted?: string | null;
}
/** The parts of bench/results.json (bench/fanout.js) the chart reads. */
export interface FanoutResults {
  when?: string;
  config?: { nodes?: number; rooms?: number; perRoom?: number; subscribers?: number; stepMs?: number; cpus?: number };
  results: Record<string, { steps: FanoutStep[] }>;
}
export interface Series {
  id: string;
  name: string;
  color: string;
  points: { rate: number; delivered: number; p99: number | null; aborted: boolean }[];
}
export function fanoutChart(results: FanoutResults): string;
export function seriesOf(results: FanoutResults): Series[];
export function linearTicks(max: number, count?: number): number[];
export function logTicks(min: number, max: number): number[];
