import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import {
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { freezeApiServer } from '../../hack/localenv/controlplane.ts';
import { eventually } from '../../hack/localenv/wait.ts';
import { IncidentClient } from '../support/incidents.ts';
import { createTestNamespace, kubeConfigFor } from '../support/kube.ts';
import { OperatorProcess } from '../support/operator.ts';
import { testEnv, tierStateDir } from '../support/tiers.ts';

// A deposed leader stops at once, proven from outside the process: the API server is frozen
// (SIGSTOP) under a leader in the middle of a remediation for longer than the renew deadline. The
// API server's own audit log must show no write of that leader accepted after the moment its claim
// lapsed, the leader must exit non-zero, and the other replica must finish the incident once.
const kc = kubeConfigFor('integration');
const lease = { duration: 6_000, renew: 4_000 };
let namespace: string;
let incidents: IncidentClient;
let operators: OperatorProcess[] = [];

interface AuditEvent {
  verb: string;
  userAgent?: string;
  requestURI: string;
  requestReceivedTimestamp: string;
  responseStatus?: { code?: number };
}

const startOperator = async (name: string) => {
  const operator = await OperatorProcess.start('integration', {
    name,
    args: [
      `--namespace=${namespace}`,
      `--identity=${name}`,
      `--lease-duration=${lease.duration / 1000}s`,
      `--renew-deadline=${lease.renew / 1000}s`,
      '--retry-period=500ms',
    ],
  });
  operators.push(operator);
  return operator;
};

beforeAll(async () => {
  namespace = await createTestNamespace(kc, 'fencing');
  incidents = new IncidentClient(kc, namespace);
});
afterEach(async () => {
  await Promise.all(operators.map((o) => o.stop()));
  operators = [];
});
afterAll(async () => {
  await kc.makeApiClient(CoreV1Api).deleteNamespace({ name: namespace });
});

describe('a leader cut off from the API server', () => {
  it('writes nothing after its claim lapses, exits, and the other replica completes the incident once', async () => {
    const env = testEnv('integration');
    if (!env.controlPlane)
      throw new Error('this test freezes the local API server: it needs the local control plane');
    await incidents.deployment('api');
    // minReadySeconds keeps the restarted rollout going across the freeze.
    await kc
      .makeApiClient(AppsV1Api)
      .patchNamespacedDeployment(
        { name: 'api', namespace, body: { spec: { minReadySeconds: 6 } } },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      );
    const a = await startOperator('fence-a');
    const b = await startOperator('fence-b');
    const holder = await eventually(
      'a lease holder',
      async () =>
        (
          await kc
            .makeApiClient(CoordinationV1Api)
            .readNamespacedLease({ name: 'selfheal-leader', namespace })
        ).spec?.holderIdentity,
    );
    const [leader, follower] = holder.startsWith('fence-a') ? [a, b] : [b, a];

    await incidents.create('api-slow', {
      target: { kind: 'Deployment', name: 'api' },
      actions: [{ type: 'rolloutRestart' }],
    });
    await incidents.waitFor(
      'api-slow',
      'the restart applied',
      (i) => i.status?.attempts?.[0]?.appliedAt !== undefined,
    );

    const thaw = freezeApiServer(tierStateDir('integration'));
    try {
      await new Promise((resolve) => setTimeout(resolve, lease.renew + 4_000));
    } finally {
      thaw();
    }
    await eventually('the deposed leader to exit', () => !leader.running, { timeoutMs: 20_000 });
    expect(leader.exitCode).toBe(1);
    const lost = leader.logLines().find((line) => line.msg === 'leader election lost: exiting');
    if (!lost) throw new Error(`the leader did not log losing the election; log ${leader.logFile}`);
    const validUntil = new Date(String(lost.validUntil)).getTime();

    const resolved = await incidents.waitForPhase('api-slow', 'Resolved', 90_000);
    expect(resolved.status?.attempts).toEqual([
      expect.objectContaining({ id: 'attempt-1', result: 'Succeeded' }),
    ]);
    expect(await incidents.templateRevisions('api')).toBe(2);
    expect(follower.running).toBe(true);

    const audit = readFileSync(env.controlPlane.auditLog, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as AuditEvent);
    const identity = holder;
    const byLeader = audit.filter((e) => e.userAgent?.includes(`(${identity}`));
    // The audit log does see this leader (or the check would prove nothing)...
    expect(byLeader.some((e) => e.requestURI.includes(`/namespaces/${namespace}/`))).toBe(true);
    // ...and none of its writes landed once its claim had lapsed.
    const late = byLeader.filter(
      (e) =>
        new Date(e.requestReceivedTimestamp).getTime() > validUntil &&
        (e.responseStatus?.code ?? 0) >= 200 &&
        (e.responseStatus?.code ?? 0) < 300,
    );
    expect(late).toEqual([]);
    // The new leader did write: the incident was finished by it.
    const byFollower = audit.filter(
      (e) =>
        !e.userAgent?.includes(`(${identity}`) &&
        e.userAgent?.includes('leader') &&
        e.requestURI.includes('api-slow'),
    );
    expect(byFollower.length).toBeGreaterThan(0);
  });
});
