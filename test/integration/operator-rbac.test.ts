import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api } from '@kubernetes/client-node';
import { CHART_DIR, helmTemplate } from '../../hack/chart.ts';
import { createPolicy, postAlerts } from '../support/alerting.ts';
import { helmValueArgs } from '../support/chart.ts';
import { condition, IncidentClient } from '../support/incidents.ts';
import { createTestNamespace, kubeConfigFor, kubectl } from '../support/kube.ts';
import { OperatorProcess } from '../support/operator.ts';
import { deniedByRbac, RBAC_DENIAL, releaseKubeconfig } from '../support/release.ts';
import { tierStateDir } from '../support/tiers.ts';

// Least privilege, proven: the operator runs with exactly the permissions the chart gives its
// ServiceAccount (the chart's rendered ServiceAccount and RBAC, a real token, RBAC on) and still does
// all of its work. Once cluster-wide (a ClusterRole), once namespaced (Roles in the watched namespace
// only, --watch-namespaces).
const kc = kubeConfigFor('integration');
const core = kc.makeApiClient(CoreV1Api);

describe.each([
  { mode: 'cluster-wide', release: 'selfheal', namespaced: false },
  { mode: 'namespaced', release: 'selfheal-rbac-scoped', namespaced: true },
])("the operator with only its ServiceAccount's permissions, $mode", ({ release, namespaced }) => {
  let namespace: string;
  let other: string;
  let releaseNamespace: string;
  let saKubeconfig: string;
  let operator: OperatorProcess;

  beforeAll(async () => {
    namespace = await createTestNamespace(kc, 'rbac');
    other = await createTestNamespace(kc, 'rbac-other');
    releaseNamespace = await createTestNamespace(kc, 'rbac-operator');
    const rendered = await helmTemplate([
      release,
      CHART_DIR,
      '--namespace',
      releaseNamespace,
      ...helmValueArgs(
        namespaced ? { watchNamespaces: [namespace], rbac: { aggregateClusterRoles: false } } : {},
      ),
      '--show-only',
      'templates/serviceaccount.yaml',
      '--show-only',
      'templates/rbac.yaml',
    ]);
    const file = join(tierStateDir('integration'), `${release}-rbac.yaml`);
    writeFileSync(file, rendered);
    const applied = await kubectl('integration', ['apply', '-f', file]);
    expect({ code: applied.code, stderr: applied.stderr }).toEqual({ code: 0, stderr: '' });
    saKubeconfig = await releaseKubeconfig('integration', kc, releaseNamespace, release);
    operator = await OperatorProcess.start('integration', {
      name: `least-privilege-${namespaced ? 'namespaced' : 'cluster'}`,
      args: [
        `--kubeconfig=${saKubeconfig}`,
        `--namespace=${releaseNamespace}`,
        ...(namespaced ? [`--watch-namespaces=${namespace}`] : []),
        '--storm-max-incidents=1000',
        '--poll-interval=500ms',
      ],
    });
  });
  afterAll(async () => {
    await operator.stop();
    await Promise.all([namespace, other, releaseNamespace].map((name) => core.deleteNamespace({ name })));
  });

  const canI = async (verb: string, resource: string, ns?: string) =>
    (
      await kubectl('integration', [
        '--kubeconfig',
        saKubeconfig,
        'auth',
        'can-i',
        verb,
        resource,
        ...(ns === undefined ? ['--all-namespaces'] : ['-n', ns]),
      ])
    ).stdout.trim();

  it('is refused what it does not need', async () => {
    expect(await canI('delete', 'deployments', namespace)).toBe('no');
    expect(await canI('create', 'deployments', namespace)).toBe('no');
    // Receivers' and brokers' credentials are read one by one when needed, never listed or watched.
    expect(await canI('list', 'secrets', namespace)).toBe('no');
    expect(await canI('watch', 'secrets', namespace)).toBe('no');
    expect(await canI('delete', 'incidents.selfheal.dev', namespace)).toBe('no');
    expect(await canI('update', 'leases.coordination.k8s.io', namespace)).toBe('no');
    expect(await canI('update', 'leases.coordination.k8s.io', releaseNamespace)).toBe('yes');
    expect(await canI('patch', 'deployments', namespace)).toBe('yes');
    expect(await canI('watch', 'incidents.selfheal.dev', namespace)).toBe('yes');
    const everywhere = namespaced ? 'no' : 'yes';
    expect(await canI('watch', 'incidents.selfheal.dev', other)).toBe(everywhere);
    expect(await canI('patch', 'deployments', other)).toBe(everywhere);
    expect(await canI('list', 'incidents.selfheal.dev')).toBe(everywhere);
  });

  it('remediates a manual incident end to end', async () => {
    const incidents = new IncidentClient(kc, namespace);
    await incidents.deployment('api');
    await incidents.create('api-slow', {
      target: { kind: 'Deployment', name: 'api' },
      actions: [{ type: 'rolloutRestart' }],
    });
    const resolved = await incidents.waitForPhase('api-slow', 'Resolved');
    expect(condition(resolved, 'Verified')?.status).toBe('True');
    expect(await incidents.templateRevisions('api')).toBe(2);
    await incidents.waitForEvent('api-slow', 'Resolved');
  });

  it('turns an alert into an incident and records its resolution', async () => {
    const incidents = new IncidentClient(kc, namespace);
    await incidents.deployment('web');
    await createPolicy(kc, namespace, 'web-down', {
      match: { alertName: 'WebDown' },
      target: { kind: 'Deployment', name: 'web' },
      actions: [{ type: 'rolloutRestart' }],
    });
    // The policy reaches the operator's cache through its watch (list/watch permissions).
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const alert = {
      labels: { alertname: 'WebDown', namespace },
      startsAt: new Date().toISOString(),
      fingerprint: '0123456789abcdef',
    };
    const fired = await postAlerts(operator.webhookUrl, [alert]);
    expect(fired.status).toBe(200);
    expect(fired.body.alerts?.[0]?.result).toBe('created');
    const name = fired.body.alerts?.[0]?.incident ?? '';
    await incidents.waitForPhase(name, 'Resolved');
    const cleared = await postAlerts(operator.webhookUrl, [{ ...alert, status: 'resolved' }]);
    expect(cleared.body.alerts?.[0]).toMatchObject({ result: 'cleared', incident: name });
    await incidents.waitFor(name, 'signal cleared', (i) => i.status?.signal?.state === 'Cleared');
  });

  it('was never refused by RBAC', async () => {
    // What a refusal looks like, in the log's JSON too: the check below would see one.
    const refused = await kubectl('integration', [
      '--kubeconfig',
      saKubeconfig,
      'get',
      'secrets',
      '-n',
      namespace,
    ]);
    expect(refused.stderr).toMatch(RBAC_DENIAL);
    expect(JSON.stringify({ err: refused.stderr })).toMatch(RBAC_DENIAL);
    expect(deniedByRbac(operator)).toEqual([]);
  });
});
