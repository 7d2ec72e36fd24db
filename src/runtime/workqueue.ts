import { DEFAULT_ITEM_BACKOFF, exponentialBackoff, type BackoffOptions } from './backoff.ts';
import { systemClock, type Clock } from './clock.ts';
import { TokenBucket } from './ratelimit.ts';

/** Starts a one-shot timer and returns a function that cancels it. */
export type ScheduleTimer = (callback: () => void, delayMs: number) => () => void;

// Node fires a timer whose delay does not fit in a signed 32-bit int after 1 ms instead.
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

export const realTimers: ScheduleTimer = (callback, delayMs) => {
  let timer: NodeJS.Timeout | undefined;
  const arm = (remainingMs: number): void => {
    timer = setTimeout(
      () => (remainingMs > MAX_TIMER_DELAY_MS ? arm(remainingMs - MAX_TIMER_DELAY_MS) : callback()),
      Math.min(remainingMs, MAX_TIMER_DELAY_MS),
    );
  };
  arm(delayMs);
  return () => clearTimeout(timer);
};

export interface WorkQueueOptions {
  /** Per-key backoff of `addRateLimited`; defaults to client-go's 5 ms doubling up to 1000 s. */
  backoff?: Partial<BackoffOptions>;
  /**
   * An overall limit on `addRateLimited` across all keys (client-go's default: 10 qps, burst 100);
   * the retry waits for whichever is later, its key's backoff or a token.
   */
  retryLimit?: { qps: number; burst: number };
  clock?: Clock;
  scheduleTimer?: ScheduleTimer;
  /** Called whenever the number of ready keys changes, e.g. to set a depth gauge. */
  onDepthChange?: (depth: number) => void;
}

type Phase = 'running' | 'draining' | 'stopped';

interface DelayedAdd {
  readyAt: number;
  cancel: () => void;
}

/**
 * A rate-limited work queue of object keys ("namespace/name") with client-go workqueue semantics: a key
 * waits in the queue at most once, and is never handed to two workers at once; a key added while being
 * processed is queued again when its worker calls `done`.
 */
export class WorkQueue {
  // A Set keeps insertion order, so it is both the FIFO and the dedupe index.
  private readonly ready = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly requeueOnDone = new Set<string>();
  private readonly delayed = new Map<string, DelayedAdd>();
  private readonly failures = new Map<string, number>();
  private readonly waiters: ((key: string | undefined) => void)[] = [];
  private readonly drained = Promise.withResolvers<undefined>();
  private readonly backoff: BackoffOptions;
  private readonly retryBucket: TokenBucket | undefined;
  private readonly clock: Clock;
  private readonly scheduleTimer: ScheduleTimer;
  private readonly onDepthChange: ((depth: number) => void) | undefined;
  private phase: Phase = 'running';
  private reportedDepth = 0;

  constructor(options: WorkQueueOptions = {}) {
    this.backoff = { ...DEFAULT_ITEM_BACKOFF, ...options.backoff };
    // Rejects bad options here rather than at the first failure, far from the configuration.
    exponentialBackoff(0, this.backoff);
    this.clock = options.clock ?? systemClock;
    this.retryBucket = options.retryLimit
      ? new TokenBucket(options.retryLimit.qps, options.retryLimit.burst, this.clock)
      : undefined;
    this.scheduleTimer = options.scheduleTimer ?? realTimers;
    this.onDepthChange = options.onDepthChange;
  }

  /** Queues the key unless it is already queued; ignored once shutting down. */
  add(key: string): void {
    if (this.phase !== 'running') return;
    if (this.processing.has(key)) this.requeueOnDone.add(key);
    else this.ready.add(key);
    this.dispatch();
  }

  /** Adds the key after `delayMs`; of several pending delays for a key, the earliest ready time wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.phase !== 'running') return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const readyAt = this.clock.now().getTime() + delayMs;
    const pending = this.delayed.get(key);
    if (pending !== undefined && pending.readyAt <= readyAt) return;
    pending?.cancel();
    const cancel = this.scheduleTimer(() => {
      this.delayed.delete(key);
      this.add(key);
    }, delayMs);
    this.delayed.set(key, { readyAt, cancel });
  }

  /**
   * Adds the key after its backoff delay, which doubles with each call until `forget`, or later
   * when the overall retry limit says so.
   */
  addRateLimited(key: string): void {
    const failures = this.numRequeues(key);
    this.failures.set(key, failures + 1);
    const overall = this.retryBucket?.reserve() ?? 0;
    this.addAfter(key, Math.max(exponentialBackoff(failures, this.backoff), overall));
  }

  /** Resets the key's backoff, typically after it was processed successfully. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /**
   * The next ready key, which the caller owns until it calls `done`. Waits while none is ready;
   * undefined once shut down, or once drained after `shutDownWithDrain`.
   */
  get(): Promise<string | undefined> {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.dispatch();
    });
  }

  /** Releases a key obtained from `get`; if it was added meanwhile, it is queued again. */
  done(key: string): void {
    this.processing.delete(key);
    if (this.requeueOnDone.delete(key)) this.ready.add(key);
    this.dispatch();
  }

  /** Number of ready keys, not counting keys being processed or waiting for a delay. */
  len(): number {
    return this.ready.size;
  }

  /** Stops at once: queued and delayed keys are dropped, and every `get` resolves undefined. */
  shutDown(): void {
    this.phase = 'stopped';
    this.dropDelayed();
    this.ready.clear();
    this.requeueOnDone.clear();
    this.dispatch();
  }

  /**
   * Stops accepting keys and drops delayed ones, but keeps handing out the queued keys, including keys
   * re-added before the drain began; resolves when all of them are `done`.
   */
  shutDownWithDrain(): Promise<void> {
    if (this.phase === 'running') this.phase = 'draining';
    this.dropDelayed();
    this.dispatch();
    return this.drained.promise;
  }

  private dropDelayed(): void {
    for (const { cancel } of this.delayed.values()) cancel();
    this.delayed.clear();
  }

  /** Hands ready keys to waiting workers and settles shutdown; every state change ends here. */
  private dispatch(): void {
    for (const key of this.ready) {
      const waiter = this.waiters.shift();
      if (waiter === undefined) break;
      this.ready.delete(key);
      this.processing.add(key);
      waiter(key);
    }
    const idle = this.ready.size === 0 && this.processing.size === 0;
    if (this.phase === 'stopped' || (this.phase === 'draining' && idle)) {
      for (const waiter of this.waiters.splice(0)) waiter(undefined);
    }
    if (this.phase !== 'running' && idle) this.drained.resolve(undefined);
    if (this.ready.size !== this.reportedDepth) {
      this.reportedDepth = this.ready.size;
      this.onDepthChange?.(this.reportedDepth);
    }
  }
}
