import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { GROUP, VERSION } from '../../src/api/group.ts';
import { condition, IncidentClient } from '../support/incidents.ts';
import { createTestNamespace, kubeConfigFor } from '../support/kube.ts';
import { OperatorProcess } from '../support/operator.ts';

// A kubectl-applied Incident, remediated by the operator run as users run it, against the real
// control plane: the restart really happens (once), the rollout really completes, and every refusal
// of the harm limits is visible on the Incident.
const kc = kubeConfigFor('integration');
let namespace: string;
let incidents: IncidentClient;
let operator: OperatorProcess;

beforeAll(async () => {
  namespace = await createTestNamespace(kc, 'lifecycle');
  incidents = new IncidentClient(kc, namespace);
  operator = await OperatorProcess.start('integration', {
    args: [
      `--namespace=${namespace}`,
      '--storm-max-incidents=1000',
      '--poll-interval=500ms',
      '--default-cooldown=10m',
    ],
  });
});
afterAll(async () => {
  await operator.stop();
  await kc.makeApiClient(CoreV1Api).deleteNamespace({ name: namespace });
});

const restart = [{ type: 'rolloutRestart' as const }];

describe('a manual incident', () => {
  it('is remediated with exactly one restart, verified and resolved, with conditions and Events', async () => {
    await incidents.deployment('api');
    expect(await incidents.templateRevisions('api')).toBe(1);
    await incidents.create('api-slow', { target: { kind: 'Deployment', name: 'api' }, actions: restart });

    const resolved = await incidents.waitForPhase('api-slow', 'Resolved');
    expect(resolved.status?.attempts).toEqual([
      expect.objectContaining({
        id: 'attempt-1',
        action: 'rolloutRestart',
        result: 'Succeeded',
        finishedAt: expect.any(String),
      }),
    ]);
    expect(resolved.status?.attemptCount).toBe(1);
    for (const type of ['Remediated', 'Verified', 'Resolved'])
      expect(condition(resolved, type)?.status).toBe('True');
    expect(condition(resolved, 'Verified')?.reason).toBe('RolloutComplete');
    expect(condition(resolved, 'Escalated')).toBeUndefined();
    expect(resolved.status?.observedGeneration).toBe(resolved.metadata.generation);

    const deployment = await incidents.readDeployment('api');
    expect(await incidents.templateRevisions('api')).toBe(2);
    expect(deployment.metadata?.annotations?.['deployment.kubernetes.io/revision']).toBe('2');
    expect(
      deployment.spec?.template.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt'],
    ).toBeDefined();
    expect(deployment.spec?.template.metadata?.annotations?.['selfheal.dev/attempt']).toBe(
      `${resolved.metadata.uid ?? ''}/attempt-1`,
    );
    expect(deployment.status?.availableReplicas).toBe(2);

    // The Events of one transition are written together, right after its status.
    for (const reason of ['AttemptSucceeded', 'Verifying']) await incidents.waitForEvent('api-slow', reason);
    const reasons = await incidents.waitForEvent('api-slow', 'Resolved');
    expect(reasons).toEqual(
      expect.arrayContaining([
        'Open',
        'AttemptStarted',
        'Remediating',
        'AttemptSucceeded',
        'Verifying',
        'Resolved',
      ]),
    );
    expect(new Set(reasons).size).toBe(reasons.length);
  });

  it('exposes what happened on /metrics', async () => {
    expect(
      await operator.metric(
        'selfheal_remediation_attempts_total{action="rolloutRestart",result="Succeeded"}',
      ),
    ).toBe(1);
    expect(
      await operator.metric('selfheal_time_to_resolve_seconds_count{severity="P2",resolved_by="automation"}'),
    ).toBe(1);
    expect(
      await operator.metric('selfheal_incidents{severity="P2",phase="Resolved"}'),
    ).toBeGreaterThanOrEqual(1);
    expect(await operator.metric('selfheal_leader')).toBe(1);
    expect(await operator.metric('selfheal_workqueue_depth{controller="incidents"}')).toBe(0);
  });
});

