import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { freezeApiServer } from '../../hack/localenv/controlplane.ts';
import { eventually } from '../../hack/localenv/wait.ts';
import { GROUP, VERSION } from '../../src/api/group.ts';
import type { RemediationPolicy } from '../../src/api/policy.ts';
import { createPolicy, listIncidents, notification, webhookAlert } from '../support/alerting.ts';
import { condition, IncidentClient } from '../support/incidents.ts';
import { createTestNamespace, kubeConfigFor, kubectl } from '../support/kube.ts';
import { OperatorProcess } from '../support/operator.ts';
import { tierStateDir } from '../support/tiers.ts';

// What on-call and policy authors meet: a live pause switched with one kubectl command, a webhook
// that takes each alert of a notification on its own, and policies that say when they cannot work.
const kc = kubeConfigFor('integration');
const core = kc.makeApiClient(CoreV1Api);
let namespace: string;
let incidents: IncidentClient;
let operators: OperatorProcess[] = [];

const startOperator = async (name: string, extra: string[] = [], waitForReady = true) => {
  const operator = await OperatorProcess.start('integration', {
    name,
    args: [`--namespace=${namespace}`, `--identity=${name}`, '--storm-max-incidents=1000', ...extra],
    waitForReady,
  });
  operators.push(operator);
  return operator;
};

beforeAll(async () => {
  namespace = await createTestNamespace(kc, 'control');
  incidents = new IncidentClient(kc, namespace);
});
afterEach(async () => {
  await Promise.all(operators.map((o) => o.stop()));
  operators = [];
});
afterAll(async () => {
  await core.deleteNamespace({ name: namespace });
});

describe('live pause', () => {
  it('one kubectl command holds every incident before its next effect, and another lets them go on', async () => {
    await incidents.deployment('slow');
    await incidents.deployment('other');
    // The restart of "slow" never completes within its 3s timeout, so its next effect (a scale) is due.
    await kc
      .makeApiClient(AppsV1Api)
      .patchNamespacedDeployment(
        { name: 'slow', namespace, body: { spec: { minReadySeconds: 120 } } },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      );
    await startOperator('pause');
    await incidents.create('slow', {
      target: { kind: 'Deployment', name: 'slow' },
      actions: [
        { type: 'rolloutRestart', rolloutRestart: { timeout: '3s' } },
        { type: 'scale', scale: { replicas: 3 } },
      ],
    });
    await incidents.waitFor(
      'slow',
      'attempt-1 applied',
      (i) => i.status?.attempts?.[0]?.appliedAt !== undefined,
    );

    const paused = await kubectl('integration', [
      '-n',
      namespace,
      'create',
      'configmap',
      'selfheal-pause',
      '--from-literal=reason=database failover in progress',
    ]);
    expect(paused.code).toBe(0);
    const pausedAt = Date.now();
    await incidents.create('other', {
      target: { kind: 'Deployment', name: 'other' },
      actions: [{ type: 'rolloutRestart' }],
    });
    const held = await incidents.waitFor(
      'other',
      'held',
      (i) => condition(i, 'Held')?.status === 'True',
      5_000,
    );
    expect(Date.now() - pausedAt).toBeLessThan(5_000);
    expect(condition(held, 'Held')?.message).toContain('database failover in progress');
    expect(held.status?.phase).toBe('Open');
    const slowHeld = await incidents.waitFor(
      'slow',
      'held before the scale',
      (i) => condition(i, 'Held')?.status === 'True',
      10_000,
    );
    // Held as soon as its next effect came due (its restart's 3s timeout), saying why, like the other.
    expect(condition(slowHeld, 'Held')?.message).toContain('database failover in progress');
    expect(slowHeld.status?.attempts?.map((a) => `${a.id} ${a.result}`)).toEqual(['attempt-1 Failed']);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect((await incidents.readDeployment('slow')).spec?.replicas).toBe(2);
    expect(await incidents.templateRevisions('other')).toBe(1);

    expect(
      (await kubectl('integration', ['-n', namespace, 'delete', 'configmap', 'selfheal-pause'])).code,
    ).toBe(0);
    const resumed = await incidents.waitForPhase('other', 'Resolved', 30_000);
    expect(condition(resumed, 'Held')).toEqual(
      expect.objectContaining({ status: 'False', reason: 'Resumed' }),
    );
    await eventually(
      'the held scale applied',
      async () => (await incidents.readDeployment('slow')).spec?.replicas === 3,
      {
        timeoutMs: 15_000,
      },
    );
  });
});

