import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Message } from 'amqplib';
import { CoreV1Api } from '@kubernetes/client-node';
import { eventually } from '../../hack/localenv/wait.ts';
import { JobRegistry } from '../../src/actions/jobs.ts';
import { KubeSecretReader } from '../../src/runtime/secrets.ts';
import { QueueEngine, type QueueProgress, type QueueResult } from '../../src/actions/queue/engine.ts';
import { QueueFailure } from '../../src/actions/queue/failure.ts';
import { queueJob } from '../../src/actions/queue/job.ts';
import { ATTEMPT_HEADER, SOURCE_QUEUE_HEADER, stableMessageId } from '../../src/actions/queue/messages.ts';
import type { Action } from '../../src/api/remediation.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { Metrics } from '../../src/telemetry/metrics.ts';
import { createTestNamespace, kubeConfigFor } from '../support/kube.ts';
import {
  idOf,
  queueNames,
  RabbitTestClient,
  variedMessages,
  LOCAL_BROKER_EGRESS,
} from '../support/rabbit.ts';
import { started, testEnv } from '../support/tiers.ts';

// The drain engine against the real RabbitMQ of the e2e tier: what lands where, with which
// properties, when the connection is cut or the broker restarts in the middle of a move.
const rabbit = new RabbitTestClient(started(testEnv('e2e').rabbitmq, 'RabbitMQ'));
const inAMinute = () => new Date(Date.now() + 60_000);
const noSignal = () => new AbortController().signal;
const queues: string[] = [];
const names = <const K extends string>(...kinds: K[]) => {
  const n = queueNames('qd', ...kinds);
  queues.push(...Object.values<string>(n));
  return n;
};
afterAll(async () => {
  await rabbit.deleteQueues(...queues);
});

async function failureOf(run: Promise<unknown>): Promise<QueueFailure> {
  try {
    await run;
  } catch (error) {
    if (error instanceof QueueFailure) return error;
    throw error;
  }
  throw new Error('the run succeeded');
}

/** Every property but the ones a move sets on purpose (delivery mode; messageId when absent; our headers). */
function comparable(m: Message) {
  const {
    headers,
    deliveryMode: _mode,
    messageId: _id,
    ...rest
  } = m.properties as unknown as Record<string, unknown>;
  const {
    [SOURCE_QUEUE_HEADER]: _source,
    [ATTEMPT_HEADER]: _attempt,
    ...own
  } = (headers ?? {}) as Record<string, unknown>;
  return { content: m.content.toString(), ...rest, headers: own };
}

