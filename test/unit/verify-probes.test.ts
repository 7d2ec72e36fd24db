// Verification checks off the reconcile path: a pass asks for the latest observation and never
// waits; at most one probe per incident and check runs, within the pool and its namespace's share;
// a result wakes its incident; stop() and forget() end what is in flight.
import { describe, expect, it } from '@jest/globals';
import { ManualClock } from '../../src/runtime/clock.ts';
import { silentLogger } from '../../src/telemetry/logger.ts';
import { CheckProbes, type ProbeRequest, type ProbeSlot } from '../../src/verify/probes.ts';

const HEALTH: ProbeSlot<string> = { name: 'http' };
const QUERY: ProbeSlot<string> = { name: 'promQL' };

/** A check that answers when the test says, and records how it was called. */
class FakeChecker {
  readonly calls: { owner: string; identity: string; signal: AbortSignal; answer: (v: string) => void }[] =
    [];

  run(owner: string, identity: string) {
    return (signal: AbortSignal) =>
      new Promise<string>((resolve) => this.calls.push({ owner, identity, signal, answer: resolve }));
  }

  /** Answers the n-th call, and lets the probe keep the result. */
  async answer(n: number, value: string): Promise<void> {
    const call = this.calls[n];
    if (!call) throw new Error(`no call ${n}`);
    call.answer(value);
    await flush();
  }

