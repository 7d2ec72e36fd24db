import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { AppsV1Api, CoordinationV1Api, CoreV1Api } from '@kubernetes/client-node';
import { stopApiServer } from '../../hack/localenv/controlplane.ts';
import { eventually } from '../../hack/localenv/wait.ts';
import { condition, IncidentClient } from '../support/incidents.ts';
import { createTestNamespace, kubeConfigFor } from '../support/kube.ts';
import { OperatorProcess } from '../support/operator.ts';
import { testEnv, tierStateDir } from '../support/tiers.ts';

// The rules that make the operator safe to run for real: an action is never repeated or forgotten
// across a crash (intent on the status first, the attempt's marker on the workload), one leader acts
// and another takes over, an API-server outage is survived, and SLA timers live on the status.
const kc = kubeConfigFor('integration');
const lease = { duration: '4s', renew: '3s', retry: '500ms' };
const leaseArgs = [
  `--lease-duration=${lease.duration}`,
  `--renew-deadline=${lease.renew}`,
  `--retry-period=${lease.retry}`,
];
const restart = [{ type: 'rolloutRestart' as const }];
let namespace: string;
let incidents: IncidentClient;
let operators: OperatorProcess[] = [];

const startOperator = async (name: string, extra: string[] = [], env: Record<string, string> = {}) => {
  const operator = await OperatorProcess.start('integration', {
    name,
    args: [
      `--namespace=${namespace}`,
      `--identity=${name}`,
      '--storm-max-incidents=1000',
      '--poll-interval=500ms',
      ...leaseArgs,
      ...extra,
    ],
    env,
  });
  operators.push(operator);
  return operator;
};

beforeEach(async () => {
  namespace = await createTestNamespace(kc, 'resilience');
  incidents = new IncidentClient(kc, namespace);
});
afterEach(async () => {
  await Promise.all(operators.map((o) => o.stop()));
  operators = [];
});
afterAll(async () => {
  await kc.makeApiClient(CoreV1Api).deleteNamespace({ name: namespace });
});

const processGone = (o: OperatorProcess) =>
  eventually('the operator process to end', () => !o.running, { timeoutMs: 30_000 });

describe('crash safety', () => {
  it.each([
    ['right after recording the intent', 'exit-after-intent'],
    ['right after the restart patch, before the status write', 'exit-after-effect'],
  ])('restarts exactly once when SIGKILLed %s', async (_when, fault) => {
    await incidents.deployment('api');
    const crashing = await startOperator('crashing', [], { SELFHEAL_FAULT: fault });
    await incidents.create('api-slow', { target: { kind: 'Deployment', name: 'api' }, actions: restart });
    await processGone(crashing);

    const interrupted = await incidents.get('api-slow');
    expect(interrupted.status?.attempts).toEqual([
      expect.objectContaining({ id: 'attempt-1', result: 'Running' }),
    ]);
    expect(await incidents.templateRevisions('api')).toBe(fault === 'exit-after-intent' ? 1 : 2);

    await startOperator('successor');
    const resolved = await incidents.waitForPhase('api-slow', 'Resolved');
    expect(resolved.status?.attempts).toEqual([
      expect.objectContaining({ id: 'attempt-1', result: 'Succeeded' }),
    ]);
    expect(await incidents.templateRevisions('api')).toBe(2);
    expect(
      (await incidents.readDeployment('api')).metadata?.annotations?.['deployment.kubernetes.io/revision'],
    ).toBe('2');
  });
});

describe('leader election', () => {
  it('lets only the leader act, and the other replica take over within the lease duration', async () => {
    await incidents.deployment('api');
    // Both replicas would die right after recording a restart's intent; only a leader ever records one.
    const a = await startOperator('replica-a', [], { SELFHEAL_FAULT: 'exit-after-intent' });
    const b = await startOperator('replica-b', [], { SELFHEAL_FAULT: 'exit-after-intent' });
    const leases = kc.makeApiClient(CoordinationV1Api);
    const holder = await eventually(
      'a lease holder',
      async () =>
        (await leases.readNamespacedLease({ name: 'selfheal-leader', namespace })).spec?.holderIdentity,
    );
    const [leader, follower] = holder.startsWith('replica-a') ? [a, b] : [b, a];
    expect(await leader.metric('selfheal_leader')).toBe(1);
    expect(await follower.metric('selfheal_leader')).toBe(0);

    await incidents.create('api-slow', { target: { kind: 'Deployment', name: 'api' }, actions: restart });
    await processGone(leader);
    const leaderDiedAt = Date.now();
    expect(await incidents.templateRevisions('api')).toBe(1);

    await eventually('the follower to lead', async () => (await follower.metric('selfheal_leader')) === 1, {
      timeoutMs: 10_000,
      intervalMs: 100,
    });
    const takeoverMs = Date.now() - leaderDiedAt;
    expect(takeoverMs).toBeLessThanOrEqual(4_000 + 1_000);
    const resolved = await incidents.waitForPhase('api-slow', 'Resolved');
    expect(resolved.status?.attempts).toEqual([
      expect.objectContaining({ id: 'attempt-1', result: 'Succeeded' }),
    ]);
    expect(await incidents.templateRevisions('api')).toBe(2);
    expect(follower.running).toBe(true);
    expect(
      (await leases.readNamespacedLease({ name: 'selfheal-leader', namespace })).spec?.holderIdentity,
    ).toMatch(/^replica-/);
  });
});