describe('the alert webhook', () => {
  it('answers 503 until its caches are synced, then takes each alert of a notification on its own', async () => {
    await createPolicy(kc, namespace, 'web-restart', {
      match: { alertName: 'WebDown' },
      target: { kind: 'Deployment', nameFromLabel: 'deployment' },
      actions: [{ type: 'rolloutRestart' }],
      dryRun: true,
    });
    // With the API server frozen, the operator listens but cannot list: its caches are empty.
    const thaw = freezeApiServer(tierStateDir('integration'));
    let operator: OperatorProcess;
    try {
      operator = await startOperator('webhook', [], false);
      const early = await eventually(
        'the webhook to answer',
        () =>
          operator
            .postAlerts(notification([webhookAlert({ alertname: 'WebDown', namespace, deployment: 'web' })]))
            .catch(() => undefined),
        { timeoutMs: 20_000 },
      );
      expect(early.status).toBe(503);
      expect(JSON.stringify(early.body)).toContain('caches not synced');
    } finally {
      thaw();
    }
    await operator.ready();
    const answer = await operator.postAlerts(
      notification([
        webhookAlert({ alertname: 'WebDown', namespace, deployment: 'web-a', 'service.name': 'web' }),
        { ...webhookAlert({ alertname: 'WebDown', namespace, deployment: 'web-b' }), startsAt: 'yesterday' },
        webhookAlert({
          alertname: 'WebDown',
          namespace,
          deployment: 'web-c',
          'http.route': '/api/v1/health',
        }),
      ]),
    );
    expect(answer.status).toBe(200);
    const alerts = answer.body.alerts as { index: number; result: string; errors?: string[] }[];
    expect(alerts.map((a) => [a.index, a.result])).toEqual([
      [0, 'created'],
      [1, 'invalid'],
      [2, 'created'],
    ]);
    expect(alerts[1]?.errors).toEqual(['alerts[1].startsAt: "yesterday" is not an RFC 3339 time']);
    const created = (await listIncidents(kc, namespace)).filter((i) => i.spec.source.alertName === 'WebDown');
    expect(created.map((i) => i.spec.target?.name).sort()).toEqual(['web-a', 'web-c']);
    expect(created.find((i) => i.spec.target?.name === 'web-a')?.spec.source.labels?.['service.name']).toBe(
      'web',
    );
  });

  it('makes one incident of one signal delivered at once to two replicas with different start times', async () => {
    await createPolicy(kc, namespace, 'race-restart', {
      match: { alertName: 'RaceDown' },
      target: { kind: 'Deployment', nameFromLabel: 'deployment' },
      actions: [{ type: 'rolloutRestart' }],
      dryRun: true,
    });
    const [one, two] = await Promise.all([startOperator('race-one'), startOperator('race-two')]);
    const signals = Array.from({ length: 10 }, (_, i) => ({
      alertname: 'RaceDown',
      namespace,
      deployment: `race-${i}`,
    }));
    await Promise.all(
      signals.flatMap((labels, i) => [
        one.postAlerts(
          notification([
            webhookAlert(labels, { startsAt: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString() }),
          ]),
        ),
        two.postAlerts(
          notification([
            webhookAlert(labels, { startsAt: new Date(Date.UTC(2026, 0, 1, 0, i, 30)).toISOString() }),
          ]),
        ),
      ]),
    );
    const raced = (await listIncidents(kc, namespace)).filter((i) => i.spec.source.alertName === 'RaceDown');
    expect(raced.map((i) => i.spec.source.labels?.deployment).sort()).toEqual(
      signals.map((s) => s.deployment).sort(),
    );
  });
});

describe('policy status', () => {
  const readPolicy = async (name: string) =>
    (await kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: 'remediationpolicies',
      name,
    })) as RemediationPolicy;
  const ready = (p: RemediationPolicy) => p.status?.conditions?.find((c) => c.type === 'Ready');

  it('says in kubectl get rpol which policies cannot work, and why', async () => {
    const base = {
      target: { kind: 'Deployment', nameFromLabel: 'deployment' },
      actions: [{ type: 'rolloutRestart' }],
    };
    // RE2 (Alertmanager's engine) refuses a repetition of more than 1000 in all.
    await createPolicy(kc, namespace, 'nested-quantifier', {
      ...base,
      match: { alertName: 'A', labels: [{ name: 'pod', operator: '=~', value: '(.{0,50}){0,50}x' }] },
    });
    await createPolicy(kc, namespace, 'lookahead', {
      ...base,
      match: { alertName: 'B', labels: [{ name: 'pod', operator: '=~', value: 'api(?=-v2)' }] },
    });
    await createPolicy(kc, namespace, 'missing-label', { ...base, match: { alertName: 'NoTargetLabel' } });
    await createPolicy(kc, namespace, 'fine', { ...base, match: { alertName: 'Fine' } });
    const operator = await startOperator('policies');
    // An alert of the last policy arrives without the label its target is named by.
    await operator.postAlerts(notification([webhookAlert({ alertname: 'NoTargetLabel', namespace })]));
    await eventually('every policy judged', async () => {
      const judged = await Promise.all(
        ['nested-quantifier', 'lookahead', 'missing-label', 'fine'].map(readPolicy),
      );
      return (
        judged.every((p) => ready(p)?.observedGeneration === p.metadata.generation) &&
        ready(judged[2] as RemediationPolicy)?.reason === 'TargetUnresolved'
      );
    });
    const wide = await kubectl('integration', ['-n', namespace, 'get', 'rpol', '-o', 'wide']);
    const rows: Record<string, string> = Object.fromEntries(
      wide.stdout
        .trim()
        .split('\n')
        .slice(1)
        .map((line) => line.split(/\s+/))
        .map(([name = '', , readyColumn = '', reason = '']): [string, string] => [
          name,
          `${readyColumn} ${reason}`,
        ]),
    );
    expect(rows).toEqual(
      expect.objectContaining({
        'nested-quantifier': 'False InvalidMatcher',
        lookahead: 'False InvalidMatcher',
        'missing-label': 'False TargetUnresolved',
        fine: 'True Valid',
      }),
    );
    expect(ready(await readPolicy('nested-quantifier'))?.message).toContain('spec.match.labels[0].value');
    expect(ready(await readPolicy('nested-quantifier'))?.message).toContain('invalid repeat count');
    expect(ready(await readPolicy('missing-label'))?.message).toContain('"deployment"');
    await incidents.waitForEvent('nested-quantifier', 'InvalidMatcher');
  });
});
