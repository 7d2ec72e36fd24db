import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { eventually } from '../../hack/localenv/wait.ts';
import { GROUP, VERSION } from '../../src/api/group.ts';
import { createPolicy, notification, webhookAlert } from '../support/alerting.ts';
import { condition, IncidentClient, templateAnnotationsOf } from '../support/incidents.ts';
import { createTestNamespace, kubeConfigFor } from '../support/kube.ts';
import { OperatorProcess } from '../support/operator.ts';

// One action per workload and effects that are the same however often they are applied, proven
// against the real API server with the operator run as users run it: two incidents on one workload
// never both act, a crash between an effect and its record repeats nothing, a change somebody else
// made is never overwritten, and a harm limit that appears after an intent still stops its effect.
const kc = kubeConfigFor('integration');
const apps = kc.makeApiClient(AppsV1Api);
const restart = [{ type: 'rolloutRestart' as const }];
const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';
let namespace: string;
let incidents: IncidentClient;
let operators: OperatorProcess[] = [];

const startOperator = async (name: string, extra: string[] = [], env: Record<string, string> = {}) => {
  const operator = await OperatorProcess.start('integration', {
    name,
    args: [`--namespace=${namespace}`, `--identity=${name}`, '--storm-max-incidents=1000', ...extra],
    env,
  });
  operators.push(operator);
  return operator;
};
const stopOperators = async () => {
  await Promise.all(operators.map((o) => o.stop()));
  operators = [];
};
/** The operator dies right after the named point; the test then starts a clean successor. */
const crashAt = async (point: 'after-intent' | 'after-effect', extra: string[] = []) => {
  const crashing = await startOperator(`crash-${point}`, extra, { SELFHEAL_FAULT: `exit-${point}` });
  return async () =>
    eventually('the operator to die at its fault point', () => !crashing.running, { timeoutMs: 30_000 });
};
const patchDeployment = (name: string, body: object) =>
  apps.patchNamespacedDeployment(
    { name, namespace, body },
    setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
  );

beforeAll(async () => {
  namespace = await createTestNamespace(kc, 'safety');
  incidents = new IncidentClient(kc, namespace);
});
afterEach(stopOperators);
afterAll(async () => {
  await kc.makeApiClient(CoreV1Api).deleteNamespace({ name: namespace });
});

describe('one remediation at a time per workload', () => {
  it('two incidents created together on one Deployment (cooldown 0s, two workers) make one rollout', async () => {
    await incidents.deployment('shared');
    await startOperator('claims', ['--default-cooldown=0s', '--workers=2', '--default-max-per-hour=100']);
    const target = { kind: 'Deployment' as const, name: 'shared' };
    await Promise.all([
      incidents.create('first', { target, actions: restart }),
      incidents.create('second', { target, actions: restart }),
    ]);
    const [a, b] = await Promise.all(
      ['first', 'second'].map((name) => incidents.waitForPhase(name, 'Resolved', 60_000)),
    );
    if (!a || !b) throw new Error('both incidents must resolve');
    const [actor, follower] = (a.status?.attempts ?? []).some((x) => x.result === 'Succeeded')
      ? [a, b]
      : [b, a];
    expect(actor.status?.attempts?.filter((x) => x.result === 'Succeeded')).toHaveLength(1);
    // The other one never acted: no applied attempt, and it says whose outcome it took.
    expect(follower.status?.attempts?.filter((x) => x.appliedAt !== undefined) ?? []).toHaveLength(0);
    expect(condition(follower, 'Resolved')?.reason).toBe('ResolvedWithIncident');
    expect(condition(follower, 'Resolved')?.message).toContain(actor.metadata.name);
    expect(
      follower.status?.timeline?.some(
        (t) => t.type === 'Following' && t.message.includes(actor.metadata.name ?? '?'),
      ),
    ).toBe(true);
    expect(await incidents.templateRevisions('shared')).toBe(2);
  });

  it('a change somebody else made after the restart fails the attempt as superseded and is never overwritten', async () => {
    await incidents.deployment('contested');
    // minReadySeconds keeps the rollout going long enough to interfere with it.
    await patchDeployment('contested', { spec: { minReadySeconds: 30 } });
    await startOperator('superseded');
    await incidents.create('contested', {
      target: { kind: 'Deployment', name: 'contested' },
      actions: restart,
    });
    await incidents.waitFor(
      'contested',
      'the restart applied',
      (i) => i.status?.attempts?.[0]?.appliedAt !== undefined,
    );
    // Somebody redeploys with their own template annotations: selfheal's marker is gone.
    await patchDeployment('contested', {
      spec: {
        template: {
          metadata: {
            annotations: { 'selfheal.dev/attempt': 'someone-else', [RESTARTED_AT]: new Date().toISOString() },
          },
        },
      },
    });
    const escalated = await incidents.waitForPhase('contested', 'Escalated');
    expect(escalated.status?.attempts?.[0]).toEqual(
      expect.objectContaining({
        result: 'Failed',
        message: expect.stringMatching(/^superseded: a change by someone else/) as unknown,
      }),
    );
    expect(condition(escalated, 'Escalated')?.reason).toBe('Superseded');
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const after = await incidents.readDeployment('contested');
    expect(templateAnnotationsOf(after)['selfheal.dev/attempt']).toBe('someone-else');
    // The original template, selfheal's restart and the other change: three, and no fourth.
    expect(await incidents.templateRevisions('contested')).toBe(3);
  });
});

