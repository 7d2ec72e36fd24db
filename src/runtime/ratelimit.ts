import type { Clock } from './clock.ts';

/**
 * A token bucket that hands out reservations, like golang.org/x/time/rate's Reserve: `burst` tokens,
 * refilled at `qps`; each reservation takes one, and when none is left it says how long to wait for
 * it. client-go's default controller rate limiter combines one (10 qps, burst 100) with the per-key
 * exponential backoff, so that many keys failing at once cannot hammer the API server together.
 */
export class TokenBucket {
  private readonly qps: number;
  private readonly burst: number;
  private readonly clock: Clock;
  private tokens: number;
  private last: number;

  constructor(qps: number, burst: number, clock: Clock) {
    if (!(qps > 0) || !Number.isFinite(qps)) throw new RangeError(`qps must be positive, got ${qps}`);
    if (!Number.isInteger(burst) || burst < 1) throw new RangeError(`burst must be at least 1, got ${burst}`);
    this.qps = qps;
    this.burst = burst;
    this.clock = clock;
    this.tokens = burst;
    this.last = clock.now().getTime();
  }

  private refill(): void {
    const now = this.clock.now().getTime();
    // A clock that stepped back counts as no time passed, as in golang.org/x/time/rate.
    const elapsed = Math.max(0, now - this.last);
    this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.qps) / 1000);
    this.last = now;
  }

  /** Takes a token if one is there now; a refusal costs nothing (client-go's spam filter). */
  tryTake(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Takes a token; resolves to how long (ms) the caller must wait until it is really there. */
  reserve(): number {
    this.refill();
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens * 1000) / this.qps;
  }
}
