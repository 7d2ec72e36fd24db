import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import axios from 'axios';
import { stringify } from 'yaml';
import { eventually } from '../../hack/localenv/wait.ts';
import { GROUP, VERSION } from '../../src/api/group.ts';
import { denyInNamespace, SlowAdmissionWebhook } from '../support/admission.ts';
import { createPolicy, postAlerts, type WebhookAlert } from '../support/alerting.ts';
import { IncidentClient } from '../support/incidents.ts';
import { createTestNamespace, kubeConfigFor } from '../support/kube.ts';
import { dashboardQueries, finiteSamples, PrometheusApi, type Dashboard } from '../support/monitoring.ts';
import type { OperatorProcess } from '../support/operator.ts';
import {
  helmDeploy,
  helmIn,
  installMonitoringCrds,
  readDeployment,
  startChartOperator,
} from '../support/release.ts';
import { started, testEnv } from '../support/tiers.ts';
import { WebhookSink } from '../support/webhook-sink.ts';

// The chart's monitoring against a real Prometheus: the release is installed with its ServiceMonitor,
// PrometheusRule and dashboard; the operator runs as the chart's pod would (kwok runs no containers)
// and Prometheus scrapes it as the ServiceMonitor says, while incidents flow: remediated and verified,
// escalated with notifications (delivered to a webhook receiver, failed for a missing Secret),
// acknowledged, resolved by people and their post-mortems overdue, SLAs breached under a shortened
// playbook, and each alert's condition brought about for real (a refused patch, refused and slow
// Incident writes, a burst, a lost leader, no replica at all). Then every dashboard query and every alert expression is
// evaluated against Prometheus and must return data.
const env = testEnv('e2e');
const prometheus = started(env.prometheus, 'Prometheus');
const prom = new PrometheusApi(prometheus.url);
const kc = kubeConfigFor('e2e');
const release = 'selfheal';
const namespaces: string[] = [];
const cleanups: (() => Promise<void>)[] = [];
const operators: OperatorProcess[] = [];
const sink = new WebhookSink();
const targetsFile = join(prometheus.targetsDir, 'selfheal-chart.json');
const rulesFile = join(prometheus.rulesDir, 'selfheal-chart.yml');

let releaseNamespace: string;
let token: string;
let dashboard: Dashboard;
let alerts: { alert: string; expr: string }[];
let selector: string;
/** From the first scrape of a leading operator to the end of the scenarios. */
let start: Date;
/** The last moment every replica was up: instant panels are evaluated here. */
let allUp: Date;
let end: Date;

async function namespace(prefix: string): Promise<string> {
  const name = await createTestNamespace(kc, prefix);
  namespaces.push(name);
  return name;
}

/** Scrape targets as prometheus-operator derives them from the ServiceMonitor: job = the Service. */
const scraped = new Map<string, string>();
function scrape(podName: string, operator: OperatorProcess): void {
  scraped.set(podName, new URL(operator.healthUrl).host);
  writeFileSync(
    targetsFile,
    JSON.stringify(
      [...scraped].map(([pod, target]) => ({
        targets: [target],
        labels: { job: release, namespace: releaseNamespace, pod },
      })),
    ),
  );
}

/** Waits until Prometheus' answer to `expr`, now, satisfies `done`. */
const until = (what: string, expr: string, done: (values: number[]) => boolean = (v) => v.length > 0) =>
  eventually(what, async () => done(finiteSamples(await prom.query(expr, new Date()))), {
    timeoutMs: 60_000,
    intervalMs: 500,
  });

async function customObject<T>(plural: string, version: string, group: string): Promise<T> {
  return (await kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
    group,
    version,
    namespace: releaseNamespace,
    plural,
    name: release,
  })) as T;
}

