// Types for test/run-count.mjs (plain JavaScript, so test/run.mjs runs without a loader).
export interface FileCounts {
  passed: number;
  failed: number;
  skipped: number;
}
export function stripAnsi(s: string): string;
export function skipReasons(text: string): string[];
export function countFile(output: string, code: number | null): FileCounts & { summarised: boolean };
export function addCounts(counts: readonly Partial<FileCounts>[]): FileCounts;
export function summaryLine(counts: FileCounts): string;
