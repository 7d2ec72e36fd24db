import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api } from '@kubernetes/client-node';
import axios from 'axios';
import { stringify } from 'yaml';
import { alertmanagerConfig } from '../../hack/localenv/services.ts';
import { eventually } from '../../hack/localenv/wait.ts';
import { ATTEMPT_ANNOTATION } from '../../src/actions/action.ts';
import { CLAIM_ANNOTATION } from '../../src/actions/claim.ts';
import type { Incident } from '../../src/api/incident.ts';
import type { Action } from '../../src/api/remediation.ts';
import { createPolicy, firstIncident } from '../support/alerting.ts';
import { StandInServer, type HttpAnswer } from '../support/http.ts';
import { condition, IncidentClient } from '../support/incidents.ts';
import { createTestNamespace, kubeConfigFor } from '../support/kube.ts';
import { OperatorProcess } from '../support/operator.ts';
import { idOf, queueNames, RabbitTestClient, variedMessages } from '../support/rabbit.ts';
import { started, testEnv } from '../support/tiers.ts';

// Queue actions and HTTP health checks as users meet them, with the operator as its own process:
// a real backlog scraped by the real Prometheus from RabbitMQ, routed by the real Alertmanager, moved
// by the operator to a parking queue; incidents verified by a health endpoint; and a move that loses
// its broker (connections cut, RabbitMQ restarted) while the incident runs it.
const env = testEnv('e2e');
const kc = kubeConfigFor('e2e');
const core = kc.makeApiClient(CoreV1Api);
const rabbit = new RabbitTestClient(started(env.rabbitmq, 'RabbitMQ'));
const prometheus = started(env.prometheus, 'Prometheus');
const alertmanager = started(env.alertmanager, 'Alertmanager');
const RULES_FILE = join(prometheus.rulesDir, 'queue-incidents.yml');
const namespaces: string[] = [];
const queues: string[] = [];
const servers: StandInServer[] = [];
let operator: OperatorProcess;

beforeAll(async () => {
  const leaseNamespace = await createTestNamespace(kc, 'qi-operator');
  namespaces.push(leaseNamespace);
  operator = await OperatorProcess.start('e2e', {
    name: 'queue-incidents',
    args: [
      `--namespace=${leaseNamespace}`,
      `--prometheus-url=${prometheus.url}`,
      '--poll-interval=500ms',
      '--storm-max-incidents=1000',
    ],
  });
  writeFileSync(alertmanager.configFile, alertmanagerConfig(operator.webhookUrl));
  await axios.post(`${alertmanager.url}/-/reload`);
});

afterAll(async () => {
  rmSync(RULES_FILE, { force: true });
  await axios.post(`${prometheus.url}/-/reload`).catch(() => undefined);
  await operator.stop();
  await Promise.all(servers.map((s) => s.down()));
  await rabbit.deleteQueues(...queues);
  await Promise.all(namespaces.map((name) => core.deleteNamespace({ name })));
});

function names<const K extends string>(...kinds: K[]): Record<K, string> {
  const n = queueNames('qi', ...kinds);
  queues.push(...Object.values<string>(n));
  return n;
}

/** A namespace with the connection Secret (as docs/queue-drain.md says) and a consumer Deployment. */
async function namespaceWithBroker(prefix: string): Promise<IncidentClient> {
  const namespace = await createTestNamespace(kc, prefix);
  namespaces.push(namespace);
  await core.createNamespacedSecret({
    namespace,
    body: { metadata: { name: 'rabbitmq' }, stringData: rabbit.connectionSecretData() },
  });
  const incidents = new IncidentClient(kc, namespace);
  await incidents.deployment('orders-worker', 1);
  return incidents;
}

function moveAction(queue: string, parkingQueue: string, threshold: number, timeout = '3m'): Action {
  return {
    type: 'queueDrain',
    queueDrain: {
      connectionSecretRef: { name: 'rabbitmq' },
      vhost: '/',
      queue,
      mode: 'move',
      parkingQueue,
      threshold,
      allowPurge: false,
      timeout,
    },
  };
}

/** Every one of `count` original messages (by id) is in one of the two queues; returns the duplicates. */
async function everyMessageKept(q: { src: string; parked: string }, count: number): Promise<number> {
  const ids = [...(await rabbit.drain(q.src)), ...(await rabbit.drain(q.parked))].map(idOf);
  expect(new Set(ids)).toEqual(new Set(Array.from({ length: count }, (_, i) => i)));
  return ids.length - count;
}

