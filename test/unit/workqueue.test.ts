import { describe, expect, it, jest } from '@jest/globals';
import { exponentialBackoff, type BackoffOptions } from '../../src/runtime/backoff.ts';
import { ManualClock } from '../../src/runtime/clock.ts';
import { TokenBucket } from '../../src/runtime/ratelimit.ts';
import {
  realTimers,
  WorkQueue,
  type ScheduleTimer,
  type WorkQueueOptions,
} from '../../src/runtime/workqueue.ts';

/** Timers driven by a ManualClock, so that delays are asserted exactly instead of raced. */
class FakeTimers {
  readonly clock = new ManualClock();
  private readonly timers = new Set<{ dueAt: number; callback: () => void }>();

  readonly schedule: ScheduleTimer = (callback, delayMs) => {
    const timer = { dueAt: this.clock.now().getTime() + delayMs, callback };
    this.timers.add(timer);
    return () => {
      this.timers.delete(timer);
    };
  };

  get pending(): number {
    return this.timers.size;
  }

  advance(ms: number): void {
    const target = this.clock.now().getTime() + ms;
    for (;;) {
      const [next] = [...this.timers].filter((t) => t.dueAt <= target).sort((a, b) => a.dueAt - b.dueAt);
      if (next === undefined) break;
      this.timers.delete(next);
      this.clock.set(new Date(next.dueAt));
      next.callback();
    }
    this.clock.set(new Date(target));
  }
}

function fakeQueue(options: WorkQueueOptions = {}): { queue: WorkQueue; timers: FakeTimers } {
  const timers = new FakeTimers();
  const queue = new WorkQueue({ clock: timers.clock, scheduleTimer: timers.schedule, ...options });
  return { queue, timers };
}

/** Lets every already-resolved promise callback run, so that "still pending" is a real observation. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function track<T>(promise: Promise<T>): { settled: boolean; value: T | undefined } {
  const state: { settled: boolean; value: T | undefined } = { settled: false, value: undefined };
  void promise.then((value) => {
    state.settled = true;
    state.value = value;
  });
  return state;
}

async function takeAll(queue: WorkQueue): Promise<string[]> {
  const keys: string[] = [];
  while (queue.len() > 0) {
    const key = await queue.get();
    if (key === undefined) break;
    keys.push(key);
    queue.done(key);
  }
  return keys;
}

/** Asserts that the key becomes ready exactly `delayMs` after now, and not a millisecond earlier. */
function expectReadyAfter(queue: WorkQueue, timers: FakeTimers, delayMs: number): void {
  timers.advance(delayMs - 1);
  expect(queue.len()).toBe(0);
  timers.advance(1);
  expect(queue.len()).toBe(1);
}

describe('exponentialBackoff', () => {
  const defaults: BackoffOptions = { baseMs: 5, maxMs: 1_000_000 };

  it.each([
    [0, defaults, 5],
    [1, defaults, 10],
    [2, defaults, 20],
    [3, defaults, 40],
    [17, defaults, 655_360],
    [18, defaults, 1_000_000],
    [5_000, defaults, 1_000_000],
    [3, { baseMs: 100, maxMs: 1_000 }, 800],
    [4, { baseMs: 100, maxMs: 1_000 }, 1_000],
  ])('after %i failures with %j waits %i ms', (failures, options, expected) => {
    expect(exponentialBackoff(failures, options)).toBe(expected);
  });

  it.each([
    [2, 20 + 20 * 0.2 * 0.5],
    [10, 30 + 30 * 0.2 * 0.5],
  ])('adds jitter on top of the capped delay after %i failures', (failures, expected) => {
    expect(exponentialBackoff(failures, { baseMs: 5, maxMs: 30, jitter: 0.2, random: () => 0.5 })).toBe(
      expected,
    );
  });

  it('uses no randomness unless jitter is asked for', () => {
    const random = () => {
      throw new Error('random called');
    };
    expect(exponentialBackoff(1, { ...defaults, random })).toBe(10);
  });

  it.each([
    ['negative failures', -1, defaults],
    ['fractional failures', 1.5, defaults],
    ['a zero base', 1, { baseMs: 0, maxMs: 10 }],
    ['a max below the base', 1, { baseMs: 10, maxMs: 5 }],
    ['an infinite max', 1, { baseMs: 10, maxMs: Infinity }],
    ['a NaN base', 1, { baseMs: NaN, maxMs: 10 }],
    ['a negative jitter', 1, { ...defaults, jitter: -0.1 }],
  ])('rejects %s', (_case, failures, options) => {
    expect(() => exponentialBackoff(failures, options)).toThrow(RangeError);
  });
});