describe('deterministic effects across a crash', () => {
  it('a restart applied, killed before its record, and applied again is one rollout at the attempt start', async () => {
    await incidents.deployment('determined');
    const died = await crashAt('after-effect');
    await incidents.create('determined', {
      target: { kind: 'Deployment', name: 'determined' },
      actions: restart,
    });
    await died();
    await startOperator('successor');
    const resolved = await incidents.waitForPhase('determined', 'Resolved');
    const attempt = resolved.status?.attempts?.[0];
    expect(attempt?.result).toBe('Succeeded');
    expect(templateAnnotationsOf(await incidents.readDeployment('determined'))[RESTARTED_AT]).toBe(
      attempt?.startedAt,
    );
    expect(await incidents.templateRevisions('determined')).toBe(2);
  });

  it('a scale killed right after its effect and restarted never goes past the count recorded on the attempt', async () => {
    await incidents.deployment('scaled', 2);
    const died = await crashAt('after-effect');
    await incidents.create('scaled', {
      target: { kind: 'Deployment', name: 'scaled' },
      actions: [{ type: 'scale', scale: { delta: 1, max: 10 } }],
    });
    await died();
    expect((await incidents.readDeployment('scaled')).spec?.replicas).toBe(3);
    const recorded = (await incidents.get('scaled')).status?.attempts?.[0];
    expect(recorded).toEqual(expect.objectContaining({ result: 'Running', targetReplicas: 3 }));
    await startOperator('successor');
    const resolved = await incidents.waitForPhase('scaled', 'Resolved');
    expect(resolved.status?.attempts).toEqual([
      expect.objectContaining({ result: 'Succeeded', targetReplicas: 3 }),
    ]);
    expect((await incidents.readDeployment('scaled')).spec?.replicas).toBe(3);
  });
});

describe('harm limits at the moment of the effect', () => {
  const cases = [
    {
      name: 'the workload annotated selfheal.dev/disabled',
      reason: 'RemediationDisabled',
      change: (deployment: string) =>
        patchDeployment(deployment, { metadata: { annotations: { 'selfheal.dev/disabled': 'true' } } }),
    },
    {
      name: 'the Deployment paused',
      reason: 'TargetPaused',
      change: (deployment: string) => patchDeployment(deployment, { spec: { paused: true } }),
    },
    {
      name: 'the policy switched to dry run',
      reason: 'DryRun',
      change: (deployment: string) =>
        kc.makeApiClient(CustomObjectsApi).patchNamespacedCustomObject(
          {
            group: GROUP,
            version: VERSION,
            namespace,
            plural: 'remediationpolicies',
            name: deployment,
            body: { spec: { dryRun: true } },
          },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        ),
    },
  ];
  it.each(cases)('an intent recorded before $name is never applied', async ({ reason, change }) => {
    const name = `late-${reason.toLowerCase()}`;
    await incidents.deployment(name);
    await createPolicy(kc, namespace, name, {
      match: { alertName: `Never${reason}` },
      target: { kind: 'Deployment', name },
      actions: restart,
    });
    const died = await crashAt('after-intent');
    await incidents.create(name, { target: { kind: 'Deployment', name }, policyRef: { name } });
    await died();
    await change(name);
    await startOperator('successor');
    const escalated = await incidents.waitForPhase(name, 'Escalated');
    expect(condition(escalated, 'Escalated')?.reason).toBe(reason);
    expect(escalated.status?.attempts).toEqual([
      expect.objectContaining({
        id: 'attempt-1',
        result: 'Refused',
        message: expect.stringMatching(/^not applied/) as unknown,
      }),
    ]);
    expect(await incidents.templateRevisions(name)).toBe(1);
  });

  it('a paused Deployment is refused a restart but may be scaled', async () => {
    await incidents.deployment('paused', 2);
    await patchDeployment('paused', { spec: { paused: true } });
    await startOperator('paused');
    await incidents.create('paused-restart', {
      target: { kind: 'Deployment', name: 'paused' },
      actions: restart,
    });
    await incidents.create('paused-scale', {
      target: { kind: 'Deployment', name: 'paused' },
      actions: [{ type: 'scale', scale: { replicas: 3 } }],
    });
    const refused = await incidents.waitForPhase('paused-restart', 'Escalated');
    expect(condition(refused, 'Escalated')?.reason).toBe('TargetPaused');
    await eventually(
      'the paused Deployment scaled to 3',
      async () => (await incidents.readDeployment('paused')).spec?.replicas === 3,
    );
    expect(await incidents.templateRevisions('paused')).toBe(1);
  });

  it.each(['StatefulSet', 'DaemonSet'] as const)(
    'a %s with the OnDelete strategy is refused before any patch',
    async (kind) => {
      const name = `ondelete-${kind.toLowerCase()}`;
      const labels = { app: name };
      const template = {
        metadata: { labels },
        spec: { containers: [{ name: 'app', image: 'registry.invalid/app:1' }] },
      };
      if (kind === 'StatefulSet')
        await apps.createNamespacedStatefulSet({
          namespace,
          body: {
            metadata: { name },
            spec: {
              serviceName: name,
              replicas: 1,
              selector: { matchLabels: labels },
              template,
              updateStrategy: { type: 'OnDelete' },
            },
          },
        });
      else
        await apps.createNamespacedDaemonSet({
          namespace,
          body: {
            metadata: { name },
            spec: { selector: { matchLabels: labels }, template, updateStrategy: { type: 'OnDelete' } },
          },
        });
      const read = () =>
        kind === 'StatefulSet'
          ? apps.readNamespacedStatefulSet({ name, namespace })
          : apps.readNamespacedDaemonSet({ name, namespace });
      const before = (await read()).metadata?.generation;
      await startOperator(`ondelete-${kind.toLowerCase()}`);
      await incidents.create(name, { target: { kind, name }, actions: restart });
      const escalated = await incidents.waitForPhase(name, 'Escalated');
      expect(condition(escalated, 'Escalated')?.reason).toBe('OnDeleteStrategy');
      expect(escalated.status?.attempts ?? []).toEqual([]);
      const after = await read();
      expect(after.metadata?.generation).toBe(before);
      expect(after.metadata?.annotations?.['selfheal.dev/claim']).toBeUndefined();
    },
  );
});