beforeAll(async () => {
  await Promise.all([installMonitoringCrds('e2e'), sink.start()]);
  releaseNamespace = await namespace('monitoring');
  await helmDeploy('e2e', 'install', release, releaseNamespace, {
    // The tier's set-up owns the CRDs; the integration tier tests the chart's CRD lifecycle.
    crds: { enabled: false },
    leaderElection: { leaseDuration: '6s', renewDeadline: '4s', retryPeriod: '1s' },
    config: {
      'prometheus-url': prometheus.url,
      'poll-interval': '500ms',
      'storm-max-incidents': 100000,
      // One worker, so that a burst of incidents queues up where Prometheus can see it.
      workers: 1,
    },
    // P2 post-mortems (escalated incidents need one) are due at once; P4s breach their SLAs.
    playbook: { P2: { postMortemDue: '1s' }, P4: { response: '3s', resolution: '6s' } },
    serviceMonitor: { enabled: true },
    prometheusRule: { enabled: true },
    grafanaDashboard: { enabled: true },
  });
  const core = kc.makeApiClient(CoreV1Api);
  const secret = await core.readNamespacedSecret({
    name: `${release}-webhook-token`,
    namespace: releaseNamespace,
  });
  token = Buffer.from(secret.data?.token ?? '', 'base64').toString();
  // What the cluster holds, as Prometheus and Grafana would get it.
  const rule = await customObject<{ spec: { groups: { rules: { alert: string; expr: string }[] }[] } }>(
    'prometheusrules',
    'v1',
    'monitoring.coreos.com',
  );
  alerts = rule.spec.groups.flatMap((g) => g.rules);
  writeFileSync(rulesFile, stringify(rule.spec));
  await axios.post(`${prometheus.url}/-/reload`);
  const serviceMonitor = await customObject<{ spec: { endpoints: { port: string }[] } }>(
    'servicemonitors',
    'v1',
    'monitoring.coreos.com',
  );
  expect(serviceMonitor.spec.endpoints.map((e) => e.port)).toEqual(['metrics']);
  const configMap = await core.readNamespacedConfigMap({
    name: `${release}-dashboard`,
    namespace: releaseNamespace,
  });
  dashboard = JSON.parse(configMap.data?.['selfheal.json'] ?? '') as Dashboard;
  selector = `job="${release}",namespace="${releaseNamespace}"`;

  const a = await startChartOperator('e2e', kc, await readDeployment(kc, releaseNamespace, release), {
    name: 'a',
  });
  operators.push(a.operator);
  scrape(a.podName, a.operator);
  await until('Prometheus scraping the leading operator', `selfheal_leader{${selector}} == 1`);
  start = new Date();
});

afterAll(async () => {
  await Promise.all([...operators.map((o) => o.stop()), sink.close()]);
  rmSync(targetsFile, { force: true });
  rmSync(rulesFile, { force: true });
  await axios.post(`${prometheus.url}/-/reload`);
  for (const cleanup of cleanups) await cleanup();
  await helmIn('e2e', ['uninstall', release, '--namespace', releaseNamespace, '--wait']);
  const core = kc.makeApiClient(CoreV1Api);
  await Promise.all(namespaces.map((name) => core.deleteNamespace({ name })));
});

const webhook = () => operators[operators.length - 1]?.webhookUrl ?? '';
let fingerprints = 0;
const alert = (alertname: string, namespace: string): WebhookAlert => ({
  labels: { alertname, namespace },
  fingerprint: (++fingerprints).toString(16).padStart(16, 'e'),
});
const spaced = async (times: number, send: () => Promise<unknown>) => {
  for (let i = 0; i < times; i++) {
    await send();
    await new Promise((resolve) => setTimeout(resolve, 1_200));
  }
};

