/** Types of scripts/progress.js, for the TypeScript tests that use it. */
export interface ProgressStream {
  write(chunk: string | Uint8Array, ...rest: unknown[]): boolean;
  isTTY?: boolean;
  columns?: number;
}
export interface ProgressOptions {
  label?: string;
  stream?: ProgressStream;
  /** Another stream on the same terminal; null for none. */
  stderr?: ProgressStream | null;
  env?: Record<string, string | undefined>;
  intervalMs?: number;
  rateWindowMs?: number;
  now?: () => number;
}
export interface StepOptions {
  index?: number;
  of?: number;
  count?: () => number;
  unit?: string;
  total?: number;
  rate?: boolean;
}
export interface Progress {
  readonly interactive: boolean;
  step(name: string, options?: StepOptions): void;
  end(note?: string): void;
  fail(note?: string): void;
  render(): void;
  status(): string | null;
}
export function createProgress(options?: ProgressOptions): Progress;
export function isInteractive(stream: ProgressStream | undefined, env?: Record<string, string | undefined>): boolean;
export function formatDuration(ms: number): string;
export function formatCount(n: number): string;
export const CLEAR_LINE: string;