const ended = (i: Incident) => i.status?.phase === 'Resolved' || i.status?.phase === 'Escalated';

describe('a queue backlog alert from Prometheus through Alertmanager', () => {
  it('ends in a drained queue, the backlog parked, and a Resolved incident', async () => {
    const incidents = await namespaceWithBroker('qi-alert');
    const q = names('src', 'parked');
    const alertName = `QueueBacklog${q.src.split('-')[1] ?? ''}`;
    const threshold = 100;
    await createPolicy(kc, incidents.namespace, 'drain-orders', {
      match: { alertName },
      target: {
        kind: 'Deployment',
        nameFromLabel: 'deployment',
        selector: { matchLabels: { app: 'orders-worker' } },
      },
      actions: [moveAction(q.src, q.parked, threshold)],
      verification: {
        alertResolved: true,
        promQL: `rabbitmq_queue_messages_ready{queue="${q.src}"} <= ${threshold}`,
        holdFor: '2s',
        timeout: '90s',
      },
    });
    // RabbitMQ's own metrics, scraped by the tier's Prometheus (rabbitmq_prometheus, per queue).
    writeFileSync(
      RULES_FILE,
      stringify({
        groups: [
          {
            name: 'queue-incidents',
            interval: '1s',
            rules: [
              {
                alert: alertName,
                expr: `rabbitmq_queue_messages_ready{queue="${q.src}"} > ${threshold}`,
                labels: { severity: 'error', namespace: incidents.namespace, deployment: 'orders-worker' },
                annotations: { summary: 'orders are piling up' },
              },
            ],
          },
        ],
      }),
    );
    await axios.post(`${prometheus.url}/-/reload`);
    const count = 3000;
    await rabbit.publish(q.src, variedMessages(count));

    // RabbitMQ's per-queue series, a scrape, a rule evaluation and Alertmanager's group wait: seconds
    // on an idle machine, but after the broker restarts of the tests before it, up to a minute more.
    const raised = await firstIncident(kc, incidents.namespace, 150_000).catch(async (error: unknown) => {
      const query = async (expr: string) =>
        JSON.stringify((await axios.get(`${prometheus.url}/api/v1/query`, { params: { query: expr } })).data);
      throw new Error(
        `${String(error)}; Prometheus sees ${await query(`rabbitmq_queue_messages_ready{queue="${q.src}"}`)} and ${await query(`ALERTS{alertname="${alertName}"}`)}`,
      );
    });
    expect(raised.spec).toMatchObject({
      severity: 'P2',
      target: { kind: 'Deployment', name: 'orders-worker' },
      policyRef: { name: 'drain-orders' },
      source: { type: 'alertmanager', alertName, labels: expect.objectContaining({ queue: q.src }) },
    });
    const name = raised.metadata.name ?? '';
    const resolved = await incidents.waitForPhase(name, 'Resolved', 120_000);

    expect(resolved.status?.attempts).toEqual([
      expect.objectContaining({
        action: 'queueDrain',
        result: 'Succeeded',
        message: `moved ${count} messages from ${q.src} to ${q.parked}`,
      }),
    ]);
    expect(condition(resolved, 'Remediated')).toMatchObject({ status: 'True', reason: 'ActionSucceeded' });
    expect(condition(resolved, 'Verified')).toMatchObject({
      status: 'True',
      reason: 'VerificationPassed',
      message: 'the alert resolved and PromQL held for 2s',
    });
    expect(resolved.status?.signal?.state).toBe('Cleared');
    // The backlog is parked, in order, with its bodies; the source is at or below the threshold.
    expect(await rabbit.depth(q.src)).toBeLessThanOrEqual(threshold);
    const parked = await rabbit.drain(q.parked);
    expect(parked.map(idOf)).toEqual([...Array(count).keys()]);
    expect(parked.every((m) => m.properties.headers?.['x-selfheal-source-queue'] === q.src)).toBe(true);
    // The consumer workload carries the attempt's marker and claim, nothing else changed.
    const worker = await incidents.readDeployment('orders-worker');
    const marker = `${resolved.metadata.uid ?? ''}/attempt-1`;
    expect(worker.metadata?.annotations?.[ATTEMPT_ANNOTATION]).toBe(marker);
    expect(JSON.parse(worker.metadata?.annotations?.[CLAIM_ANNOTATION] ?? '{}')).toMatchObject({
      incident: name,
      attempt: 'attempt-1',
    });
    expect(await incidents.templateRevisions('orders-worker')).toBe(1);
    expect(await operator.metric('selfheal_queue_messages_total{operation="moved"}')).toBeGreaterThanOrEqual(
      count,
    );
  }, 330_000);
});