describe('WorkQueue', () => {
  it('rejects bad backoff options when constructed', () => {
    expect(() => new WorkQueue({ backoff: { baseMs: 0 } })).toThrow(RangeError);
  });

  it('queues a key at most once', async () => {
    const { queue } = fakeQueue();
    for (const key of ['a', 'a', 'b', 'a', 'b']) queue.add(key);
    expect(queue.len()).toBe(2);
    expect(await takeAll(queue)).toEqual(['a', 'b']);
  });

  it.each([[['c', 'a', 'b']], [['a', 'b', 'c', 'd']], [['x']]])(
    'hands out %j in FIFO order',
    async (keys) => {
      const { queue } = fakeQueue();
      for (const key of keys) queue.add(key);
      expect(await takeAll(queue)).toEqual(keys);
    },
  );

  it('serves waiting workers in arrival order, one key each', async () => {
    const { queue } = fakeQueue();
    const first = track(queue.get());
    const second = track(queue.get());
    const third = track(queue.get());
    await settle();
    expect([first.settled, second.settled, third.settled]).toEqual([false, false, false]);
    queue.add('a');
    queue.add('b');
    await settle();
    expect([first.value, second.value, third.settled]).toEqual(['a', 'b', false]);
  });

  it('delivers a key re-added during processing exactly once more, after done', async () => {
    const { queue } = fakeQueue();
    queue.add('a');
    expect(await queue.get()).toBe('a');
    queue.add('a');
    queue.add('a');
    expect(queue.len()).toBe(0);
    const next = track(queue.get());
    await settle();
    expect(next.settled).toBe(false);

    queue.done('a');
    await settle();
    expect(next.value).toBe('a');
    queue.done('a');
    const after = track(queue.get());
    await settle();
    expect(after.settled).toBe(false);
  });

  it('queues a key re-added during processing behind keys added before its done', async () => {
    const { queue } = fakeQueue();
    queue.add('a');
    expect(await queue.get()).toBe('a');
    queue.add('a');
    queue.add('b');
    queue.done('a');
    expect(await takeAll(queue)).toEqual(['b', 'a']);
  });

  it('ignores done for a key that is not being processed', async () => {
    const { queue } = fakeQueue();
    queue.add('a');
    queue.done('a');
    queue.done('never-added');
    expect(queue.len()).toBe(1);
    expect(await takeAll(queue)).toEqual(['a']);
  });

  it('delivers an added-after key when its delay has passed and not before', () => {
    const { queue, timers } = fakeQueue();
    queue.addAfter('a', 100);
    expectReadyAfter(queue, timers, 100);
    expect(timers.pending).toBe(0);
  });

  it.each([0, -5])('adds at once when the delay is %i ms', (delayMs) => {
    const { queue, timers } = fakeQueue();
    queue.addAfter('a', delayMs);
    expect(queue.len()).toBe(1);
    expect(timers.pending).toBe(0);
  });

  it.each([
    [100, 50],
    [50, 100],
    [70, 70],
  ])('adds once, at the earlier time, when delayed by %i then %i ms', async (firstMs, secondMs) => {
    const { queue, timers } = fakeQueue();
    queue.addAfter('a', firstMs);
    queue.addAfter('a', secondMs);
    expect(timers.pending).toBe(1);
    expectReadyAfter(queue, timers, Math.min(firstMs, secondMs));
    expect(await takeAll(queue)).toEqual(['a']);
    timers.advance(Math.max(firstMs, secondMs));
    expect(queue.len()).toBe(0);
  });

  it('keeps the earlier time when a later delay is asked for after time has passed', () => {
    const { queue, timers } = fakeQueue();
    queue.addAfter('a', 100);
    timers.advance(60);
    queue.addAfter('a', 50);
    expectReadyAfter(queue, timers, 40);
  });

  it('holds a delayed key that comes due during processing until done', async () => {
    const { queue, timers } = fakeQueue();
    queue.add('a');
    expect(await queue.get()).toBe('a');
    queue.addAfter('a', 10);
    timers.advance(10);
    expect(queue.len()).toBe(0);
    queue.done('a');
    expect(await takeAll(queue)).toEqual(['a']);
  });

  it('backs a failing key off 5, 10, 20, 40, 80 ms, and forget starts over', async () => {
    const { queue, timers } = fakeQueue();
    for (const [failures, delayMs] of [5, 10, 20, 40, 80].entries()) {
      queue.addRateLimited('a');
      expect(queue.numRequeues('a')).toBe(failures + 1);
      expectReadyAfter(queue, timers, delayMs);
      expect(await takeAll(queue)).toEqual(['a']);
    }
    expect(queue.numRequeues('other')).toBe(0);
    queue.addRateLimited('other');
    expectReadyAfter(queue, timers, 5);
    await takeAll(queue);

    queue.forget('a');
    expect(queue.numRequeues('a')).toBe(0);
    queue.addRateLimited('a');
    expectReadyAfter(queue, timers, 5);
  });

  it('caps the backoff at the configured max', async () => {
    const { queue, timers } = fakeQueue({ backoff: { baseMs: 5, maxMs: 30 } });
    for (const delayMs of [5, 10, 20, 30, 30, 30]) {
      queue.addRateLimited('a');
      expectReadyAfter(queue, timers, delayMs);
      await takeAll(queue);
    }
  });

  describe('with an overall retry limit', () => {
    /** When each key becomes ready, in ms from now: the clock moves a millisecond at a time. */
    async function readyTimes(queue: WorkQueue, timers: FakeTimers, horizonMs: number) {
      const ready: Record<string, number> = {};
      for (let t = 1; t <= horizonMs; t++) {
        timers.advance(1);
        for (const key of await takeAll(queue)) ready[key] = t;
      }
      return ready;
    }

    it('lets a burst of failing keys retry on their own backoff, then spaces the rest at qps', async () => {
      const { queue, timers } = fakeQueue({ retryLimit: { qps: 10, burst: 2 } });
      for (const key of ['a', 'b', 'c', 'd', 'e']) queue.addRateLimited(key);
      // a and b take the burst (5 ms backoff); c, d, e wait for tokens at 10 qps: 100, 200, 300 ms.
      expect(await readyTimes(queue, timers, 400)).toEqual({ a: 5, b: 5, c: 100, d: 200, e: 300 });
    });

    it("waits for a key's backoff when it is later than the token", async () => {
      const { queue, timers } = fakeQueue({
        retryLimit: { qps: 10, burst: 100 },
        backoff: { baseMs: 100, maxMs: 10_000 },
      });
      for (const delayMs of [100, 200, 400]) {
        queue.addRateLimited('a');
        expectReadyAfter(queue, timers, delayMs);
        await takeAll(queue);
      }
    });

    it('refills its tokens with time: after a quiet second, a burst again', async () => {
      const { queue, timers } = fakeQueue({ retryLimit: { qps: 10, burst: 2 } });
      queue.addRateLimited('a');
      queue.addRateLimited('b');
      timers.advance(1_000);
      await takeAll(queue);
      for (const key of ['c', 'd', 'e']) queue.addRateLimited(key);
      expect(await readyTimes(queue, timers, 200)).toEqual({ c: 5, d: 5, e: 100 });
    });

    it('leaves add and addAfter alone: only retries are limited', () => {
      const { queue, timers } = fakeQueue({ retryLimit: { qps: 1, burst: 1 } });
      queue.addRateLimited('a');
      queue.addRateLimited('b');
      for (const key of ['c', 'd', 'e']) queue.add(key);
      queue.addAfter('f', 10);
      timers.advance(10);
      expect(queue.len()).toBe(5);
    });

    it('without one, any number of keys retry on their own backoff', () => {
      const { queue, timers } = fakeQueue();
      for (let i = 0; i < 500; i++) queue.addRateLimited(`key-${i}`);
      timers.advance(4);
      expect(queue.len()).toBe(0);
      timers.advance(1);
      expect(queue.len()).toBe(500);
    });

    it('rejects a bad limit when constructed', () => {
      expect(() => new WorkQueue({ retryLimit: { qps: 0, burst: 10 } })).toThrow(RangeError);
      expect(() => new WorkQueue({ retryLimit: { qps: 10, burst: 0 } })).toThrow(RangeError);
    });
  });

  it('reports depth changes of the ready keys', async () => {
    const depths: number[] = [];
    const { queue, timers } = fakeQueue({ onDepthChange: (depth) => depths.push(depth) });
    queue.add('a');
    queue.add('b');
    queue.add('a');
    queue.addAfter('c', 10);
    expect(depths).toEqual([1, 2]);
    expect(await queue.get()).toBe('a');
    timers.advance(10);
    queue.shutDown();
    expect(depths).toEqual([1, 2, 1, 2, 0]);
  });

  describe('shutDown', () => {
    it('resolves waiting getters with undefined', async () => {
      const { queue } = fakeQueue();
      const waiting = [queue.get(), queue.get()];
      queue.shutDown();
      expect(await Promise.all(waiting)).toEqual([undefined, undefined]);
    });

    it('hands out no queued, re-added or new keys afterwards', async () => {
      const { queue } = fakeQueue();
      for (const key of ['a', 'b', 'c']) queue.add(key);
      expect(await queue.get()).toBe('a');
      queue.add('a');
      queue.shutDown();
      queue.done('a');
      queue.add('d');
      expect(queue.len()).toBe(0);
      expect(await queue.get()).toBeUndefined();
    });

    it('drops delayed keys and cancels their timers', () => {
      const { queue, timers } = fakeQueue();
      queue.addAfter('a', 100);
      queue.addRateLimited('b');
      queue.shutDown();
      expect(timers.pending).toBe(0);
      queue.addAfter('c', 100);
      queue.addRateLimited('d');
      expect(timers.pending).toBe(0);
      timers.advance(1_000);
      expect(queue.len()).toBe(0);
    });

    it('leaves no real timer behind to keep the process alive', () => {
      const timeouts = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
      const before = timeouts();
      const queue = new WorkQueue();
      queue.addAfter('a', 60_000);
      expect(timeouts()).toBe(before + 1);
      queue.shutDown();
      expect(timeouts()).toBe(before);
    });
  });

  describe('shutDownWithDrain', () => {
    it('hands out queued keys, ignores new ones, and resolves when the last in-flight key is done', async () => {
      const { queue, timers } = fakeQueue();
      queue.add('a');
      queue.add('b');
      expect(await queue.get()).toBe('a');
      const drained = track(queue.shutDownWithDrain());
      queue.add('c');
      queue.addAfter('d', 10);
      queue.addRateLimited('e');
      expect(timers.pending).toBe(0);
      expect(queue.len()).toBe(1);

      expect(await queue.get()).toBe('b');
      const idleWorker = track(queue.get());
      queue.done('a');
      await settle();
      expect(drained.settled).toBe(false);
      expect(idleWorker.settled).toBe(false);

      queue.done('b');
      await settle();
      expect(drained.settled).toBe(true);
      expect(idleWorker).toEqual({ settled: true, value: undefined });
      expect(await queue.get()).toBeUndefined();
    });

    it('processes a key re-added before the drain began', async () => {
      const { queue } = fakeQueue();
      queue.add('a');
      expect(await queue.get()).toBe('a');
      queue.add('a');
      const drained = track(queue.shutDownWithDrain());
      queue.done('a');
      expect(await queue.get()).toBe('a');
      await settle();
      expect(drained.settled).toBe(false);
      queue.done('a');
      await settle();
      expect(drained.settled).toBe(true);
    });

    it('resolves at once when idle, dropping delayed keys and their timers', async () => {
      const { queue, timers } = fakeQueue();
      queue.addAfter('a', 100);
      const waiting = queue.get();
      await queue.shutDownWithDrain();
      expect(await waiting).toBeUndefined();
      expect(timers.pending).toBe(0);
    });

    it('still waits for in-flight keys when shutDown cuts the drain short', async () => {
      const { queue } = fakeQueue();
      queue.add('a');
      queue.add('b');
      expect(await queue.get()).toBe('a');
      const drained = track(queue.shutDownWithDrain());
      queue.shutDown();
      expect(await queue.get()).toBeUndefined();
      await settle();
      expect(drained.settled).toBe(false);
      queue.done('a');
      await settle();
      expect(drained.settled).toBe(true);
    });
  });

  it('never hands one key to two concurrent workers, and loses no add', async () => {
    // A fixed-seed generator: the interleaving varies across keys but is the same on every run.
    let seed = 42;
    const random = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    const yieldTimes = async (n: number) => {
      for (let i = 0; i < n; i++) await settle();
    };
    const { queue } = fakeQueue();
    const inFlight = new Set<string>();
    const owed = new Set<string>();
    let doubleDeliveries = 0;
    let addsWhileInFlight = 0;
    let maxConcurrency = 0;

    const worker = async () => {
      for (let key = await queue.get(); key !== undefined; key = await queue.get()) {
        if (inFlight.has(key)) doubleDeliveries++;
        inFlight.add(key);
        maxConcurrency = Math.max(maxConcurrency, inFlight.size);
        owed.delete(key);
        await yieldTimes(1 + random(3));
        inFlight.delete(key);
        queue.done(key);
      }
    };
    const workers = [worker(), worker()];
    for (let i = 0; i < 300; i++) {
      const key = `ns/obj-${random(3)}`;
      if (inFlight.has(key)) addsWhileInFlight++;
      owed.add(key);
      queue.add(key);
      await yieldTimes(random(2));
    }
    await queue.shutDownWithDrain();
    await Promise.all(workers);

    expect({ doubleDeliveries, owed: [...owed] }).toEqual({ doubleDeliveries: 0, owed: [] });
    // Guards against a vacuous pass: the interleaving must exercise what the assertions are about.
    expect(addsWhileInFlight).toBeGreaterThan(10);
    expect(maxConcurrency).toBe(2);
  });

  it('fires delayed keys with real timers by default', async () => {
    const queue = new WorkQueue();
    queue.addAfter('a', 5);
    expect(await queue.get()).toBe('a');
    queue.shutDown();
  });
});