describe('move', () => {
  it('moves 10,000 varied messages to the parking queue: same bodies and properties, none left behind', async () => {
    const q = names('src', 'parked', 'reference');
    const messages = variedMessages(10_000);
    // The reference queue receives the same publishes: what the broker delivers from it is what the
    // source held, property for property.
    await rabbit.publish(q.src, messages);
    await rabbit.publish(q.reference, messages);
    const metrics = new Metrics({ processMetrics: false });
    const engine = new QueueEngine({ egress: LOCAL_BROKER_EGRESS, clock: systemClock, metrics });
    const progress: QueueProgress[] = [];
    const spec = {
      vhost: '/',
      queue: q.src,
      parkingQueue: q.parked,
      threshold: 100,
      attempt: 'inc-a/1',
      deadline: inAMinute(),
    };

    const result = await engine.move(rabbit.connection(), spec, noSignal(), (p) => progress.push(p));

    expect(result).toMatchObject({
      skipped: false,
      moved: 10_000,
      message: `moved 10000 messages from ${q.src} to ${q.parked}`,
    });
    expect(progress.at(-1)).toEqual({
      done: 10_000,
      total: 10_000,
      message: `10000 of 10000 messages moved to ${q.parked}`,
    });
    expect(progress.length).toBeGreaterThan(2);
    expect(await rabbit.depth(q.src)).toBe(0);
    const [parked, reference] = [await rabbit.drain(q.parked), await rabbit.drain(q.reference)];
    expect(parked).toHaveLength(10_000);
    expect(parked.map(idOf)).toEqual(reference.map(idOf)); // in order
    for (const [n, p] of parked.entries()) {
      const original = reference[n] as Message;
      expect(comparable(p)).toEqual(comparable(original));
      expect(p.properties.deliveryMode).toBe(2);
      expect(p.properties.headers).toMatchObject({
        [SOURCE_QUEUE_HEADER]: q.src,
        [ATTEMPT_HEADER]: 'inc-a/1',
      });
      expect(p.properties.messageId).toBe(original.properties.messageId ?? stableMessageId(original));
    }
    const counted = await metrics.registry.getSingleMetricAsString('selfheal_queue_messages_total');
    expect(counted).toContain('selfheal_queue_messages_total{operation="moved"} 10000');
  });

  it('declares the parking queue durable, and does nothing at or below the threshold', async () => {
    const q = names('src', 'parked');
    await rabbit.publish(q.src, variedMessages(50));
    const engine = new QueueEngine({ egress: LOCAL_BROKER_EGRESS, clock: systemClock });
    const spec = {
      vhost: '/',
      queue: q.src,
      parkingQueue: q.parked,
      threshold: 50,
      attempt: 'a',
      deadline: inAMinute(),
    };
    const skipped = await engine.move(rabbit.connection(), spec, noSignal(), () => undefined);
    expect(skipped).toMatchObject({
      skipped: true,
      moved: 0,
      message: '50 messages ready, at or below the threshold 50: nothing to do',
    });
    expect(await rabbit.depth(q.src)).toBe(50);
    const moved = await engine.move(
      rabbit.connection(),
      { ...spec, threshold: 49 },
      noSignal(),
      () => undefined,
    );
    expect(moved).toMatchObject({ skipped: false, moved: 50 });
    const { data } = await rabbit.management(`/api/queues/%2F/${q.parked}`);
    expect(data).toMatchObject({ durable: true });
  });

  it('is bounded by the depth measured at its start while producers keep publishing', async () => {
    const q = names('src', 'parked');
    await rabbit.publish(q.src, variedMessages(3000, { persistentOnly: true }));
    const engine = new QueueEngine({
      egress: LOCAL_BROKER_EGRESS,
      clock: systemClock,
      options: { prefetch: 50 },
    });
    const spec = {
      vhost: '/',
      queue: q.src,
      parkingQueue: q.parked,
      threshold: 0,
      attempt: 'a',
      deadline: inAMinute(),
    };
    let measured: QueueProgress | undefined;
    const run = engine.move(rabbit.connection(), spec, noSignal(), (p) => (measured ??= p));
    // The first report comes right after the depth is measured: publish more only from then on.
    await eventually('the move to measure the depth', () => measured, { timeoutMs: 30_000, intervalMs: 10 });
    expect(measured?.total).toBe(3000);
    const late = variedMessages(4000).slice(3000);
    await rabbit.publish(q.src, late);
    const result = await run;
    expect(result.moved).toBe(3000);
    expect((await rabbit.drain(q.parked)).map(idOf)).toEqual([...Array(3000).keys()]);
    expect((await rabbit.drain(q.src)).map(idOf)).toEqual([...Array(1000).keys()].map((i) => i + 3000));
  });
});