describe('an alert cannot pick a workload its namespace did not allow', () => {
  it('restarts what the policy selects or what opted in, and refuses the rest visibly, touching nothing', async () => {
    // Four Deployments: api (app=api), worker (opted in by its label), db and cache (neither).
    await Promise.all(['api', 'worker', 'db', 'cache'].map((name) => incidents.deployment(name)));
    await patchDeployment('worker', {
      metadata: { labels: { 'selfheal.dev/alert-remediation': 'enabled' } },
    });
    await createPolicy(kc, namespace, 'restart-selected', {
      match: { alertName: 'SelectedDown' },
      target: { kind: 'Deployment', nameFromLabel: 'deployment', selector: { matchLabels: { app: 'api' } } },
      actions: restart,
    });
    await createPolicy(kc, namespace, 'restart-opted-in', {
      match: { alertName: 'OptedInDown' },
      target: { kind: 'Deployment', nameFromLabel: 'deployment' },
      actions: restart,
    });
    const operator = await startOperator('target-allowed');
    // Whoever writes alert rules chooses these labels: the policies choose what they may touch.
    const alerts = [
      { alertname: 'SelectedDown', namespace, deployment: 'api' },
      { alertname: 'SelectedDown', namespace, deployment: 'db' },
      { alertname: 'OptedInDown', namespace, deployment: 'worker' },
      { alertname: 'OptedInDown', namespace, deployment: 'cache' },
    ];
    const answer = await operator.postAlerts(notification(alerts.map((labels) => webhookAlert(labels))));
    expect(answer.status).toBe(200);
    const taken = answer.body.alerts as { result: string; incident?: string }[];
    expect(taken.map((a) => a.result)).toEqual(['created', 'created', 'created', 'created']);
    const [api, db, worker, cache] = taken.map((a) => a.incident ?? '');

    const refusedDb = await incidents.waitForPhase(db ?? '', 'Escalated');
    expect(condition(refusedDb, 'Escalated')).toMatchObject({
      reason: 'TargetNotAllowed',
      message: `Deployment ${namespace}/db does not match the target selector app=api of policy restart-selected: label the workload to match, or widen spec.target.selector`,
    });
    const refusedCache = await incidents.waitForPhase(cache ?? '', 'Escalated');
    expect(condition(refusedCache, 'Remediated')).toMatchObject({
      status: 'False',
      reason: 'TargetNotAllowed',
      message: expect.stringMatching(
        new RegExp(`^Deployment ${namespace}/cache is not labelled selfheal.dev/alert-remediation=enabled`),
      ) as unknown,
    });
    for (const refused of [refusedDb, refusedCache]) expect(refused.status?.attempts ?? []).toEqual([]);

    await incidents.waitForPhase(api ?? '', 'Resolved', 60_000);
    await incidents.waitForPhase(worker ?? '', 'Resolved', 60_000);
    expect(await incidents.templateRevisions('api')).toBe(2);
    expect(await incidents.templateRevisions('worker')).toBe(2);
    // Not restarted: one ReplicaSet each, and no restart annotation on the pod template.
    expect(await incidents.templateRevisions('db')).toBe(1);
    expect(await incidents.templateRevisions('cache')).toBe(1);
    for (const name of ['db', 'cache'])
      expect(templateAnnotationsOf(await incidents.readDeployment(name))[RESTARTED_AT]).toBeUndefined();
  });
});
