import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { eventually } from '../../hack/localenv/wait.ts';
import { GROUP, VERSION } from '../../src/api/group.ts';
import type { Incident } from '../../src/api/incident.ts';
import type { Action } from '../../src/api/remediation.ts';
import { PAUSE_CONFIGMAP } from '../../src/incidents/pause.ts';
import { condition, IncidentClient } from '../support/incidents.ts';
import { createTestNamespace, kubeConfigFor } from '../support/kube.ts';
import { OperatorProcess } from '../support/operator.ts';
import { idOf, queueNames, RabbitTestClient, type Outgoing } from '../support/rabbit.ts';
import { started, testEnv } from '../support/tiers.ts';

// Queue jobs end with their incident, with the operator as its own process and the tier's real
// RabbitMQ: the live pause, a person's resolution and the Incident's deletion each stop a
// 60,000-message move (the attempt ends Aborted, saying why), a new leader does not start the move
// again while paused, and every message is then in the source or the parking queue. A parking queue
// that would discard what it confirmed is refused before the first message moves.
const env = testEnv('e2e');
const kc = kubeConfigFor('e2e');
const core = kc.makeApiClient(CoreV1Api);
const objects = kc.makeApiClient(CustomObjectsApi);
const rabbit = new RabbitTestClient(started(env.rabbitmq, 'RabbitMQ'));
const namespaces: string[] = [];
const queues: string[] = [];
let operatorNamespace: string;
let operator: OperatorProcess;

/** Large enough that the move (about 10,000 messages/s here) is still running when it is stopped. */
const COUNT = 60_000;
/** What a broken connection or an abort may leave twice: the prefetch window, at most. */
const PREFETCH = 2000;

beforeAll(async () => {
  operatorNamespace = await createTestNamespace(kc, 'qa-operator');
  namespaces.push(operatorNamespace);
  operator = await OperatorProcess.start('e2e', {
    name: 'queue-abort',
    args: [`--namespace=${operatorNamespace}`, '--poll-interval=500ms', '--storm-max-incidents=1000'],
  });
});

afterAll(async () => {
  await resume();
  await operator.stop();
  await rabbit.deleteQueues(...queues);
  await Promise.all(namespaces.map((name) => core.deleteNamespace({ name })));
});

async function pause(reason: string): Promise<void> {
  await core.createNamespacedConfigMap({
    namespace: operatorNamespace,
    body: { metadata: { name: PAUSE_CONFIGMAP }, data: { reason } },
  });
}

async function resume(): Promise<void> {
  await core
    .deleteNamespacedConfigMap({ name: PAUSE_CONFIGMAP, namespace: operatorNamespace })
    .catch(() => undefined);
}

/** Small messages, each with its number in the body (idOf) and a messageId. */
function numbered(count: number): Outgoing[] {
  return Array.from({ length: count }, (_, i) => ({
    content: Buffer.from(JSON.stringify({ i })),
    options: { persistent: true, messageId: `m-${i}`, contentType: 'application/json' },
  }));
}

function moveAction(queue: string, parkingQueue: string): Action {
  return {
    type: 'queueDrain',
    queueDrain: {
      connectionSecretRef: { name: 'rabbitmq' },
      vhost: '/',
      queue,
      mode: 'move',
      parkingQueue,
      threshold: 0,
      allowPurge: false,
      timeout: '150s',
    },
  };
}

interface Backlog {
  incidents: IncidentClient;
  q: { src: string; parked: string };
  /** The prefix of the move's AMQP connection names: `selfheal <incident uid>/attempt-1`. */
  connection: string;
}

/**
 * A namespace with the connection Secret and a consumer Deployment, a backlog of `count` messages,
 * and an incident named `orders-backlog` whose move to the parking queue is under way when this
 * returns (the parking queue holds more than a prefetch window of them).
 */
