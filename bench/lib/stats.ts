/** Small numeric helpers of the bench. */

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Milliseconds of `fn`, by the bench's own clock. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { ms: performance.now() - start, value };
}

export const MiB = 1024 * 1024;
/** MB/s (10^6 bytes per second) of `bytes` moved in `ms`. */
export const mbps = (bytes: number, ms: number) => bytes / 1e6 / (ms / 1000);
export const round = (x: number, digits = 2) => Number(x.toFixed(digits));
