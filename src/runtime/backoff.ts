export interface BackoffOptions {
  /** Delay after the first failure. */
  baseMs: number;
  /** Ceiling for the doubled delay; jitter is added on top, as in apimachinery's wait.Backoff. */
  maxMs: number;
  /** Adds up to `jitter × delay` at random, so that many retries started together spread out. */
  jitter?: number;
  /** Source of randomness in [0, 1), injectable so that jittered delays can be tested. */
  random?: () => number;
}

/** client-go's per-item default (`DefaultItemBasedRateLimiter`): 5 ms doubling up to 1000 s. */
export const DEFAULT_ITEM_BACKOFF: BackoffOptions = { baseMs: 5, maxMs: 1_000_000 };

/** Delay before the next attempt after `failures` consecutive failures: `baseMs × 2^failures`, capped. */
export function exponentialBackoff(failures: number, options: BackoffOptions): number {
  const { baseMs, maxMs, jitter = 0, random = Math.random } = options;
  if (!Number.isInteger(failures) || failures < 0) {
    throw new RangeError(`failures must be a non-negative integer, got ${failures}`);
  }
  // A zero base would turn the overflowing 2^failures into 0 × Infinity = NaN.
  if (!(baseMs > 0) || !(maxMs >= baseMs) || !Number.isFinite(maxMs)) {
    throw new RangeError(`backoff needs 0 < baseMs <= maxMs < Infinity, got ${baseMs} and ${maxMs}`);
  }
  if (!(jitter >= 0) || !Number.isFinite(jitter)) {
    throw new RangeError(`jitter must be a non-negative number, got ${jitter}`);
  }
  const delay = Math.min(baseMs * 2 ** failures, maxMs);
  return jitter === 0 ? delay : delay + delay * jitter * random();
}