async function moveUnderWay(prefix: string, count = COUNT): Promise<Backlog> {
  const namespace = await createTestNamespace(kc, prefix);
  namespaces.push(namespace);
  await core.createNamespacedSecret({
    namespace,
    body: { metadata: { name: 'rabbitmq' }, stringData: rabbit.connectionSecretData() },
  });
  const incidents = new IncidentClient(kc, namespace);
  await incidents.deployment('orders-worker', 1);
  const q = queueNames('qa', 'src', 'parked');
  queues.push(q.src, q.parked);
  await rabbit.publish(q.src, numbered(count));
  await rabbit.declare(q.parked);
  await incidents.create('orders-backlog', {
    target: { kind: 'Deployment', name: 'orders-worker' },
    actions: [moveAction(q.src, q.parked)],
  });
  const created = await incidents.get('orders-backlog');
  // More than one prefetch window parked: the stop then finds a full window in flight.
  await eventually('the move to be under way', async () => (await rabbit.depth(q.parked)) > PREFETCH, {
    timeoutMs: 60_000,
    intervalMs: 50,
  });
  return { incidents, q, connection: `selfheal ${created.metadata.uid ?? ''}/attempt-1` };
}

/** The incident's first attempt once it ended Aborted (any other end fails the test, with the status). */
async function aborted(b: Backlog): Promise<Incident> {
  return b.incidents.waitFor(
    'orders-backlog',
    'attempt-1 aborted',
    (i) => i.status?.attempts?.[0]?.result !== 'Running' && i.status?.attempts?.[0] !== undefined,
    30_000,
  );
}

/**
 * The move has stopped: its connections are gone, no consumer is left on the source, and the
 * counts in both queues stay as they are. Returns them.
 */
async function stopped(b: Backlog): Promise<{ src: number; parked: number }> {
  await eventually(
    'the move to have closed its connections',
    async () => (await rabbit.connections(b.connection)).length === 0,
    {
      timeoutMs: 20_000,
    },
  );
  await eventually(
    'no consumer on the source queue',
    async () => {
      const { data } = await rabbit.management(`/api/queues/%2F/${encodeURIComponent(b.q.src)}`);
      return (data as { consumers?: number }).consumers === 0;
    },
    { timeoutMs: 20_000 },
  );
  const counts = async () => ({ src: await rabbit.depth(b.q.src), parked: await rabbit.depth(b.q.parked) });
  const first = await counts();
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  expect(await counts()).toEqual(first);
  // Stopped in the middle: some moved, some not, none lost (duplicates within the prefetch window).
  expect(first.parked).toBeGreaterThan(0);
  expect(first.parked).toBeLessThan(COUNT);
  expect(first.src + first.parked).toBeGreaterThanOrEqual(COUNT);
  expect(first.src + first.parked).toBeLessThanOrEqual(COUNT + PREFETCH);
  return first;
}

/** Every one of the COUNT messages (by the number in its body) is in one of the two queues. */
async function everyMessageKept(b: Backlog): Promise<void> {
  const ids = [...(await rabbit.drain(b.q.src)), ...(await rabbit.drain(b.q.parked))].map(idOf);
  expect(new Set(ids).size).toBe(COUNT);
  expect(Math.min(...ids)).toBe(0);
  expect(Math.max(...ids)).toBe(COUNT - 1);
  expect(ids.length - COUNT).toBeLessThanOrEqual(PREFETCH);
}

