import { describe, expect, it } from '@jest/globals';
import { JobRegistry, type JobRun } from '../../src/actions/jobs.ts';
import { ManualClock } from '../../src/runtime/clock.ts';

/** A job the test finishes by hand, recording the signal it was given. */
function controllable<P, R>() {
  let resolve: (r: R) => void = () => undefined;
  let reject: (e: Error) => void = () => undefined;
  let report: (p: P) => void = () => undefined;
  let signal: AbortSignal | undefined;
  let calls = 0;
  const run: JobRun<P, R> = (s, r) => {
    calls++;
    signal = s;
    report = r;
    return new Promise<R>((res, rej) => {
      resolve = res;
      reject = rej;
      s.addEventListener('abort', () => rej(new Error(`aborted: ${String(s.reason)}`)));
    });
  };
  return {
    run,
    resolve: (r: R) => resolve(r),
    reject: (e: Error) => reject(e),
    report: (p: P) => report(p),
    signal: () => signal,
    calls: () => calls,
  };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('JobRegistry', () => {
  it('runs one job per id, however often it is started, and exposes its progress and result', async () => {
    const clock = new ManualClock('2026-08-01T10:00:00Z');
    const settledIds: string[] = [];
    const jobs = new JobRegistry<string, number>({ clock, onSettled: (id) => settledIds.push(id) });
    const job = controllable<string, number>();
    expect(jobs.start('a1', job.run)).toEqual({ state: 'running', startedAt: clock.now() });
    await tick();
    expect(jobs.start('a1', job.run).state).toBe('running');
    expect(job.calls()).toBe(1);
    job.report('moved 10 of 100');
    expect(jobs.get('a1')).toMatchObject({ state: 'running', progress: 'moved 10 of 100' });
    expect(jobs.running()).toEqual(['a1']);
    clock.advance(5_000);
    job.resolve(100);
    const final = await jobs.settled('a1');
    expect(final).toEqual({
      state: 'succeeded',
      startedAt: new Date('2026-08-01T10:00:00Z'),
      finishedAt: new Date('2026-08-01T10:00:05Z'),
      progress: 'moved 10 of 100',
      result: 100,
    });
    expect(settledIds).toEqual(['a1']);
    expect(jobs.running()).toEqual([]);
    // A finished job is not run again under the same id until it is forgotten.
    expect(jobs.start('a1', job.run).state).toBe('succeeded');
    expect(job.calls()).toBe(1);
  });

  it('records a failure with its error', async () => {
    const jobs = new JobRegistry<string, number>({ clock: new ManualClock() });
    const job = controllable<string, number>();
    jobs.start('a1', job.run);
    await tick();
    job.reject(new Error('queue orders in vhost / does not exist'));
    const final = await jobs.settled('a1');
    expect(final?.state).toBe('failed');
    expect(final?.state === 'failed' && final.error.message).toBe('queue orders in vhost / does not exist');
  });

  it('turns a run that throws at once into a failed job, never into a throwing start()', async () => {
    const jobs = new JobRegistry<string, number>({ clock: new ManualClock() });
    expect(() =>
      jobs.start('a1', () => {
        throw new Error('bad parameters');
      }),
    ).not.toThrow();
    expect((await jobs.settled('a1'))?.state).toBe('failed');
  });

  it('aborts one job, or every job when the lease is lost', async () => {
    const jobs = new JobRegistry<string, number>({ clock: new ManualClock() });
    const [a, b, c] = [
      controllable<string, number>(),
      controllable<string, number>(),
      controllable<string, number>(),
    ];
    jobs.start('a', a.run);
    jobs.start('b', b.run);
    jobs.start('c', c.run);
    await tick();
    jobs.abort('a', 'incident resolved by a person');
    expect(a.signal()?.aborted).toBe(true);
    expect(b.signal()?.aborted).toBe(false);
    jobs.abortAll('leader lease lost');
    expect(b.signal()?.reason).toBe('leader lease lost');
    expect(c.signal()?.aborted).toBe(true);
    const outcomes = await Promise.all(['a', 'b', 'c'].map((id) => jobs.settled(id)));
    expect(outcomes.map((o) => o?.state === 'failed' && o.error.message)).toEqual([
      'aborted: incident resolved by a person',
      'aborted: leader lease lost',
      'aborted: leader lease lost',
    ]);
  });

  it('forgets a finished job on request or after the retention, never a running one', async () => {
    const clock = new ManualClock();
    const jobs = new JobRegistry<string, number>({ clock, retainMs: 60_000 });
    const done = controllable<string, number>();
    const running = controllable<string, number>();
    jobs.start('done', done.run);
    jobs.start('running', running.run);
    await tick();
    jobs.forget('running');
    expect(jobs.get('running')?.state).toBe('running');
    done.resolve(1);
    await jobs.settled('done');
    clock.advance(60_000);
    expect(jobs.get('done')?.state).toBe('succeeded');
    clock.advance(1);
    expect(jobs.get('done')).toBeUndefined();
    clock.advance(10 * 60_000);
    expect(jobs.get('running')?.state).toBe('running');
    running.resolve(2);
    await jobs.settled('running');
    jobs.forget('running');
    expect(jobs.get('running')).toBeUndefined();
    expect(await jobs.settled('running')).toBeUndefined();
  });
});