describe('verification by an HTTP health check', () => {
  /** A health endpoint whose answer the test switches. */
  async function healthEndpoint(
    initial: HttpAnswer,
  ): Promise<{ url: string; set(a: HttpAnswer): void; server: StandInServer }> {
    let answer = initial;
    const server = new StandInServer(() => answer);
    servers.push(server);
    const base = await server.listen();
    return { url: `${base}/api/v1/health`, set: (a) => (answer = a), server };
  }
  const json = (status: number, body: unknown): HttpAnswer => ({
    status,
    body: JSON.stringify(body),
    contentType: 'application/json',
  });

  it('a check that fails, then passes: held in Verifying with the answer as the reason, then Resolved', async () => {
    const incidents = await namespaceWithBroker('qi-http');
    const q = names('src', 'parked');
    await rabbit.publish(q.src, variedMessages(200));
    const health = await healthEndpoint(json(503, { status: 'starting' }));
    await incidents.create('orders-stuck', {
      target: { kind: 'Deployment', name: 'orders-worker' },
      actions: [moveAction(q.src, q.parked, 0)],
      verification: {
        http: {
          url: health.url,
          expectedStatus: 200,
          jsonPath: 'status',
          expectedValue: 'ok',
          interval: '1s',
          timeout: '2s',
          holdFor: '3s',
        },
        timeout: '2m',
        // The API server's defaults: no PromQL and no alert to wait for.
        holdFor: '15m',
        alertResolved: false,
      },
    });

    // The answer's status, size and time, and what to do to see it; never what it said (no echo).
    const escaped = health.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const answered = `GET ${escaped} answered 503; expected status 200 \\(to see the answer, curl ${escaped} from a pod in the namespace\\)`;
    const failing = new RegExp(`^health check failing: ${answered}$`);
    const verifying = await incidents.waitFor(
      'orders-stuck',
      'verifying with the failing answer as the reason',
      (i) => i.status?.phase === 'Verifying' && failing.test(condition(i, 'Verified')?.message ?? ''),
      60_000,
    );
    expect(verifying.status?.attempts).toEqual([
      expect.objectContaining({
        result: 'Succeeded',
        message: `moved 200 messages from ${q.src} to ${q.parked}`,
      }),
    ]);
    expect(condition(verifying, 'Verified')?.reason).toBe('VerificationPending');
    // The playbook's "check the health of dependent services", recorded once when it opened.
    expect(verifying.status?.context).toEqual(
      expect.arrayContaining([expect.stringMatching(new RegExp(`^health check at open: ${answered}$`))]),
    );
    for (const text of [
      ...(verifying.status?.context ?? []),
      condition(verifying, 'Verified')?.message ?? '',
    ])
      expect(text).not.toContain('"status":"starting"');
    // Held: the operator keeps checking at its interval and the incident stays where it is.
    const seen = health.server.requests.length;
    await eventually('three more checks', () => health.server.requests.length >= seen + 3, {
      timeoutMs: 30_000,
    });
    const held = await incidents.get('orders-stuck');
    expect(held.status?.phase).toBe('Verifying');
    expect(held.status?.verification?.httpPassingSince).toBeUndefined();
    expect(health.server.requests.every((r) => r.method === 'GET' && r.url === '/api/v1/health')).toBe(true);

    health.set(json(200, { status: 'ok' }));
    const passedFrom = Date.now();
    const resolved = await incidents.waitForPhase('orders-stuck', 'Resolved', 60_000);
    expect(condition(resolved, 'Verified')).toMatchObject({
      status: 'True',
      reason: 'VerificationPassed',
      message: 'the health check passed for 3s',
    });
    const since = Date.parse(resolved.status?.verification?.httpPassingSince ?? '');
    // The streak began with a passing answer, and lasted at least holdFor before it resolved.
    expect(since).toBeGreaterThanOrEqual(passedFrom - 1000);
    expect(Date.parse(resolved.status?.resolvedAt ?? '') - since).toBeGreaterThanOrEqual(3000);
  });

  it('a check that never passes escalates at the timeout with the last response as the reason', async () => {
    const incidents = await namespaceWithBroker('qi-http-down');
    const health = await healthEndpoint(json(500, { status: 'degraded', db: 'down' }));
    await incidents.create('api-unhealthy', {
      target: { kind: 'Deployment', name: 'orders-worker' },
      actions: [{ type: 'rolloutRestart' }],
      verification: {
        http: { url: health.url, expectedStatus: 200, interval: '1s', timeout: '2s', holdFor: '1s' },
        timeout: '8s',
        holdFor: '15m',
        alertResolved: false,
      },
    });

    const escalated = await incidents.waitForPhase('api-unhealthy', 'Escalated', 90_000);
    const url = health.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const reason = `verification timed out after 8s: health check failing: GET ${url} answered 500; expected status 200 \\(to see the answer, curl ${url} from a pod in the namespace\\)`;
    expect(condition(escalated, 'Verified')).toMatchObject({
      status: 'False',
      reason: 'VerificationFailed',
      message: expect.stringMatching(new RegExp(`^${reason}$`)),
    });
    expect(condition(escalated, 'Escalated')).toMatchObject({
      status: 'True',
      reason: 'VerificationFailed',
      message: expect.stringMatching(new RegExp(`^${reason}; no untried action left$`)),
    });
    expect(escalated.status?.attempts).toEqual([
      expect.objectContaining({ action: 'rolloutRestart', result: 'Succeeded' }),
    ]);
    expect(health.server.requests.length).toBeGreaterThanOrEqual(2);
  });
});

