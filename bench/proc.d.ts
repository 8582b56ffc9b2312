/** Types of bench/proc.js, for the TypeScript tests that use it. */
export const CLK_TCK: number;
export function cpuSeconds(pid: number | string): number;
export function threadCpuSeconds(pid: number | string): { main: number; helpers: number };
export function rssBytes(pid: number | string): number;
export function machineCpu(): { busy: number; total: number };
