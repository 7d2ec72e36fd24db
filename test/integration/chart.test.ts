import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ApiException, CoreV1Api, CustomObjectsApi, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { CHART_DIR, helmTemplate, MANIFESTS_NAMESPACE } from '../../hack/chart.ts';
import { REPO_ROOT } from '../../hack/localenv/tools.ts';
import { eventually } from '../../hack/localenv/wait.ts';
import { API_VERSION, GROUP, VERSION } from '../../src/api/group.ts';
import { createPolicy, listIncidents, postAlerts } from '../support/alerting.ts';
import { helmValueArgs } from '../support/chart.ts';
import { condition, IncidentClient } from '../support/incidents.ts';
import { createTestNamespace, kubeConfigFor, kubectl } from '../support/kube.ts';
import type { OperatorProcess } from '../support/operator.ts';
import {
  deniedByRbac,
  helmDeploy,
  helmIn,
  installMonitoringCrds,
  readDeployment,
  releaseKubeconfig,
  startChartOperator,
} from '../support/release.ts';

// The chart against the real API server: every rendered object through a server-side dry run, then
// helm install, upgrade and uninstall, with the operator run under the installed ServiceAccount.
const kc = kubeConfigFor('integration');
const core = kc.makeApiClient(CoreV1Api);
const ciFiles = readdirSync(join(CHART_DIR, 'ci')).filter((f) => f.endsWith('-values.yaml'));
const namespaces: string[] = [];
const operators: OperatorProcess[] = [];
const scratch = mkdtempSync(join(tmpdir(), 'selfheal-chart-'));
// Chart flags that keep the operator quick in tests and its storm breaker out of the other files' way.
const TEST_CONFIG = { 'poll-interval': '500ms', 'storm-max-incidents': 1000 };

async function namespace(prefix: string): Promise<string> {
  const name = await createTestNamespace(kc, prefix);
  namespaces.push(name);
  return name;
}

async function ensureNamespace(name: string): Promise<void> {
  await core.createNamespace({ body: { metadata: { name } } }).catch((error: unknown) => {
    if (!(error instanceof ApiException && error.code === 409)) throw error;
  });
  if (!namespaces.includes(name)) namespaces.push(name);
}

beforeAll(async () => {
  await installMonitoringCrds('integration');
});

afterAll(async () => {
  await Promise.all(operators.map((o) => o.stop()));
  await Promise.all(namespaces.map((name) => core.deleteNamespace({ name }).catch(() => undefined)));
});

/** kubectl's server-side dry run of every object, with strict field validation. */
async function dryRun(yaml: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const file = join(scratch, `dry-run-${Date.now()}.yaml`);
  writeFileSync(file, yaml);
  return kubectl('integration', [
    'apply',
    '--server-side',
    '--force-conflicts',
    '--dry-run=server',
    '--validate=strict',
    '-f',
    file,
  ]);
}

describe('a server-side dry run of everything the chart renders', () => {
  it.each(ciFiles)('accepts every object rendered with %s', async (file) => {
    const release = await namespace('chart-dry-run');
    const values = readFileSync(join(CHART_DIR, 'ci', file), 'utf8');
    for (const watched of /^watchNamespaces: \[(.*)\]$/m.exec(values)?.[1]?.split(', ') ?? [])
      await ensureNamespace(watched);
    const yaml = await helmTemplate([
      'selfheal',
      CHART_DIR,
      '--namespace',
      release,
      '--values',
      join(CHART_DIR, 'ci', file),
    ]);
    const objects = yaml.split(/^---$/m).filter((d) => /^kind: /m.test(d)).length;
    const result = await dryRun(yaml);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    expect(result.stdout.trim().split('\n')).toHaveLength(objects);
    for (const line of result.stdout.trim().split('\n'))
      expect(line).toMatch(/ serverside-applied \(server dry run\)$/);
  });

  it('accepts deploy/install.yaml as checked in', async () => {
    // A dry run creates nothing, so the namespace the file creates must exist already.
    await ensureNamespace(MANIFESTS_NAMESPACE);
    const yaml = readFileSync(join(REPO_ROOT, 'deploy', 'install.yaml'), 'utf8');
    const result = await dryRun(yaml);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    expect(result.stdout).toContain('deployment.apps/selfheal serverside-applied (server dry run)');
  });

  it('refuses a misspelled field in a value the schema passes through to Kubernetes', async () => {
    const release = await namespace('chart-dry-run');
    const yaml = await helmTemplate([
      'selfheal',
      CHART_DIR,
      '--namespace',
      release,
      ...helmValueArgs({ affinity: { podAntiAfinity: {} } }),
    ]);
    const result = await dryRun(yaml);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(
      '.spec.template.spec.affinity.podAntiAfinity: field not declared in schema',
    );
  });
});