async function patchSpec(kcx: KubeConfig, namespace: string, name: string, spec: object): Promise<void> {
  await kcx
    .makeApiClient(CustomObjectsApi)
    .patchNamespacedCustomObject(
      { group: GROUP, version: VERSION, namespace, plural: 'incidents', name, body: { spec } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
}

describe('incidents flow while Prometheus scrapes the operator', () => {
  it('remediates and verifies, by hand and from alerts', async () => {
    const ns = await namespace('monitoring-fixed');
    const incidents = new IncidentClient(kc, ns);
    await Promise.all(['api', 'web', 'db'].map((d) => incidents.deployment(d)));
    for (const name of ['api', 'web']) {
      await incidents.create(`${name}-slow`, {
        target: { kind: 'Deployment', name },
        actions: [{ type: 'rolloutRestart' }],
      });
      await incidents.waitForPhase(`${name}-slow`, 'Resolved');
    }
    await createPolicy(kc, ns, 'db-down', {
      match: { alertName: 'MonitoredDbDown' },
      target: { kind: 'Deployment', name: 'db' },
      actions: [{ type: 'rolloutRestart' }],
    });
    const fired = await eventually('the policy in the cache', async () => {
      const answer = await postAlerts(webhook(), [alert('MonitoredDbDown', ns)], { token });
      return answer.body.alerts?.[0]?.result === 'created' && (answer.body.alerts[0].incident ?? '');
    });
    await incidents.waitForPhase(fired, 'Resolved');
    // No policy matches this one: counted.
    expect(
      (await postAlerts(webhook(), [alert('NobodyWatchesThis', ns)], { token })).body.alerts?.[0]?.result,
    ).toBe('unmatched');
  });

  it('escalates and notifies, is acknowledged and resolved by people, post-mortems fall overdue; unacknowledged P4s breach their SLAs', async () => {
    const ns = await namespace('monitoring-people');
    const incidents = new IncidentClient(kc, ns);
    // An opted-out workload: every incident about it escalates at once.
    await incidents.deployment('legacy', 1, { 'selfheal.dev/disabled': 'true' });
    const target = { kind: 'Deployment' as const, name: 'legacy' };
    await kc.makeApiClient(CoreV1Api).createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: 'team-hook' }, stringData: { url: sink.endpoint('team') } },
    });
    // The team's webhook is delivered to; the Slack channel's Secret was never created.
    const escalation = {
      levels: [
        {
          after: '0s',
          receivers: [
            { name: 'team-hook', type: 'webhook' as const, secretRef: { name: 'team-hook', key: 'url' } },
            { name: 'channel', type: 'slack' as const, secretRef: { name: 'slack', key: 'webhook-url' } },
          ],
        },
      ],
    };
    for (const name of ['legacy-a', 'legacy-b']) {
      await incidents.create(name, { target, escalation, actions: [{ type: 'rolloutRestart' }] });
      await incidents.waitForPhase(name, 'Escalated');
      await patchSpec(kc, ns, name, { acknowledgedBy: 'alice' });
      await incidents.waitForPhase(name, 'Acknowledged');
      await patchSpec(kc, ns, name, { resolution: { resolvedBy: 'alice', note: 'rolled back' } });
      await incidents.waitForPhase(name, 'Resolved');
    }
    for (const name of ['legacy-a', 'legacy-b']) {
      const settled = await incidents.waitFor(
        name,
        'every notification settled, the post-mortem overdue',
        (i) =>
          Boolean(
            i.status?.notifications?.length &&
            i.status.notifications.every((n) => n.state !== 'Pending') &&
            i.status.conditions?.some((c) => c.type === 'PostMortemOverdue' && c.status === 'True'),
          ),
      );
      expect(settled.status?.notifications?.map((n) => [n.receiver, n.event, n.state]).sort()).toEqual([
        ['channel', 'trigger', 'Failed'],
        ['team-hook', 'acknowledge', 'Delivered'],
        ['team-hook', 'resolve', 'Delivered'],
        ['team-hook', 'trigger', 'Delivered'],
      ]);
    }
    expect(sink.invalid).toEqual([]);
    for (const name of ['legacy-a', 'legacy-b'])
      expect(
        sink
          .deliveries('team')
          .filter((d) => (d.body.incident as { name?: string }).name === name)
          .map((d) => d.event),
      ).toEqual(['trigger', 'acknowledge', 'resolve']);
    await until(
      'failed slack deliveries in Prometheus',
      `sum(selfheal_notifications_total{${selector},receiver_type="slack",result="failed"}) >= 2`,
    );
    await until(
      'two post-mortems overdue in Prometheus',
      `max(selfheal_postmortems_overdue{${selector}}) >= 2`,
    );
    for (const name of ['legacy-p4-a', 'legacy-p4-b']) {
      await incidents.create(name, { severity: 'P4', target, actions: [{ type: 'rolloutRestart' }] });
    }
    for (const name of ['legacy-p4-a', 'legacy-p4-b'])
      await incidents.waitFor(name, 'resolution SLA breached', (i) =>
        Boolean(i.status?.conditions?.some((c) => c.type === 'ResolutionSLABreached' && c.status === 'True')),
      );
  });

  it('keeps failing to reconcile an incident whose restart an admission policy refuses', async () => {
    const ns = await namespace('monitoring-frozen');
    cleanups.push(
      await denyInNamespace(kc, `selfheal-e2e-frozen-${ns}`, ns, {
        rules: [
          { apiGroups: ['apps'], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['deployments'] },
        ],
        expression:
          "!has(object.spec.template.metadata.annotations) || !('kubectl.kubernetes.io/restartedAt' in object.spec.template.metadata.annotations)",
        message: 'restarts are frozen here (selfheal e2e)',
        reason: 'Invalid',
      }),
    );
    const incidents = new IncidentClient(kc, ns);
    await incidents.deployment('frozen');
    // The API server picks the policy up within a moment: a restart tried with dryRun must be refused.
    const apps = kc.makeApiClient(AppsV1Api);
    const restart = {
      spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': 'probe' } } } },
    };
    await eventually('the admission policy in force', () =>
      apps
        .patchNamespacedDeployment(
          { name: 'frozen', namespace: ns, body: restart, dryRun: 'All' },
          setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
        )
        .then(
          () => false,
          (error: unknown) => error instanceof ApiException && error.code === 422,
        ),
    );
    await incidents.create('frozen-slow', {
      target: { kind: 'Deployment', name: 'frozen' },
      actions: [{ type: 'rolloutRestart' }],
    });
    await until(
      'reconcile errors in Prometheus',
      `increase(selfheal_reconcile_duration_seconds_count{${selector},result="error"}[1m]) > 0`,
    );
  });

  it('answers the webhook with 4xx for bad requests, 5xx when Incidents cannot be written, and slowly when writes are slow', async () => {
    const refused = await namespace('monitoring-refused');
    const slow = await namespace('monitoring-slow');
    cleanups.push(
      await denyInNamespace(kc, `selfheal-e2e-refused-${refused}`, refused, {
        rules: [{ apiGroups: [GROUP], apiVersions: ['*'], operations: ['CREATE'], resources: ['incidents'] }],
        expression: 'false',
        message: 'no incidents here (selfheal e2e)',
        reason: 'Forbidden',
      }),
    );
    const admission = new SlowAdmissionWebhook(1_500);
    cleanups.push(await admission.register(kc, `selfheal-e2e-slow-${slow}`, slow));
    for (const ns of [refused, slow])
      await createPolicy(kc, ns, 'app-down', {
        match: { alertName: 'MonitoredAppDown' },
        target: { kind: 'Deployment', name: 'app' },
        actions: [{ type: 'rolloutRestart' }],
      });
    // Time for the policies to reach the cache.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await Promise.all([
      spaced(4, async () =>
        expect((await postAlerts(webhook(), [alert('MonitoredAppDown', refused)])).status).toBe(401),
      ),
      spaced(4, async () =>
        expect((await postAlerts(webhook(), [alert('MonitoredAppDown', refused)], { token })).status).toBe(
          503,
        ),
      ),
      spaced(4, async () =>
        expect((await postAlerts(webhook(), [alert('MonitoredAppDown', slow)], { token })).status).toBe(200),
      ),
    ]);
    expect(admission.reviewed.length).toBeGreaterThanOrEqual(4);
  });

  it('queues a burst of incidents', async () => {
    const ns = await namespace('monitoring-burst');
    const incidents = new IncidentClient(kc, ns);
    await incidents.deployment('legacy', 1, { 'selfheal.dev/disabled': 'true' });
    const names = Array.from({ length: 120 }, (_, i) => `burst-${i}`);
    for (let i = 0; i < names.length; i += 20)
      await Promise.all(
        names.slice(i, i + 20).map((name) =>
          incidents.create(name, {
            severity: 'P3',
            target: { kind: 'Deployment', name: 'legacy' },
            actions: [{ type: 'rolloutRestart' }],
          }),
        ),
      );
    await until(
      'a work-queue backlog in Prometheus',
      `max_over_time(selfheal_workqueue_depth{${selector}}[1m]) > 0`,
    );
    await eventually('the burst handled', async () => {
      const list = (await kc.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: ns,
        plural: 'incidents',
      })) as {
        items: { status?: { phase?: string } }[];
      };
      return list.items.every((i) => i.status?.phase === 'Escalated');
    });
  });

  it('fails over to a second replica, then loses every replica', async () => {
    const b = await startChartOperator('e2e', kc, await readDeployment(kc, releaseNamespace, release), {
      name: 'b',
    });
    operators.push(b.operator);
    scrape(b.podName, b.operator);
    await until(
      'Prometheus scraping the second replica',
      `count(selfheal_leader{${selector}}) == 2`,
      (v) => v.length === 1,
    );
    allUp = new Date();
    // The leader dies without handing the Lease back: nobody leads until it expires.
    operators[0]?.kill();
    await until('no leader in Prometheus', `max(selfheal_leader{${selector}}) == 0`);
    await until('the second replica leading', `max(selfheal_leader{${selector}}) == 1`);
    await b.operator.stop();
    await until('no replica up in Prometheus', `sum(up{${selector}}) == 0`);
    // Past the next step of a 1 s range query, so that the range's last step sees it too.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    end = new Date();
  });
});