describe('TokenBucket', () => {
  it.each<{ name: string; qps: number; burst: number; steps: [advanceMs: number, waitMs: number][] }>([
    {
      name: 'a full bucket hands out its burst at once, then one token per 1/qps',
      qps: 10,
      burst: 3,
      steps: [
        [0, 0],
        [0, 0],
        [0, 0],
        [0, 100],
        [0, 200],
        [0, 300],
      ],
    },
    {
      name: 'a reservation made while waiting queues behind the earlier ones',
      qps: 2,
      burst: 1,
      steps: [
        [0, 0],
        [0, 500],
        [250, 750],
      ],
    },
    {
      name: 'time refills tokens at qps',
      qps: 10,
      burst: 2,
      steps: [
        [0, 0],
        [0, 0],
        [150, 0],
        [0, 50],
      ],
    },
    {
      name: 'never beyond the burst, however long the pause',
      qps: 10,
      burst: 2,
      steps: [
        [0, 0],
        [0, 0],
        [3_600_000, 0],
        [0, 0],
        [0, 100],
      ],
    },
    {
      name: 'a waiting reservation is paid off by time',
      qps: 1,
      burst: 1,
      steps: [
        [0, 0],
        [0, 1_000],
        [2_000, 0],
        [0, 1_000],
      ],
    },
    {
      name: 'a fractional rate',
      qps: 0.5,
      burst: 1,
      steps: [
        [0, 0],
        [0, 2_000],
      ],
    },
  ])('$name', ({ qps, burst, steps }) => {
    const clock = new ManualClock();
    const bucket = new TokenBucket(qps, burst, clock);
    const waits = steps.map(([advanceMs]) => {
      clock.advance(advanceMs);
      return bucket.reserve();
    });
    expect(waits).toEqual(steps.map(([, waitMs]) => waitMs));
  });

  // The clock is the wall clock: it can step back (NTP). golang.org/x/time/rate, which this follows,
  // takes time before the last reservation as no time at all, so a step back costs no tokens.
  it('takes a clock that stepped back as no time passed: the burst is still there', () => {
    const clock = new ManualClock('2026-01-01T01:00:00Z');
    const bucket = new TokenBucket(10, 100, clock);
    clock.set('2026-01-01T00:00:00Z');
    expect(Array.from({ length: 100 }, () => bucket.reserve())).toEqual(Array.from({ length: 100 }, () => 0));
  });

  it.each<[string, number, number]>([
    ['qps 0', 0, 1],
    ['a negative qps', -1, 1],
    ['a NaN qps', Number.NaN, 1],
    ['an infinite qps', Number.POSITIVE_INFINITY, 1],
    ['burst 0', 10, 0],
    ['a fractional burst', 10, 1.5],
  ])('rejects %s', (_, qps, burst) => {
    expect(() => new TokenBucket(qps, burst, new ManualClock())).toThrow(RangeError);
  });
});

describe('realTimers', () => {
  it('waits out delays too long for one Node timer instead of firing after 1 ms', () => {
    jest.useFakeTimers();
    try {
      const fired = jest.fn();
      const maxNodeDelayMs = 2 ** 31 - 1;
      realTimers(fired, maxNodeDelayMs + 1_000);
      jest.advanceTimersByTime(maxNodeDelayMs + 999);
      expect(fired).not.toHaveBeenCalled();
      jest.advanceTimersByTime(1);
      expect(fired).toHaveBeenCalledTimes(1);
    } finally {
      jest.useRealTimers();
    }
  });

  it('cancels a long delay across its chained timers', () => {
    jest.useFakeTimers();
    try {
      const fired = jest.fn();
      const maxNodeDelayMs = 2 ** 31 - 1;
      const cancel = realTimers(fired, maxNodeDelayMs + 1_000);
      jest.advanceTimersByTime(maxNodeDelayMs + 1);
      cancel();
      jest.advanceTimersByTime(2_000);
      expect(fired).not.toHaveBeenCalled();
    } finally {
      jest.useRealTimers();
    }
  });
});
