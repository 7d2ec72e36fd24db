import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api } from '@kubernetes/client-node';
import { REPO_ROOT } from '../../hack/localenv/tools.ts';
import { createPolicy } from '../support/alerting.ts';
import { condition, IncidentClient } from '../support/incidents.ts';
import { createTestNamespace, kubeConfigFor, kubectl, serviceAccountKubeconfig } from '../support/kube.ts';
import { OperatorProcess } from '../support/operator.ts';
import { tierStateDir } from '../support/tiers.ts';

// Least privilege, proven: the operator runs with exactly the permissions of the ServiceAccount in
// deploy/manifests/rbac.yaml (a real token, RBAC on) and still does all of its work.
const kc = kubeConfigFor('integration');
const manifests = join(REPO_ROOT, 'deploy', 'manifests');
let namespace: string;
let saKubeconfig: string;
let operator: OperatorProcess;

beforeAll(async () => {
  for (const file of ['namespace.yaml', 'rbac.yaml']) {
    const applied = await kubectl('integration', ['apply', '-f', join(manifests, file)]);
    expect(applied.stderr).toBe('');
  }
  saKubeconfig = await serviceAccountKubeconfig(kc, {
    namespace: 'selfheal-system',
    name: 'selfheal',
    file: join(tierStateDir('integration'), 'selfheal-sa.kubeconfig'),
  });
  namespace = await createTestNamespace(kc, 'rbac');
  operator = await OperatorProcess.start('integration', {
    name: 'least-privilege',
    args: [
      `--kubeconfig=${saKubeconfig}`,
      '--namespace=selfheal-system',
      '--storm-max-incidents=1000',
      '--poll-interval=500ms',
    ],
  });
});
afterAll(async () => {
  await operator.stop();
  await kc.makeApiClient(CoreV1Api).deleteNamespace({ name: namespace });
});

const canI = async (verb: string, resource: string, ns = namespace) =>
  (
    await kubectl('integration', ['--kubeconfig', saKubeconfig, 'auth', 'can-i', verb, resource, '-n', ns])
  ).stdout.trim();

describe("the operator with only its ServiceAccount's permissions", () => {
  it('is refused what it does not need', async () => {
    expect(await canI('delete', 'deployments')).toBe('no');
    expect(await canI('create', 'deployments')).toBe('no');
    expect(await canI('get', 'secrets')).toBe('no');
    expect(await canI('delete', 'incidents.selfheal.dev')).toBe('no');
    expect(await canI('update', 'leases.coordination.k8s.io')).toBe('no');
    expect(await canI('update', 'leases.coordination.k8s.io', 'selfheal-system')).toBe('yes');
    expect(await canI('patch', 'deployments')).toBe('yes');
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
      annotations: {},
      startsAt: new Date().toISOString(),
      fingerprint: '0123456789abcdef',
    };
    const send = async (status: 'firing' | 'resolved') => {
      const res = await fetch(operator.webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          version: '4',
          status,
          alerts: [
            {
              ...alert,
              status,
              endsAt: status === 'firing' ? '0001-01-01T00:00:00Z' : new Date().toISOString(),
            },
          ],
        }),
      });
      return {
        status: res.status,
        body: (await res.json()) as { alerts: { result: string; incident: string }[] },
      };
    };
    const fired = await send('firing');
    expect(fired.status).toBe(200);
    expect(fired.body.alerts[0]?.result).toBe('created');
    const name = fired.body.alerts[0]?.incident ?? '';
    await incidents.waitForPhase(name, 'Resolved');
    const cleared = await send('resolved');
    expect(cleared.body.alerts[0]).toMatchObject({ result: 'cleared', incident: name });
    await incidents.waitFor(name, 'signal cleared', (i) => i.status?.signal?.state === 'Cleared');
  });

  it('was never refused by the API server', () => {
    expect(readFileSync(operator.logFile, 'utf8')).not.toMatch(/forbidden|HTTP-Code: 403/i);
  });
});