describe('API server outage', () => {
  it('reports not-ready while the caches are stale, reconnects and completes the incident', async () => {
    const env = testEnv('integration');
    if (!env.controlPlane)
      throw new Error(
        'this test stops the local API server: it needs the local control plane, not KUBECONFIG',
      );
    // minReadySeconds keeps the restarted rollout going long enough to be cut off in the middle.
    await incidents.deployment('api');
    await kc.makeApiClient(AppsV1Api).patchNamespacedDeployment({
      name: 'api',
      namespace,
      body: [{ op: 'add', path: '/spec/minReadySeconds', value: 8 }],
    });
    const operator = await startOperator('outage', [
      '--lease-duration=60s',
      '--renew-deadline=50s',
      '--retry-period=2s',
    ]);
    await incidents.create('api-slow', { target: { kind: 'Deployment', name: 'api' }, actions: restart });
    await incidents.waitFor('api-slow', 'the restart applied', (i) => i.status?.phase === 'Remediating');
    await eventually('the restart patch', async () => (await incidents.templateRevisions('api')) === 2);

    const restartApiServer = await stopApiServer(tierStateDir('integration'), env.controlPlane);
    const stoppedAt = Date.now();
    try {
      const notReady = await eventually(
        '/readyz to report stale caches',
        async () => {
          const res = await operator.get('/readyz');
          return res.status === 503 && res;
        },
        { timeoutMs: 20_000, intervalMs: 200 },
      );
      expect(notReady.body).toContain('incidents cache');
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, 20_000 - (Date.now() - stoppedAt))));
      expect(operator.running).toBe(true);
    } finally {
      await restartApiServer();
    }
    await eventually('/readyz ok again', async () => (await operator.get('/readyz')).status === 200, {
      timeoutMs: 60_000,
    });
    // The cluster's own controller-manager recovers from the restart at its own pace (under load its
    // caches lag and its Deployment updates conflict for a minute or more): that time is not the
    // operator's. What is: once the rollout is complete, the incident resolves promptly.
    await eventually(
      'the restarted rollout complete (kube-controller-manager recovered)',
      async () => {
        const { metadata, spec, status } = await kc
          .makeApiClient(AppsV1Api)
          .readNamespacedDeployment({ name: 'api', namespace });
        const replicas = spec?.replicas ?? 1;
        return (
          (status?.observedGeneration ?? 0) >= (metadata?.generation ?? 0) &&
          status?.updatedReplicas === replicas &&
          status.availableReplicas === replicas &&
          (status.replicas ?? 0) === replicas
        );
      },
      { timeoutMs: 180_000, intervalMs: 500 },
    );
    const resolved = await incidents.waitForPhase('api-slow', 'Resolved', 30_000);
    expect(condition(resolved, 'Verified')?.status).toBe('True');
    expect(resolved.status?.attempts).toHaveLength(1);
    expect(await incidents.templateRevisions('api')).toBe(2);
  }, 330_000);
});

describe('SLA timers', () => {
  it('raises ResponseSLABreached on time from the deadline on the status, across an operator restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'playbook-'));
    const playbook = join(dir, 'playbook.yaml');
    writeFileSync(playbook, 'P2:\n  response: 8s\n  resolution: 1h\n');
    const first = await startOperator('sla-first', [`--playbook-file=${playbook}`]);
    await incidents.create('nobody-home', { severity: 'P2' });
    const escalated = await incidents.waitForPhase('nobody-home', 'Escalated');
    const dueAt = new Date(escalated.status?.sla?.responseDueAt ?? '');
    expect(dueAt.getTime() - new Date(escalated.status?.openedAt ?? '').getTime()).toBe(8_000);
    expect(condition(escalated, 'ResponseSLABreached')).toBeUndefined();

    first.kill();
    await processGone(first);
    await startOperator('sla-second', [`--playbook-file=${playbook}`]);
    const breached = await incidents.waitFor(
      'nobody-home',
      'ResponseSLABreached',
      (i) => condition(i, 'ResponseSLABreached')?.status === 'True',
      30_000,
    );
    const raisedAt = new Date(condition(breached, 'ResponseSLABreached')?.lastTransitionTime ?? '').getTime();
    expect(raisedAt).toBeGreaterThanOrEqual(dueAt.getTime());
    expect(raisedAt - dueAt.getTime()).toBeLessThan(2_000);
    expect(condition(breached, 'ResponseSLABreached')?.reason).toBe('NotAcknowledgedInTime');
    await incidents.waitForEvent('nobody-home', 'ResponseSLABreached');
  });
});