describe('harm limits refuse visibly', () => {
  it('dry run records the plan and touches nothing', async () => {
    await incidents.deployment('web');
    const before = await incidents.readDeployment('web');
    await incidents.create('web-dry', {
      target: { kind: 'Deployment', name: 'web' },
      actions: restart,
      dryRun: true,
    });
    const escalated = await incidents.waitForPhase('web-dry', 'Escalated');
    expect(condition(escalated, 'Remediated')).toMatchObject({ status: 'False', reason: 'DryRun' });
    expect(escalated.status?.plannedActions).toEqual([
      { action: 'rolloutRestart', description: expect.stringContaining('restart Deployment web') },
    ]);
    expect(escalated.status?.attempts ?? []).toEqual([]);
    const after = await incidents.readDeployment('web');
    expect(after.metadata?.generation).toBe(before.metadata?.generation);
    expect(after.spec?.template).toEqual(before.spec?.template);
    expect(await incidents.templateRevisions('web')).toBe(1);
    await incidents.waitForEvent('web-dry', 'Escalated');
  });

  it('refuses a second incident on the same target inside the cooldown', async () => {
    await incidents.deployment('cart');
    await incidents.create('cart-1', { target: { kind: 'Deployment', name: 'cart' }, actions: restart });
    await incidents.waitForPhase('cart-1', 'Resolved');
    await incidents.create('cart-2', { target: { kind: 'Deployment', name: 'cart' }, actions: restart });
    const refused = await incidents.waitForPhase('cart-2', 'Escalated');
    expect(condition(refused, 'Remediated')).toMatchObject({ status: 'False', reason: 'CooldownActive' });
    expect(condition(refused, 'Escalated')?.message).toMatch(
      /acted on at .* by another incident; cooldown until/,
    );
    expect(await incidents.templateRevisions('cart')).toBe(2);
  });

  it('refuses a workload annotated selfheal.dev/disabled', async () => {
    await incidents.deployment('legacy', 1, { 'selfheal.dev/disabled': 'true' });
    await incidents.create('legacy-down', {
      target: { kind: 'Deployment', name: 'legacy' },
      actions: restart,
    });
    const refused = await incidents.waitForPhase('legacy-down', 'Escalated');
    expect(condition(refused, 'Remediated')).toMatchObject({
      status: 'False',
      reason: 'RemediationDisabled',
    });
    expect(await incidents.templateRevisions('legacy')).toBe(1);
  });

  it('escalates with TargetNotFound when the workload does not exist', async () => {
    await incidents.create('ghost', {
      target: { kind: 'Deployment', name: 'does-not-exist' },
      actions: restart,
    });
    const escalated = await incidents.waitForPhase('ghost', 'Escalated');
    expect(condition(escalated, 'Escalated')).toMatchObject({ status: 'True', reason: 'TargetNotFound' });
    expect(escalated.status?.escalation?.reason).toContain('does-not-exist does not exist');
  });

  it('counts the refusals on /metrics by reason', async () => {
    for (const reason of ['DryRun', 'CooldownActive', 'RemediationDisabled', 'TargetNotFound']) {
      expect(await operator.metric(`selfheal_escalations_total{reason="${reason}"}`)).toBe(1);
    }
  });
});

describe('people take over', () => {
  it('moves an escalated incident to Acknowledged, Resolved and, with the post-mortem, Closed', async () => {
    await incidents.create('manual-only', { severity: 'P3' });
    await incidents.waitForPhase('manual-only', 'Escalated');
    const api = kc.makeApiClient(CustomObjectsApi);
    const patch = (spec: object) =>
      api.patchNamespacedCustomObject(
        {
          group: GROUP,
          version: VERSION,
          namespace,
          plural: 'incidents',
          name: 'manual-only',
          body: { spec },
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    await patch({ acknowledgedBy: 'alice' });
    const acked = await incidents.waitForPhase('manual-only', 'Acknowledged');
    expect(condition(acked, 'Acknowledged')).toMatchObject({
      status: 'True',
      reason: 'AcknowledgedByPerson',
    });
    await patch({ resolution: { resolvedBy: 'alice', note: 'config rolled back' } });
    const resolved = await incidents.waitForPhase('manual-only', 'Resolved');
    expect(resolved.status?.postMortem).toMatchObject({ required: true, dueAt: expect.any(String) });
    await patch({ postMortem: { url: 'https://wiki.example.com/pm/42', completed: true } });
    await incidents.waitForPhase('manual-only', 'Closed', 90_000);
  });
});
