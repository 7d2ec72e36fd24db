import { describe, expect, it } from '@jest/globals';
import type { Action } from '../../src/api/remediation.ts';
import { JobRegistry, type JobRun } from '../../src/actions/jobs.ts';
import type { RabbitConnection } from '../../src/actions/queue/connection.ts';
import { QueueEngine, type MoveSpec, type QueueResult } from '../../src/actions/queue/engine.ts';
import { LOCAL_BROKER_EGRESS } from '../support/rabbit.ts';
import { QueueFailure } from '../../src/actions/queue/failure.ts';
import { QueueJobs } from '../../src/actions/queue/runner.ts';
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
    void jobs.abortAll('leader lease lost');
    expect(b.signal()?.reason).toBe('leader lease lost');
    expect(c.signal()?.aborted).toBe(true);
    const outcomes = await Promise.all(['a', 'b', 'c'].map((id) => jobs.settled(id)));
    expect(outcomes.map((o) => o?.state === 'failed' && o.error.message)).toEqual([
      'aborted: incident resolved by a person',
      'aborted: leader lease lost',
      'aborted: leader lease lost',
    ]);
  });

  it('abort tells a running job once, with the first reason, and leaves a finished job as it ended', async () => {
    const jobs = new JobRegistry<string, number>({ clock: new ManualClock() });
    const running = controllable<string, number>();
    const finished = controllable<string, number>();
    jobs.start('running', running.run);
    jobs.start('finished', finished.run);
    await tick();
    finished.resolve(7);
    await jobs.settled('finished');

    expect(jobs.abort('finished', 'automation paused')).toBe(false);
    expect(jobs.get('finished')).toMatchObject({ state: 'succeeded', result: 7 });
    expect(jobs.abort('unknown', 'automation paused')).toBe(false);
    expect(jobs.abort('running', 'automation paused')).toBe(true);
    expect(jobs.abort('running', 'resolved by alice')).toBe(false);
    expect(running.signal()?.reason).toBe('automation paused');
    const final = await jobs.settled('running');
    expect(final?.state === 'failed' && final.error.message).toBe('aborted: automation paused');
    expect(jobs.running()).toEqual([]);
  });

  it('abortAll resolves once every job it stopped has ended', async () => {
    const jobs = new JobRegistry<string, number>({ clock: new ManualClock() });
    let release: () => void = () => undefined;
    // A run that settles what it holds before it ends, as a queue pass requeues its unsettled messages.
    jobs.start(
      'slow',
      (signal) =>
        new Promise<number>((_resolve, reject) =>
          signal.addEventListener('abort', () => {
            release = () => reject(new Error(`aborted: ${String(signal.reason)}`));
          }),
        ),
    );
    await tick();
    let ended = false;
    const all = jobs.abortAll('shutting down').then(() => (ended = true));
    await tick();
    expect(ended).toBe(false);
    expect(jobs.get('slow')?.state).toBe('running');
    release();
    await all;
    expect(jobs.get('slow')?.state).toBe('failed');
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

/** An engine whose move runs until it is aborted, as a long move does. */
class EndlessEngine extends QueueEngine {
  readonly moves: string[] = [];

  override move(_connection: RabbitConnection, spec: MoveSpec, signal: AbortSignal): Promise<QueueResult> {
    this.moves.push(spec.attempt);
    return new Promise((_resolve, reject) =>
      signal.addEventListener('abort', () =>
        reject(new QueueFailure('Aborted', `queue ${spec.queue}: aborted: ${String(signal.reason)}`)),
      ),
    );
  }
}

describe('QueueJobs', () => {
  const secretData = {
    'amqp-url': 'amqp://rabbitmq.shop.svc:5672',
    'management-url': 'http://rabbitmq.shop.svc:15672',
    username: 'selfheal',
    password: 'secret',
  };
  const move: Action = {
    type: 'queueDrain',
    queueDrain: {
      connectionSecretRef: { name: 'rabbitmq' },
      vhost: '/',
      queue: 'orders',
      mode: 'move',
      parkingQueue: 'orders.parked',
      threshold: 0,
      allowPurge: false,
      timeout: '10m',
    },
  };

  function queueJobs() {
    const clock = new ManualClock();
    const engine = new EndlessEngine({ clock, egress: LOCAL_BROKER_EGRESS });
    const woken: string[] = [];
    const jobs = new QueueJobs({
      engine,
      secrets: { read: () => Promise.resolve(secretData) },
      clock,
      settled: (owner) => woken.push(owner),
      mayRun: () => true,
    });
    const start = (marker: string, owner: string) =>
      jobs.start(marker, {
        owner,
        namespace: 'shop',
        action: move,
        deadline: new Date(clock.now().getTime() + 600_000),
      });
    return { jobs, engine, woken, start };
  }
  const settle = async () => {
    for (let i = 0; i < 5; i++) await tick();
  };

  it('stops the jobs of a deleted incident by its key, and only those', async () => {
    const { jobs, engine, woken, start } = queueJobs();
    start('uid-1/attempt-1', 'shop/orders-backlog');
    start('uid-2/attempt-1', 'shop/payments-backlog');
    await settle();
    expect(engine.moves).toEqual(['uid-1/attempt-1', 'uid-2/attempt-1']);

    jobs.abortOwnedBy('shop/orders-backlog', 'the incident was deleted');
    await settle();
    expect(jobs.view('uid-1/attempt-1')).toEqual({
      state: 'failed',
      reason: 'Aborted',
      message: 'queue orders: aborted: the incident was deleted',
    });
    expect(jobs.view('uid-2/attempt-1')?.state).toBe('running');
    expect(woken).toEqual(['shop/orders-backlog']);
  });

  it("stops one attempt's job by its marker, and every job when leadership ends", async () => {
    const { jobs, start } = queueJobs();
    start('uid-1/attempt-1', 'shop/orders-backlog');
    start('uid-2/attempt-1', 'shop/payments-backlog');
    await settle();
    jobs.abort('uid-1/attempt-1', 'resolved by alice');
    await settle();
    expect(jobs.view('uid-1/attempt-1')).toMatchObject({
      state: 'failed',
      message: 'queue orders: aborted: resolved by alice',
    });
    await jobs.abortAll('leader lease lost');
    expect(jobs.view('uid-2/attempt-1')).toMatchObject({
      state: 'failed',
      message: 'queue orders: aborted: leader lease lost',
    });
  });
});