  get running(): string[] {
    return this.calls.filter((c) => !c.signal.aborted).map((c) => c.owner);
  }
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

function setup(options: { concurrency?: number; perNamespace?: number } = {}) {
  const clock = new ManualClock();
  const woken: string[] = [];
  const probes = new CheckProbes({
    clock,
    concurrency: options.concurrency ?? 8,
    perNamespace: options.perNamespace ?? 8,
    settled: (owner) => woken.push(owner),
    logger: silentLogger,
  });
  const checker = new FakeChecker();
  const request = (o: Partial<ProbeRequest<string>> & { owner?: string } = {}): ProbeRequest<string> => {
    const owner = o.owner ?? 'team-a/orders';
    const identity = o.identity ?? 'GET /health';
    return {
      owner,
      namespace: owner.split('/')[0] ?? '',
      slot: HEALTH,
      identity,
      since: new Date(0),
      everyMs: 10_000,
      run: checker.run(owner, identity),
      ...o,
    };
  };
  return { clock, woken, probes, checker, request };
}

describe('CheckProbes', () => {
  it('never waits: the first ask starts one probe and returns nothing; its result wakes the incident', async () => {
    const { probes, checker, woken, request, clock } = setup();
    expect(probes.latest(request())).toBeUndefined();
    expect(probes.latest(request())).toBeUndefined();
    expect(checker.calls).toHaveLength(1);
    expect(woken).toEqual([]);

    await checker.answer(0, 'answered 200');
    expect(woken).toEqual(['team-a/orders']);
    expect(probes.latest(request())).toEqual({ value: 'answered 200', startedAt: clock.now() });
    expect(checker.calls).toHaveLength(1);
  });

  it('keeps one probe per incident and check: another check of the same incident is its own probe', () => {
    const { probes, checker, request } = setup();
    probes.latest(request());
    probes.latest(request({ slot: QUERY, identity: 'up == 1' }));
    probes.latest(request({ owner: 'team-a/billing' }));
    probes.latest(request());
    expect(checker.calls.map((c) => [c.owner, c.identity])).toEqual([
      ['team-a/orders', 'GET /health'],
      ['team-a/orders', 'up == 1'],
      ['team-a/billing', 'GET /health'],
    ]);
  });

  it('checks again once the latest result is as old as the interval, and serves that result meanwhile', async () => {
    const { probes, checker, request, clock } = setup();
    probes.latest(request({ everyMs: 10_000 }));
    const firstAt = clock.now();
    await checker.answer(0, 'answered 503');
    clock.advance(9_999);
    expect(probes.latest(request({ everyMs: 10_000 }))?.value).toBe('answered 503');
    expect(checker.calls).toHaveLength(1);

    clock.advance(1);
    expect(probes.latest(request({ everyMs: 10_000 }))).toEqual({
      value: 'answered 503',
      startedAt: firstAt,
    });
    expect(checker.calls).toHaveLength(2);
    await checker.answer(1, 'answered 200');
    expect(probes.latest(request({ everyMs: 10_000 }))).toEqual({
      value: 'answered 200',
      startedAt: clock.now(),
    });
  });

  it('runs a check with everyMs Infinity once', async () => {
    const { probes, checker, request, clock } = setup();
    probes.latest(request({ everyMs: Number.POSITIVE_INFINITY }));
    await checker.answer(0, 'at open');
    clock.advance(24 * 3_600_000);
    expect(probes.latest(request({ everyMs: Number.POSITIVE_INFINITY }))?.value).toBe('at open');
    expect(checker.calls).toHaveLength(1);
  });

  it('counts no result started before `since` (before the verified action was applied)', async () => {
    const { probes, checker, request, clock } = setup();
    probes.latest(request());
    await checker.answer(0, 'before the restart');
    clock.advance(1_000);
    const applied = clock.now();
    expect(probes.latest(request({ since: applied }))).toBeUndefined();
    expect(checker.calls).toHaveLength(2);
    await checker.answer(1, 'after the restart');
    expect(probes.latest(request({ since: applied }))?.value).toBe('after the restart');
  });

  it('treats a changed check as a new probe: the old one is aborted and its late answer dropped', async () => {
    const { probes, checker, request, woken } = setup();
    probes.latest(request({ identity: 'GET /old' }));
    expect(probes.latest(request({ identity: 'GET /new' }))).toBeUndefined();
    expect(checker.calls[0]?.signal.aborted).toBe(true);
    await checker.answer(0, 'old answer');
    expect(woken).toEqual([]);
    expect(probes.peek('team-a/orders', HEALTH, 'GET /old')).toBeUndefined();
    await checker.answer(1, 'new answer');
    expect(probes.peek('team-a/orders', HEALTH, 'GET /new')?.value).toBe('new answer');
  });

  it('peek reads the latest result and never starts a probe', async () => {
    const { probes, checker, request } = setup();
    expect(probes.peek('team-a/orders', HEALTH, 'GET /health')).toBeUndefined();
    expect(checker.calls).toHaveLength(0);
    probes.latest(request());
    await checker.answer(0, 'answered 200');
    expect(probes.peek('team-a/orders', HEALTH, 'GET /health')?.value).toBe('answered 200');
    expect(probes.peek('team-a/orders', HEALTH, 'GET /other')).toBeUndefined();
  });

  it('runs at most `concurrency` probes; the others wait their turn in order', async () => {
    const { probes, checker, request } = setup({ concurrency: 2 });
    for (const owner of ['a/one', 'b/two', 'c/three', 'd/four']) probes.latest(request({ owner }));
    expect(checker.running).toEqual(['a/one', 'b/two']);
    await checker.answer(1, 'done');
    expect(checker.running).toEqual(['a/one', 'b/two', 'c/three']);
    await checker.answer(0, 'done');
    expect(checker.calls.map((c) => c.owner)).toEqual(['a/one', 'b/two', 'c/three', 'd/four']);
  });

  it("gives one namespace at most its share, so its endpoints that never answer cannot hold another's checks", async () => {
    const { probes, checker, request } = setup({ concurrency: 4, perNamespace: 2 });
    for (const name of ['h1', 'h2', 'h3', 'h4', 'h5']) probes.latest(request({ owner: `tenant/${name}` }));
    probes.latest(request({ owner: 'shop/orders' }));
    expect(checker.calls.map((c) => c.owner)).toEqual(['tenant/h1', 'tenant/h2', 'shop/orders']);
    await checker.answer(2, 'answered 200');
    expect(probes.latest(request({ owner: 'shop/orders' }))?.value).toBe('answered 200');
    await checker.answer(0, 'timed out');
    expect(checker.calls.map((c) => c.owner)).toEqual(['tenant/h1', 'tenant/h2', 'shop/orders', 'tenant/h3']);
  });

  it('forgets an incident: its probes are aborted, their slots freed at once, their results dropped', async () => {
    const { probes, checker, request, woken } = setup({ concurrency: 1 });
    // A check that never ends, even when asked to: forgetting it still frees its slot.
    probes.latest({ ...request({ owner: 'a/hung' }), run: () => new Promise<string>(() => undefined) });
    probes.latest(request({ owner: 'a/next' }));
    expect(checker.calls).toHaveLength(0);
    probes.forget('a/hung');
    await flush();
    expect(checker.running).toEqual(['a/next']);
    await checker.answer(0, 'answered 200');
    probes.forget('a/next');
    expect(probes.peek('a/next', HEALTH, 'GET /health')).toBeUndefined();
    expect(woken).toEqual(['a/next']);
  });

  it('stop() aborts everything in flight or waiting, wakes nobody and starts nothing more', async () => {
    const { probes, checker, request, woken } = setup({ concurrency: 1 });
    probes.latest(request({ owner: 'a/one' }));
    probes.latest(request({ owner: 'a/two' }));
    probes.stop();
    expect(checker.calls.map((c) => c.signal.aborted)).toEqual([true]);
    await checker.answer(0, 'late');
    expect(woken).toEqual([]);
    expect(probes.latest(request({ owner: 'a/three' }))).toBeUndefined();
    await flush();
    expect(checker.calls).toHaveLength(1);
  });

  it('a check that throws leaves no observation and wakes nobody; the next ask starts another', async () => {
    const { probes, request, woken } = setup();
    let runs = 0;
    const failing = {
      ...request(),
      run: () => {
        runs++;
        return Promise.reject(new Error('boom'));
      },
    };
    probes.latest(failing);
    await flush();
    expect(woken).toEqual([]);
    expect(probes.latest(failing)).toBeUndefined();
    expect(runs).toBe(2);
  });
});
