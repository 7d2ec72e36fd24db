import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { REPO_ROOT } from '../../hack/localenv/tools.ts';
import { eventually, freePort } from '../../hack/localenv/wait.ts';
import { API_VERSION, GROUP, VERSION } from '../../src/api/group.ts';
import { createPolicy, sendAlert } from '../support/alerting.ts';
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
let statusPageUrl: string;

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
  const statusPagePort = await freePort();
  statusPageUrl = `http://127.0.0.1:${statusPagePort}`;
  operator = await OperatorProcess.start('integration', {
    name: 'least-privilege',
    args: [
      `--kubeconfig=${saKubeconfig}`,
      `--status-page-address=127.0.0.1:${statusPagePort}`,
      `--status-page-namespaces=${namespace}`,
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
    expect(await canI('watch', 'statuscomponents.selfheal.dev')).toBe('yes');
    expect(await canI('patch', 'statuscomponents.selfheal.dev')).toBe('no');
  });

  it('serves the status page from its caches, StatusComponents included', async () => {
    await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: 'statuscomponents',
      body: {
        apiVersion: API_VERSION,
        kind: 'StatusComponent',
        metadata: { name: 'checkout' },
        spec: { displayName: 'Checkout' },
      },
    });
    const page = await eventually('the status page to list the component', async () => {
      const res = await fetch(`${statusPageUrl}/`);
      const body = await res.text();
      return res.status === 200 && body.includes('<span class="component-name">Checkout</span>') && body;
    });
    expect(page).toContain('All systems operational');
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
    const send = (status: 'firing' | 'resolved') => sendAlert(operator.webhookUrl, alert, status);
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