describe('every dashboard panel and every alert, evaluated against Prometheus', () => {
  const grafana = (expr: string, range: string) =>
    expr
      .replaceAll('$namespace', releaseNamespace)
      .replaceAll('$pod', '.*')
      .replaceAll('$__rate_interval', '1m')
      .replaceAll('$__range', range);

  it('fills the variables: namespace and pod', async () => {
    expect(await prom.labelValues('namespace', 'selfheal_leader', start, end)).toContain(releaseNamespace);
    expect(
      (await prom.labelValues('pod', `selfheal_leader{namespace="${releaseNamespace}"}`, start, end)).length,
    ).toBe(2);
  });

  it('returns data for every panel query', async () => {
    const empty: string[] = [];
    const range = `${Math.ceil((allUp.getTime() - start.getTime()) / 1000)}s`;
    for (const q of dashboardQueries(dashboard)) {
      const expr = grafana(q.expr, range);
      const series = q.instant ? await prom.query(expr, allUp) : await prom.queryRange(expr, start, end, 2);
      if (finiteSamples(series).length === 0) empty.push(`${q.panel}: ${expr}`);
    }
    expect(empty).toEqual([]);
  });

  it('makes every alert expression true at some point, and Prometheus evaluates every rule without error', async () => {
    expect(alerts.length).toBeGreaterThan(0);
    const silent: string[] = [];
    for (const { alert: name, expr } of alerts) {
      if (finiteSamples(await prom.queryRange(expr, start, end, 1)).length === 0)
        silent.push(`${name}: ${expr}`);
    }
    expect(silent).toEqual([]);
    const rules = (await prom.rules()).groups.filter((g) => g.name === 'selfheal').flatMap((g) => g.rules);
    expect(rules.map((r) => r.name).sort()).toEqual(alerts.map((a) => a.alert).sort());
    for (const r of rules)
      expect({ rule: r.name, health: r.health, error: r.lastError ?? '' }).toEqual({
        rule: r.name,
        health: 'ok',
        error: '',
      });
    // Prometheus' own rule evaluation saw each condition too: every alert went pending (or fired).
    const expected = alerts.map((a) => a.alert).sort();
    let seen: string[] = [];
    await eventually(
      `ALERTS for ${expected.join(', ')}`,
      async () => {
        const series = await prom.queryRange(
          `count by (alertname) (ALERTS{namespace="${releaseNamespace}"})`,
          start,
          new Date(),
          1,
        );
        seen = series.map((s) => s.metric.alertname ?? '').sort();
        return seen.join() === expected.join();
      },
      { timeoutMs: 15_000, intervalMs: 1_000 },
    ).catch(() => undefined);
    expect(seen).toEqual(expected);
  });
});
