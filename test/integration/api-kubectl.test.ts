import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { REPO_ROOT } from '../../hack/localenv/tools.ts';
import { GROUP, VERSION } from '../../src/api/group.ts';
import { createTestNamespace, kubeConfigFor, kubectl } from '../support/kube.ts';

// What a user sees: the samples apply as they are, and the real kubectl prints the columns.
const kc = kubeConfigFor('integration');
let namespace: string;
const samples = join(REPO_ROOT, 'deploy', 'samples');

beforeAll(async () => {
  namespace = await createTestNamespace(kc, 'kubectl');
});
afterAll(async () => {
  await kc.makeApiClient(CoreV1Api).deleteNamespace({ name: namespace });
});

/** kubectl's table as rows of cells keyed by column header. */
function table(output: string): Record<string, string>[] {
  const [header = '', ...rows] = output.trimEnd().split('\n');
  const starts = [...header.matchAll(/\S+/g)].map((m) => ({ name: m[0], at: m.index }));
  return rows.map((row) =>
    Object.fromEntries(
      starts.map((col, i) => [col.name, row.slice(col.at, starts[i + 1]?.at ?? row.length).trim()]),
    ),
  );
}

async function run(args: string[]): Promise<string> {
  const result = await kubectl('integration', args);
  expect({ args, code: result.code, stderr: result.stderr }).toEqual({ args, code: 0, stderr: '' });
  return result.stdout;
}

describe('kubectl and the CRDs', () => {
  it('accepts the checked-in CRDs with a server-side dry run', async () => {
    const out = await run([
      'apply',
      '--server-side',
      '--dry-run=server',
      '-f',
      join(REPO_ROOT, 'deploy', 'crds'),
    ]);
    expect(out).toContain('customresourcedefinition.apiextensions.k8s.io/incidents.selfheal.dev');
    expect(out).toContain('customresourcedefinition.apiextensions.k8s.io/remediationpolicies.selfheal.dev');
    expect(out).toContain('customresourcedefinition.apiextensions.k8s.io/statuscomponents.selfheal.dev');
  });

  it('applies every sample as it is', async () => {
    const out = await run(['apply', '-n', namespace, '-f', samples]);
    expect(out).toContain('incident.selfheal.dev/api-degraded created');
    expect(out).toContain('remediationpolicy.selfheal.dev/api-error-rate created');
    expect(out).toContain('remediationpolicy.selfheal.dev/orders-backlog created');
    expect(out).toContain('statuscomponent.selfheal.dev/public-api created');
  });

  it('prints Severity, Phase, Target, Attempts, Escalation and Age for incidents', async () => {
    await kc.makeApiClient(CustomObjectsApi).patchNamespacedCustomObjectStatus(
      {
        group: GROUP,
        version: VERSION,
        namespace,
        plural: 'incidents',
        name: 'api-degraded',
        body: { status: { phase: 'Remediating', attemptCount: 1, escalation: { level: 0 } } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const out = await run(['get', 'incidents', '-n', namespace]);
    expect(out.split('\n')[0]?.split(/\s+/)).toEqual([
      'NAME',
      'SEVERITY',
      'PHASE',
      'TARGET',
      'ATTEMPTS',
      'ESCALATION',
      'AGE',
    ]);
    expect(table(out)).toEqual([
      {
        NAME: 'api-degraded',
        SEVERITY: 'P2',
        PHASE: 'Remediating',
        TARGET: 'api',
        ATTEMPTS: '1',
        ESCALATION: '0',
        AGE: expect.stringMatching(/^\d+s$/),
      },
    ]);
  });

  it('adds Title, Source, Alert, Acknowledged-By and Commander with -o wide, by the short name', async () => {
    const [row] = table(await run(['get', 'inc', '-o', 'wide', '-n', namespace]));
    expect(row).toMatchObject({
      NAME: 'api-degraded',
      TITLE: 'API latency above 2 s for most requests',
      SOURCE: 'manual',
      ALERT: '',
      'ACKNOWLEDGED-BY': '',
      COMMANDER: '',
    });
    await kc.makeApiClient(CustomObjectsApi).patchNamespacedCustomObject(
      {
        group: GROUP,
        version: VERSION,
        namespace,
        plural: 'incidents',
        name: 'api-degraded',
        body: { spec: { acknowledgedBy: 'alice', roles: { incidentCommander: 'bob' } } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const [taken] = table(await run(['get', 'inc', '-o', 'wide', '-n', namespace]));
    expect(taken).toMatchObject({ NAME: 'api-degraded', 'ACKNOWLEDGED-BY': 'alice', COMMANDER: 'bob' });
  });

  it('prints Display-Name, Order and Age for status components, and Description with -o wide', async () => {
    const [row] = table(await run(['get', 'stc', '-n', namespace]));
    expect(row).toEqual({
      NAME: 'public-api',
      'DISPLAY-NAME': 'Public API',
      ORDER: '1',
      AGE: expect.stringMatching(/^\d+s$/),
    });
    const wide = await run(['get', 'stc', '-o', 'wide', '-n', namespace]);
    expect(wide).toContain('The REST API that apps and integrations call.');
  });

  it('lists incidents, policies and status components under the selfheal category', async () => {
    const out = await run(['get', 'selfheal', '-n', namespace, '-o', 'name']);
    expect(out.trim().split('\n').sort()).toEqual([
      'incident.selfheal.dev/api-degraded',
      'remediationpolicy.selfheal.dev/api-error-rate',
      'remediationpolicy.selfheal.dev/orders-backlog',
      'statuscomponent.selfheal.dev/public-api',
    ]);
    const policies = table(await run(['get', 'rpol', '-n', namespace]));
    expect(policies.map(({ AGE: _age, ...rest }) => rest)).toEqual([
      {
        NAME: 'api-error-rate',
        ALERT: 'ApiHighErrorRate',
        // No operator runs in this file: nobody has judged the policies yet.
        READY: '',
        'TARGET-KIND': 'Deployment',
        'FIRST-ACTION': 'rolloutRestart',
        'DRY-RUN': 'false',
      },
      {
        NAME: 'orders-backlog',
        ALERT: 'QueueBacklog',
        READY: '',
        'TARGET-KIND': 'Deployment',
        'FIRST-ACTION': 'queueDrain',
        'DRY-RUN': 'false',
      },
    ]);
  });
});