const CRDS = ['incidents.selfheal.dev', 'remediationpolicies.selfheal.dev', 'statuscomponents.selfheal.dev'];

/**
 * The tier's set-up applied the CRDs with kubectl; a release takes them over once they carry Helm's
 * ownership metadata (the documented path from deploy/install.yaml to the chart).
 */
async function adoptCrds(release: string, releaseNamespace: string): Promise<void> {
  for (const args of [
    ['label', 'crd', ...CRDS, 'app.kubernetes.io/managed-by=Helm', '--overwrite'],
    [
      'annotate',
      'crd',
      ...CRDS,
      `meta.helm.sh/release-name=${release}`,
      `meta.helm.sh/release-namespace=${releaseNamespace}`,
      '--overwrite',
    ],
  ]) {
    const result = await kubectl('integration', args);
    expect({ args, code: result.code, stderr: result.stderr }).toEqual({ args, code: 0, stderr: '' });
  }
}

const webhookToken = async (releaseNamespace: string, secret: string) =>
  Buffer.from(
    (await core.readNamespacedSecret({ name: secret, namespace: releaseNamespace })).data?.token ?? '',
    'base64',
  ).toString();

describe('helm install, upgrade and uninstall with the default values', () => {
  const release = 'selfheal-it';
  let releaseNamespace: string;
  let workloads: string;
  let operator: OperatorProcess;

  beforeAll(async () => {
    releaseNamespace = await namespace('chart-release');
    workloads = await namespace('chart-workloads');
  });

  it('installs: the CRDs (kept), a Deployment of two replicas, its token and permissions', async () => {
    await adoptCrds(release, releaseNamespace);
    const installed = await helmDeploy('integration', 'install', release, releaseNamespace, {
      config: TEST_CONFIG,
    });
    expect(installed.stdout).toContain('STATUS: deployed');
    expect(installed.stdout).toContain(`kubectl -n ${releaseNamespace} rollout status deployment/${release}`);
    const deployment = await readDeployment(kc, releaseNamespace, release);
    expect(deployment.status?.availableReplicas).toBe(2);
    for (const crd of CRDS) {
      const got = await kubectl('integration', ['get', 'crd', crd, '-o', 'jsonpath={.metadata.annotations}']);
      expect(JSON.parse(got.stdout)).toMatchObject({
        'helm.sh/resource-policy': 'keep',
        'meta.helm.sh/release-name': release,
      });
    }
    expect(await webhookToken(releaseNamespace, `${release}-webhook-token`)).toMatch(/^[A-Za-z0-9]{48}$/);
  });

  it("runs under the chart's ServiceAccount: remediates an incident and ingests an alert, never refused", async () => {
    ({ operator } = await startChartOperator(
      'integration',
      kc,
      await readDeployment(kc, releaseNamespace, release),
    ));
    operators.push(operator);
    const incidents = new IncidentClient(kc, workloads);
    await incidents.deployment('api');
    await incidents.create('api-slow', {
      target: { kind: 'Deployment', name: 'api' },
      actions: [{ type: 'rolloutRestart' }],
    });
    expect(condition(await incidents.waitForPhase('api-slow', 'Resolved'), 'Verified')?.status).toBe('True');

    await incidents.deployment('web');
    await createPolicy(kc, workloads, 'web-down', {
      match: { alertName: 'ChartWebDown' },
      target: { kind: 'Deployment', name: 'web' },
      actions: [{ type: 'rolloutRestart' }],
    });
    const token = await webhookToken(releaseNamespace, `${release}-webhook-token`);
    const alert = {
      labels: { alertname: 'ChartWebDown', namespace: workloads },
      fingerprint: 'c4a7f00d00000001',
    };
    expect((await postAlerts(operator.webhookUrl, [alert])).status).toBe(401);
    // The policy reaches the cache through the operator's watch.
    const answer = await eventuallyCreated(() => postAlerts(operator.webhookUrl, [alert], { token }));
    await incidents.waitForPhase(answer, 'Resolved');
    expect(deniedByRbac(operator)).toEqual([]);
  });

  it('upgrades with changed values: a new Deployment spec, the same token, every Incident kept', async () => {
    const before = await readDeployment(kc, releaseNamespace, release);
    const token = await webhookToken(releaseNamespace, `${release}-webhook-token`);
    const incidents = (await listIncidents(kc, workloads)).map((i) => i.metadata.name).sort();
    expect(incidents).toHaveLength(2);
    const upgraded = await helmDeploy('integration', 'upgrade', release, releaseNamespace, {
      replicaCount: 3,
      config: { ...TEST_CONFIG, 'storm-window': '10m' },
    });
    expect(upgraded.stdout).toContain('REVISION: 2');
    const after = await readDeployment(kc, releaseNamespace, release);
    expect(after.metadata?.generation).toBeGreaterThan(before.metadata?.generation ?? 0);
    expect(after.spec?.replicas).toBe(3);
    expect(after.spec?.template.spec?.containers[0]?.args).toContain('--storm-window=10m');
    expect(before.spec?.template.spec?.containers[0]?.args).not.toContain('--storm-window=10m');
    expect(await webhookToken(releaseNamespace, `${release}-webhook-token`)).toBe(token);
    expect((await listIncidents(kc, workloads)).map((i) => i.metadata.name).sort()).toEqual(incidents);
  });

  it('uninstalls: the operator goes, the CRDs and every Incident stay', async () => {
    await operator.stop();
    const incidents = (await listIncidents(kc, workloads)).map((i) => i.metadata.name).sort();
    const removed = await helmIn('integration', [
      'uninstall',
      release,
      '--namespace',
      releaseNamespace,
      '--wait',
    ]);
    expect(removed.stdout).toContain('These resources were kept due to the resource policy:');
    for (const crd of CRDS) {
      expect(removed.stdout).toContain(`[CustomResourceDefinition] ${crd}`);
      expect((await kubectl('integration', ['get', 'crd', crd])).code).toBe(0);
    }
    expect((await listIncidents(kc, workloads)).map((i) => i.metadata.name).sort()).toEqual(incidents);
    for (const [kind, ns] of [
      ['deployment', releaseNamespace],
      ['serviceaccount', releaseNamespace],
      ['clusterrole', ''],
    ] as const) {
      const got = await kubectl('integration', ['get', kind, release, ...(ns ? ['-n', ns] : [])]);
      expect({ kind, stderr: got.stderr }).toEqual({ kind, stderr: expect.stringContaining('NotFound') });
    }
  });
});