describe('a move that loses its broker', () => {
  /** Every original (by id) is in one of the two queues; returns how many exist twice. */
  async function everyMessageKept(q: { src: string; parked: string }, count: number): Promise<number> {
    const ids = [...(await rabbit.drain(q.src)), ...(await rabbit.drain(q.parked))].map(idOf);
    expect(new Set(ids)).toEqual(new Set(Array.from({ length: count }, (_, i) => i)));
    return ids.length - count;
  }

  it('resumes after the broker cuts its connections, and loses nothing', async () => {
    const q = names('src', 'parked');
    const count = 20_000;
    await rabbit.publish(q.src, variedMessages(count, { persistentOnly: true }));
    // A small prefetch keeps the move slow enough to be cut in its middle.
    const engine = new QueueEngine({
      egress: LOCAL_BROKER_EGRESS,
      clock: systemClock,
      // Two publishing channels: the at-least-once bookkeeping must hold when confirms come from both.
      options: {
        prefetch: 5,
        publishChannels: 2,
        reconnect: { attempts: 5, initialDelayMs: 200, maxDelayMs: 2000 },
      },
    });
    let latest: QueueProgress | undefined;
    const spec = {
      vhost: '/',
      queue: q.src,
      parkingQueue: q.parked,
      threshold: 0,
      attempt: 'cut-1',
      deadline: new Date(Date.now() + 150_000),
    };
    let ended = false;
    const run = engine.move(rabbit.connection(), spec, noSignal(), (p) => (latest = p));
    void run.then(
      () => (ended = true),
      () => (ended = true),
    );
    // The management API lists a connection a second or more after it opens; on an idle machine the
    // move can be that quick, so both are waited for together, and a move that ended first says so.
    await eventually(
      'the move under way and its connections listed by the management API',
      async () => (latest?.done ?? 0) >= 2000 && (await rabbit.connections('selfheal cut-1')).length > 0,
      {
        timeoutMs: 60_000,
        intervalMs: 100,
        check: () => {
          if (ended) throw new Error(`the move ended before it could be cut (${latest?.done ?? 0} done)`);
        },
      },
    );
    const cut = await eventually(
      'the management API to list the move’s connections',
      async () => (await rabbit.closeConnections('selfheal cut-1')) > 0,
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    expect(cut).toBe(true);
    const result = await run;
    expect(result.message).toMatch(/in [2-9] passes \(the connection was lost and re-established\)$/);
    expect(await rabbit.depth(q.src)).toBe(0);
    const duplicates = await everyMessageKept(q, count);
    // Only what was confirmed but not yet acknowledged when the connection died can exist twice.
    expect(duplicates).toBeLessThanOrEqual(20);
    // Acknowledgements lost with the connection make a message count twice; those never sent, once.
    expect(result.moved).toBeGreaterThanOrEqual(count);
    expect(result.moved).toBeLessThanOrEqual(count + duplicates);
  });

  it('survives a RabbitMQ restart in the middle of a move: every message in one of the two queues', async () => {
    const q = names('src', 'parked');
    const count = 20_000;
    await rabbit.publish(q.src, variedMessages(count, { persistentOnly: true }));
    const engine = new QueueEngine({
      egress: LOCAL_BROKER_EGRESS,
      clock: systemClock,
      options: { prefetch: 20, reconnect: { attempts: 10, initialDelayMs: 500, maxDelayMs: 5000 } },
    });
    let latest: QueueProgress | undefined;
    const spec = {
      vhost: '/',
      queue: q.src,
      parkingQueue: q.parked,
      threshold: 0,
      attempt: 'restart-1',
      deadline: new Date(Date.now() + 170_000),
    };
    const run = engine
      .move(rabbit.connection(), spec, noSignal(), (p) => (latest = p))
      .then(
        (r): QueueResult | QueueFailure => r,
        (e: unknown) => {
          if (e instanceof QueueFailure) return e;
          throw e;
        },
      );
    await eventually('the move to be under way', () => (latest?.done ?? 0) >= 1000, { timeoutMs: 60_000 });
    await rabbit.rabbitmqctl('stop_app');
    const movedAtStop = latest?.done ?? 0;
    await rabbit.rabbitmqctl('start_app');
    const outcome = await run;
    // Either the move completed on its own after the restart or it reports why it could not.
    if (outcome instanceof QueueFailure) expect(outcome.reason).toBe('BrokerUnavailable');
    else {
      expect(outcome.message).toMatch(/passes \(the connection was lost and re-established\)$/);
      expect(await rabbit.depth(q.src)).toBe(0);
    }
    expect(movedAtStop).toBeLessThan(count);
    const duplicates = await everyMessageKept(q, count);
    expect(duplicates).toBeLessThanOrEqual(20);
  });

  it('stops at once when aborted (a lost lease): nothing lost, the failure says so', async () => {
    const q = names('src', 'parked');
    await rabbit.publish(q.src, variedMessages(5000, { persistentOnly: true }));
    const engine = new QueueEngine({
      egress: LOCAL_BROKER_EGRESS,
      clock: systemClock,
      options: { prefetch: 20 },
    });
    const controller = new AbortController();
    let latest: QueueProgress | undefined;
    const spec = {
      vhost: '/',
      queue: q.src,
      parkingQueue: q.parked,
      threshold: 0,
      attempt: 'abort-1',
      deadline: inAMinute(),
    };
    const run = engine.move(rabbit.connection(), spec, controller.signal, (p) => (latest = p));
    await eventually('the move to be under way', () => (latest?.done ?? 0) >= 500, { timeoutMs: 60_000 });
    controller.abort('leader lease lost');
    const failure = await failureOf(run);
    expect(failure.reason).toBe('Aborted');
    expect(failure.message).toContain('aborted: leader lease lost');
    // The broker requeues what the closed connection held; wait until it has.
    await eventually(
      'the aborted connection to be gone',
      async () => (await rabbit.depth(q.src)) + (await rabbit.depth(q.parked)) >= 5000,
      { timeoutMs: 20_000 },
    );
    expect(await everyMessageKept(q, 5000)).toBeLessThanOrEqual(20);
  });

  it('fails with DestinationUnroutable when the parking queue vanishes, and sends the rest back', async () => {
    const q = names('src', 'parked');
    await rabbit.publish(q.src, variedMessages(5000, { persistentOnly: true }));
    const engine = new QueueEngine({
      egress: LOCAL_BROKER_EGRESS,
      clock: systemClock,
      options: { prefetch: 20 },
    });
    let latest: QueueProgress | undefined;
    const spec = {
      vhost: '/',
      queue: q.src,
      parkingQueue: q.parked,
      threshold: 0,
      attempt: 'gone-1',
      deadline: inAMinute(),
    };
    const run = engine.move(rabbit.connection(), spec, noSignal(), (p) => (latest = p));
    await eventually('the move to be under way', () => (latest?.done ?? 0) >= 500, { timeoutMs: 60_000 });
    await rabbit.deleteQueues(q.parked);
    const failure = await failureOf(run);
    expect(failure.reason).toBe('DestinationUnroutable');
    expect(failure.message).toContain(`queue ${q.parked} does not exist`);
    // What was acknowledged went with the deleted queue; everything else is back in the source.
    expect(await rabbit.depth(q.src)).toBe(5000 - (latest?.done ?? 0));
  });
});

describe('replay', () => {
  it('sends parked messages back to their source queue as they were, and leaves other queues’ parked', async () => {
    const q = names('orders', 'payments', 'parked', 'reference');
    const orders = variedMessages(2000);
    await rabbit.publish(q.orders, orders);
    await rabbit.publish(q.reference, orders);
    await rabbit.publish(q.payments, variedMessages(300, { persistentOnly: true }));
    const engine = new QueueEngine({ egress: LOCAL_BROKER_EGRESS, clock: systemClock });
    const move = (queue: string) =>
      engine.move(
        rabbit.connection(),
        {
          vhost: '/',
          queue,
          parkingQueue: q.parked,
          threshold: 0,
          attempt: 'inc-b/1',
          deadline: inAMinute(),
        },
        noSignal(),
        () => undefined,
      );
    await move(q.orders);
    await move(q.payments);
    expect(await rabbit.depth(q.parked)).toBe(2300);

    const spec = {
      vhost: '/',
      parkingQueue: q.parked,
      onlyFrom: q.orders,
      attempt: 'inc-b/2',
      deadline: inAMinute(),
    };
    const result = await engine.replay(rabbit.connection(), spec, noSignal(), () => undefined);

    expect(result).toMatchObject({ skipped: false, replayed: 2000, kept: 300 });
    expect(result.message).toBe(
      `replayed 2000 messages from ${q.parked}; 300 messages from other queues stayed parked`,
    );
    const [back, reference] = [await rabbit.drain(q.orders), await rabbit.drain(q.reference)];
    expect(back.map(idOf)).toEqual(reference.map(idOf));
    for (const [n, m] of back.entries()) {
      const original = reference[n] as Message;
      expect(comparable(m)).toEqual(comparable(original));
      expect(m.properties.headers).not.toHaveProperty(SOURCE_QUEUE_HEADER);
      expect(m.properties.headers).not.toHaveProperty(ATTEMPT_HEADER);
      expect(m.properties.messageId).toBe(original.properties.messageId ?? stableMessageId(original));
    }
    const stillParked = await rabbit.drain(q.parked);
    expect(stillParked).toHaveLength(300);
    expect(stillParked.every((m) => m.properties.headers?.[SOURCE_QUEUE_HEADER] === q.payments)).toBe(true);

    const rest = await engine.replay(
      rabbit.connection(),
      { ...spec, onlyFrom: undefined },
      noSignal(),
      () => undefined,
    );
    expect(rest).toMatchObject({ skipped: true, message: `nothing is parked in ${q.parked}` });
  });
});

describe('purge', () => {
  it('records the count the broker purged, equal to the depth before it', async () => {
    const q = names('src');
    await rabbit.publish(q.src, variedMessages(1234, { persistentOnly: true }));
    const metrics = new Metrics({ processMetrics: false });
    const engine = new QueueEngine({ egress: LOCAL_BROKER_EGRESS, clock: systemClock, metrics });
    const depth = await rabbit.depth(q.src);
    const skipped = await engine.purge(
      rabbit.connection(),
      { vhost: '/', queue: q.src, threshold: 1234 },
      noSignal(),
    );
    expect(skipped).toMatchObject({ skipped: true, purged: 0 });
    expect(await rabbit.depth(q.src)).toBe(1234);
    const result = await engine.purge(
      rabbit.connection(),
      { vhost: '/', queue: q.src, threshold: 0 },
      noSignal(),
    );
    expect(result).toMatchObject({
      skipped: false,
      purged: depth,
      message: `purged 1234 ready messages from ${q.src}`,
    });
    expect(await rabbit.depth(q.src)).toBe(0);
    expect(await metrics.registry.getSingleMetricAsString('selfheal_queue_messages_total')).toContain(
      'selfheal_queue_messages_total{operation="purged"} 1234',
    );
  });
});

describe('waitForConsumers', () => {
  it('succeeds once consumers bring the backlog under the threshold, and times out without them', async () => {
    const q = names('src');
    await rabbit.publish(q.src, variedMessages(600, { persistentOnly: true }));
    const engine = new QueueEngine({
      egress: LOCAL_BROKER_EGRESS,
      clock: systemClock,
      options: { pollIntervalMs: 500 },
    });
    const spec = { vhost: '/', queue: q.src, threshold: 100, deadline: new Date(Date.now() + 4000) };
    await eventually(
      'the management API to count the backlog',
      async () => (await engine.backlog(rabbit.connection(), '/', q.src)).ready === 600,
      { timeoutMs: 20_000 },
    );
    const timedOut = await failureOf(
      engine.waitForConsumers(rabbit.connection(), spec, noSignal(), () => undefined),
    );
    expect(timedOut.reason).toBe('Timeout');
    expect(timedOut.message).toMatch(
      /not under the threshold by .*: 600 ready \(threshold 100\), 0 consumers/,
    );

    const progress: QueueProgress[] = [];
    const waiting = engine.waitForConsumers(
      rabbit.connection(),
      { ...spec, deadline: inAMinute() },
      noSignal(),
      (p) => progress.push(p),
    );
    await eventually('a progress report', () => progress.length > 0, { timeoutMs: 10_000 });
    await rabbit.withConnection(async (c) => {
      // A consumer that works through the backlog slowly, as a real one would.
      const channel = await c.createChannel();
      await channel.prefetch(10);
      await channel.consume(q.src, (m) => m && setTimeout(() => channel.ack(m), 5));
      const result = await waiting;
      expect(result.skipped).toBe(false);
      expect(result.message).toMatch(
        /^consumers brought the backlog down: \d+ ready \(threshold 100\), 1 consumer, /,
      );
    });
    expect(progress[0]).toMatchObject({ done: 0, total: 500 });
  });
});

describe('clear failures', () => {
  const engine = new QueueEngine({ egress: LOCAL_BROKER_EGRESS, clock: systemClock });
  const move = (queue: string, overrides = {}, vhost = '/') =>
    engine.move(
      rabbit.connection(overrides),
      { vhost, queue, parkingQueue: `${queue}.parked`, threshold: 0, attempt: 'f', deadline: inAMinute() },
      noSignal(),
      () => undefined,
    );

  it('names a missing queue', async () => {
    const failure = await failureOf(move('no-such-queue'));
    expect(failure.reason).toBe('QueueNotFound');
    expect(failure.message).toBe('queue no-such-queue in vhost /: the queue does not exist');
  });

  it('names a missing vhost', async () => {
    const failure = await failureOf(move('orders', {}, 'no-such-vhost'));
    expect(failure.reason).toBe('VhostNotFound');
    expect(failure.message).toContain('vhost no-such-vhost does not exist');
  });

  it('tells wrong credentials apart, without showing them', async () => {
    const failure = await failureOf(move('orders', { password: 'wrong-password' }));
    expect(failure.reason).toBe('AuthenticationFailed');
    expect(failure.message).toMatch(
      /^queue orders in vhost \/ via the management API at http:\/\/127\.0\.0\.1:\d+: the broker refused the username and password$/,
    );
    expect(failure.message).not.toContain('wrong-password');
    const purge = await failureOf(
      engine.purge(
        rabbit.connection({ password: 'wrong-password' }),
        { vhost: '/', queue: 'orders', threshold: 0 },
        noSignal(),
      ),
    );
    expect(purge.reason).toBe('AuthenticationFailed');
  });

  it('reports an unreachable broker after its retries', async () => {
    const quick = new QueueEngine({
      egress: LOCAL_BROKER_EGRESS,
      clock: systemClock,
      options: { reconnect: { attempts: 2, initialDelayMs: 50, maxDelayMs: 50 } },
    });
    const spec = { vhost: '/', queue: 'orders', threshold: 0, deadline: inAMinute() };
    const failure = await failureOf(
      quick.waitForConsumers(
        rabbit.connection({ managementUrl: 'http://127.0.0.1:9' }),
        spec,
        noSignal(),
        () => undefined,
      ),
    );
    expect(failure.reason).toBe('BrokerUnavailable');
    expect(failure.message).toContain('unreachable');
    expect(failure.message).toContain('(gave up after 3 tries)');
  });
});

describe('as a background job of the leader', () => {
  const kc = kubeConfigFor('e2e');
  const core = kc.makeApiClient(CoreV1Api);
  let namespace: string;
  beforeAll(async () => {
    namespace = await createTestNamespace(kc, 'qd');
    await core.createNamespacedSecret({
      namespace,
      body: {
        metadata: { name: 'rabbitmq' },
        stringData: rabbit.connectionSecretData({ passwordSuffix: '\n' }),
      },
    });
  });
  afterAll(async () => {
    await core.deleteNamespace({ name: namespace });
  });

  it('runs one move per attempt id from the connection Secret, with progress and a result', async () => {
    const q = names('src', 'parked');
    await rabbit.publish(q.src, variedMessages(3000, { persistentOnly: true }));
    const engine = new QueueEngine({ egress: LOCAL_BROKER_EGRESS, clock: systemClock });
    const settled: string[] = [];
    const jobs = new JobRegistry<QueueProgress, QueueResult>({
      clock: systemClock,
      onSettled: (id) => settled.push(id),
    });
    const action: Action = {
      type: 'queueDrain',
      queueDrain: {
        connectionSecretRef: { name: 'rabbitmq' },
        vhost: '/',
        queue: q.src,
        mode: 'move',
        parkingQueue: q.parked,
        threshold: 0,
        allowPurge: false,
        timeout: '1m',
      },
    };
    const request = { namespace, attempt: 'inc-c/1', action, deadline: inAMinute() };
    const secrets = new KubeSecretReader(kc.makeApiClient(CoreV1Api));
    expect(jobs.start('inc-c/1', queueJob(engine, secrets, request)).state).toBe('running');
    expect(jobs.start('inc-c/1', queueJob(engine, secrets, request)).state).toBe('running');
    const final = await jobs.settled('inc-c/1');
    expect(final).toMatchObject({
      state: 'succeeded',
      result: { moved: 3000 },
      progress: { done: 3000, total: 3000 },
    });
    expect(settled).toEqual(['inc-c/1']);
    expect(await rabbit.depth(q.parked)).toBe(3000);
  });

  it('fails with a reason that names the Secret when it is missing or incomplete', async () => {
    const engine = new QueueEngine({ egress: LOCAL_BROKER_EGRESS, clock: systemClock });
    const jobs = new JobRegistry<QueueProgress, QueueResult>({ clock: systemClock });
    const action = (secret: string): Action => ({
      type: 'queueReplay',
      queueReplay: { connectionSecretRef: { name: secret }, vhost: '/', parkingQueue: 'p', timeout: '1m' },
    });
    await core.createNamespacedSecret({
      namespace,
      body: { metadata: { name: 'partial' }, stringData: { username: 'u' } },
    });
    const secrets = new KubeSecretReader(kc.makeApiClient(CoreV1Api));
    for (const [id, secret, message] of [
      ['m/1', 'missing', `connection Secret ${namespace}/missing does not exist`],
      ['p/1', 'partial', `connection Secret ${namespace}/partial has no key amqp-url`],
    ] as const) {
      jobs.start(
        id,
        queueJob(engine, secrets, { namespace, attempt: id, action: action(secret), deadline: inAMinute() }),
      );
      const final = await jobs.settled(id);
      expect(final?.state).toBe('failed');
      const error = final?.state === 'failed' ? final.error : undefined;
      expect(error).toBeInstanceOf(QueueFailure);
      expect((error as QueueFailure).reason).toBe('InvalidConnectionSecret');
      expect(error?.message).toContain(message);
    }
  });
});