describe('a queue move ends with its incident, and loses nothing', () => {
  it('the live pause aborts it; after the resume the next attempt moves the rest', async () => {
    const b = await moveUnderWay('qa-pause');
    const why = `automation paused (ConfigMap ${operatorNamespace}/${PAUSE_CONFIGMAP}: queue maintenance)`;
    try {
      await pause('queue maintenance');
      const incident = await aborted(b);
      expect(incident.status?.attempts?.[0]).toMatchObject({
        result: 'Failed',
        message: `Aborted: aborted: ${why}`,
      });
      expect(condition(incident, 'Remediated')).toMatchObject({ status: 'False', reason: 'Aborted' });
      const held = await b.incidents.waitFor(
        'orders-backlog',
        'held',
        (i) => condition(i, 'Held')?.status === 'True',
      );
      expect(held.status?.attempts).toHaveLength(1);
      const left = await stopped(b);

      await resume();
      const resolved = await b.incidents.waitForPhase('orders-backlog', 'Resolved', 90_000);
      expect(resolved.status?.attempts?.map((a) => `${a.id} ${a.result}`)).toEqual([
        'attempt-1 Failed',
        'attempt-2 Succeeded',
      ]);
      expect(resolved.status?.attempts?.[1]?.message).toBe(
        `moved ${left.src} messages from ${b.q.src} to ${b.q.parked}`,
      );
      expect(await rabbit.depth(b.q.src)).toBe(0);
      await everyMessageKept(b);
    } finally {
      await resume();
    }
  }, 240_000);

  it('a new leader does not start the move again while paused', async () => {
    const b = await moveUnderWay('qa-leader');
    try {
      // The leader stops in the middle of the move (its shutdown aborts the job; the attempt is still
      // Running on the status), the pause comes on, and a new leader takes over.
      await operator.stop();
      await pause('broker maintenance');
      await operator.restart();
      const incident = await aborted(b);
      expect(incident.status?.attempts?.[0]?.message).toBe(
        `Aborted: aborted: automation paused (ConfigMap ${operatorNamespace}/${PAUSE_CONFIGMAP}: broker maintenance)`,
      );
      const left = await stopped(b);
      // Never started again: no connection of the attempt, nothing moved since.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      expect(await rabbit.connections(b.connection)).toEqual([]);
      expect(await rabbit.depth(b.q.parked)).toBe(left.parked);
      await everyMessageKept(b);
    } finally {
      await resume();
    }
  }, 240_000);

  it("a person's resolution aborts it, saying who resolved", async () => {
    const b = await moveUnderWay('qa-resolve');
    await objects.patchNamespacedCustomObject(
      {
        group: GROUP,
        version: VERSION,
        namespace: b.incidents.namespace,
        plural: 'incidents',
        name: 'orders-backlog',
        body: { spec: { resolution: { resolvedBy: 'alice', note: 'consumers fixed by hand' } } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const incident = await aborted(b);
    expect(incident.status?.attempts?.[0]).toMatchObject({
      result: 'Failed',
      message: 'Aborted: aborted: resolved by alice',
    });
    expect(condition(incident, 'Resolved')).toMatchObject({ status: 'True', reason: 'ResolvedByPerson' });
    await stopped(b);
    await everyMessageKept(b);
  }, 240_000);

  it('deleting the Incident stops it', async () => {
    const b = await moveUnderWay('qa-delete');
    await objects.deleteNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: b.incidents.namespace,
      plural: 'incidents',
      name: 'orders-backlog',
    });
    await stopped(b);
    await everyMessageKept(b);
  }, 240_000);
});

describe('a parking queue that would discard what it confirmed', () => {
  it('x-max-length with the default overflow (drop-head) is refused before any message moves', async () => {
    const namespace = await createTestNamespace(kc, 'qa-drophead');
    namespaces.push(namespace);
    await core.createNamespacedSecret({
      namespace,
      body: { metadata: { name: 'rabbitmq' }, stringData: rabbit.connectionSecretData() },
    });
    const incidents = new IncidentClient(kc, namespace);
    await incidents.deployment('orders-worker', 1);
    const q = queueNames('qa', 'src', 'parked');
    queues.push(q.src, q.parked);
    const count = 1000;
    await rabbit.publish(q.src, numbered(count));
    await rabbit.withConnection(async (c) => {
      const channel = await c.createChannel();
      await channel.assertQueue(q.parked, { durable: true, arguments: { 'x-max-length': 100 } });
    });
    await incidents.create('orders-backlog', {
      target: { kind: 'Deployment', name: 'orders-worker' },
      actions: [moveAction(q.src, q.parked)],
    });

    const escalated = await incidents.waitForPhase('orders-backlog', 'Escalated', 60_000);
    const why = `the parking queue "${q.parked}" in vhost / has x-max-length with overflow drop-head, which discards confirmed messages: nothing was moved; park in a queue without them`;
    // Tried as often as the guards allow, refused each time before the first message moved.
    expect(escalated.status?.attempts?.length).toBeGreaterThan(0);
    for (const attempt of escalated.status?.attempts ?? [])
      expect(attempt).toMatchObject({ result: 'Failed', message: `ParkingQueueDiscards: ${why}` });
    expect(condition(escalated, 'Escalated')?.reason).toBe('MaxAttemptsExhausted');
    expect(await rabbit.depth(q.src)).toBe(count);
    expect(await rabbit.depth(q.parked)).toBe(0);
  }, 120_000);
});