/** Posts until the alert's policy is in the operator's cache and the answer names the new incident. */
async function eventuallyCreated(post: () => ReturnType<typeof postAlerts>): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const answer = await post();
    const result = answer.body.alerts?.[0];
    if (answer.status === 200 && result?.result === 'created' && result.incident) return result.incident;
    if (Date.now() > deadline)
      throw new Error(`the alert was not turned into an incident: ${JSON.stringify(answer)}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

describe('helm install in namespaced mode: Roles in the watched namespaces only', () => {
  const release = 'selfheal-scoped';
  let releaseNamespace: string;
  let shop: string;
  let payments: string;
  let elsewhere: string;
  let operator: OperatorProcess;
  let statusPageUrl: string | undefined;
  let notes: string;

  beforeAll(async () => {
    releaseNamespace = await namespace('chart-scoped');
    shop = await namespace('chart-shop');
    payments = await namespace('chart-payments');
    elsewhere = await namespace('chart-elsewhere');
    ({ stdout: notes } = await helmDeploy(
      'integration',
      'install',
      release,
      releaseNamespace,
      {
        watchNamespaces: [shop, payments],
        config: { ...TEST_CONFIG, 'unmatched-namespace': shop },
        statusPage: { enabled: true, title: 'Shop status', namespaces: [shop] },
      },
      { files: [join(CHART_DIR, 'ci', 'namespaced-values.yaml')] },
    ));
  });

  afterAll(async () => {
    await operator.stop();
    await helmIn('integration', ['uninstall', release, '--namespace', releaseNamespace, '--wait']);
  });

  it('binds its ServiceAccount to no ClusterRole, and to a Role in each watched namespace', async () => {
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    const bound = (await rbac.listClusterRoleBinding()).items.filter((b) =>
      b.subjects?.some((s) => s.kind === 'ServiceAccount' && s.namespace === releaseNamespace),
    );
    expect(bound).toEqual([]);
    const saKubeconfig = await releaseKubeconfig('integration', kc, releaseNamespace, release);
    const canI = async (...args: string[]) =>
      (await kubectl('integration', ['--kubeconfig', saKubeconfig, 'auth', 'can-i', ...args])).stdout.trim();
    expect(await canI('watch', 'incidents.selfheal.dev', '-n', shop)).toBe('yes');
    expect(await canI('patch', 'deployments', '-n', payments)).toBe('yes');
    expect(await canI('get', `namespaces/${shop}`, '-n', shop)).toBe('yes');
    expect(await canI('watch', 'incidents.selfheal.dev', '-n', elsewhere)).toBe('no');
    expect(await canI('list', 'incidents.selfheal.dev', '--all-namespaces')).toBe('no');
    expect(await canI('get', `namespaces/${elsewhere}`)).toBe('no');
  });

  it('acts in the watched namespaces, ingests their alerts, and leaves the others alone', async () => {
    ({ operator, statusPageUrl } = await startChartOperator(
      'integration',
      kc,
      await readDeployment(kc, releaseNamespace, release),
    ));
    operators.push(operator);
    const outside = new IncidentClient(kc, elsewhere);
    await outside.deployment('api');
    await outside.create('not-mine', {
      target: { kind: 'Deployment', name: 'api' },
      actions: [{ type: 'rolloutRestart' }],
    });

    const inShop = new IncidentClient(kc, shop);
    await inShop.deployment('api');
    await inShop.create('api-slow', {
      target: { kind: 'Deployment', name: 'api' },
      actions: [{ type: 'rolloutRestart' }],
    });
    await inShop.waitForPhase('api-slow', 'Resolved');

    const inPayments = new IncidentClient(kc, payments);
    await inPayments.deployment('web');
    await createPolicy(kc, payments, 'web-down', {
      match: { alertName: 'ScopedWebDown' },
      target: { kind: 'Deployment', name: 'web' },
      actions: [{ type: 'rolloutRestart' }],
    });
    const token = await webhookToken(releaseNamespace, `${release}-webhook-token`);
    const matched = await eventuallyCreated(() =>
      postAlerts(
        operator.webhookUrl,
        [{ labels: { alertname: 'ScopedWebDown', namespace: payments }, fingerprint: 'c4a7f00d00000002' }],
        { token },
      ),
    );
    await inPayments.waitForPhase(matched, 'Resolved');
    // No policy anywhere matches this one: an escalation-only incident in the unmatched namespace.
    const unmatched = await postAlerts(
      operator.webhookUrl,
      [{ labels: { alertname: 'NobodysAlert', namespace: elsewhere }, fingerprint: 'c4a7f00d00000003' }],
      { token },
    );
    expect(unmatched.status).toBe(200);
    await inShop.waitForPhase(unmatched.body.alerts?.[0]?.incident ?? '', 'Escalated');

    expect((await outside.get('not-mine')).status).toBeUndefined();
    expect(await outside.templateRevisions('api')).toBe(1);
    expect(deniedByRbac(operator)).toEqual([]);
  });

  it("serves the status page from the chart's values: its title, the components of its namespaces only", async () => {
    expect(notes).toContain(
      `kubectl -n ${releaseNamespace} port-forward service/${release}-status-page 8082:80`,
    );
    expect(statusPageUrl).toBeDefined();
    const objects = kc.makeApiClient(CustomObjectsApi);
    // The one left out first, so that it had the better chance to reach the page when Checkout does.
    for (const [namespace, name, displayName] of [
      [payments, 'ledger', 'Ledger'],
      [shop, 'checkout', 'Checkout'],
    ] as const)
      await objects.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace,
        plural: 'statuscomponents',
        body: { apiVersion: API_VERSION, kind: 'StatusComponent', metadata: { name }, spec: { displayName } },
      });
    const summary = await eventually('the shop component on the status page', async () => {
      const res = await fetch(`${statusPageUrl ?? ''}api/v2/summary.json`);
      const body = (await res.json()) as { page: { name: string }; components: { name: string }[] };
      return body.components.length > 0 && body;
    });
    expect(summary.page.name).toBe('Shop status');
    // payments is watched, but not on the page.
    expect(summary.components.map((c) => c.name)).toEqual(['Checkout']);
    expect(deniedByRbac(operator)).toEqual([]);
  });
});