describe("an incident's move that loses its broker", () => {
  /**
   * An incident that moves `count` persistent messages; `interrupt` runs once the move is under way
   * (the parking queue holds some of them). Returns the incident once it ended, and the duplicates.
   */
  async function interruptedMove(
    prefix: string,
    interrupt: (connectionPrefix: string, underWay: () => Promise<boolean>) => Promise<void>,
  ): Promise<{ incident: Incident; duplicates: number; count: number }> {
    const incidents = await namespaceWithBroker(prefix);
    const q = names('src', 'parked');
    // Large enough that the move (about 10,000 messages/s here) outlasts the second or more the
    // management API takes to list its connections.
    const count = 60_000;
    await rabbit.publish(q.src, variedMessages(count, { persistentOnly: true }));
    await rabbit.declare(q.parked);
    await incidents.create('orders-backlog', {
      target: { kind: 'Deployment', name: 'orders-worker' },
      actions: [moveAction(q.src, q.parked, 0, '150s')],
    });
    const created = await incidents.get('orders-backlog');
    await interrupt(
      `selfheal ${created.metadata.uid ?? ''}/attempt-1`,
      async () => (await rabbit.depth(q.parked)) > 0,
    );
    const incident = await incidents.waitFor('orders-backlog', 'Resolved or Escalated', ended, 170_000);
    return { incident, duplicates: await everyMessageKept(q, count), count };
  }

  /** The incident completed the move after the interruption, or failed it with the broker as the reason. */
  function completedOrReported(incident: Incident): void {
    const attempt = incident.status?.attempts?.[0];
    if (incident.status?.phase === 'Resolved') {
      expect(attempt?.result).toBe('Succeeded');
      expect(attempt?.message).toMatch(/ in \d+ passes \(the connection was lost and re-established\)$/);
    } else {
      expect(attempt?.result).toBe('Failed');
      expect(attempt?.message).toMatch(/^BrokerUnavailable: /);
      expect(condition(incident, 'Remediated')?.reason).toBe('BrokerUnavailable');
    }
  }

  it('the broker cuts its connections: every message is in one of the two queues', async () => {
    let cut = 0;
    const { incident, duplicates } = await interruptedMove('qi-cut', async (prefix, underWay) => {
      // The management API lists a connection once its statistics are in (about a second): both are
      // watched from the start, and the cut comes once the move is under way and its connections listed.
      await eventually(
        'the move under way and its connections listed by the management API',
        async () => (await underWay()) && (await rabbit.connections(prefix)).length > 0,
        { timeoutMs: 60_000, intervalMs: 50 },
      );
      cut = await rabbit.closeConnections(prefix);
    });
    expect(cut).toBeGreaterThan(0);
    completedOrReported(incident);
    // At most the prefetch window (2,000) can be confirmed and not yet acknowledged when cut.
    expect(duplicates).toBeLessThanOrEqual(2000);
  });

  it('RabbitMQ restarts: every message is in one of the two queues', async () => {
    const { incident, duplicates } = await interruptedMove('qi-restart', async (_prefix, underWay) => {
      await eventually('the move to be under way', underWay, { timeoutMs: 60_000, intervalMs: 50 });
      await rabbit.rabbitmqctl('stop_app');
      await rabbit.rabbitmqctl('start_app');
    });
    completedOrReported(incident);
    expect(duplicates).toBeLessThanOrEqual(2000);
  });
});
