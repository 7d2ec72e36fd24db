import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import axios from 'axios';
import { stopApiServer } from '../../hack/localenv/controlplane.ts';
import { alertmanagerConfig } from '../../hack/localenv/services.ts';
import { eventually } from '../../hack/localenv/wait.ts';
import { GROUP, VERSION } from '../../src/api/group.ts';
import type { Incident } from '../../src/api/incident.ts';
import type { Verification } from '../../src/api/remediation.ts';
import {
  alertOnUnhealthyWorkloads,
  firstIncident,
  listIncidents,
  restartPolicy,
} from '../support/alerting.ts';
import { WorkloadExporter } from '../support/exporter.ts';
import { condition, IncidentClient } from '../support/incidents.ts';
import { createTestNamespace, kubeConfigFor } from '../support/kube.ts';
import { OperatorProcess } from '../support/operator.ts';
import { started, testEnv, tierStateDir } from '../support/tiers.ts';

// The whole path with real peers: a stand-in exporter → Prometheus (a real alerting rule) →
// Alertmanager (a real route, a bearer token) → the operator's webhook → an Incident under the
// namespace's RemediationPolicy → a real restart → verified by the alert resolving and PromQL.
const env = testEnv('e2e');
const kc = kubeConfigFor('e2e');
const prometheus = started(env.prometheus, 'Prometheus');
const alertmanager = started(env.alertmanager, 'Alertmanager');
const token = 'e2e-webhook-token-0123456789';
const tokenFile = join(mkdtempSync(join(tmpdir(), 'selfheal-token-')), 'token');
writeFileSync(tokenFile, `${token}\n`);
const exporter = new WorkloadExporter(kc);
const namespaces: string[] = [];
let operator: OperatorProcess;

beforeAll(async () => {
  await alertOnUnhealthyWorkloads(prometheus, exporter);
  const leaseNamespace = await createTestNamespace(kc, 'alerts-operator');
  namespaces.push(leaseNamespace);
  operator = await OperatorProcess.start('e2e', {
    args: [
      `--namespace=${leaseNamespace}`,
      `--webhook-token-file=${tokenFile}`,
      `--prometheus-url=${prometheus.url}`,
      '--webhook-max-body=65536',
      '--poll-interval=500ms',
      '--storm-max-incidents=1000',
    ],
  });
  writeFileSync(
    alertmanager.configFile,
    alertmanagerConfig(operator.webhookUrl, {
      http_config: { authorization: { type: 'Bearer', credentials_file: tokenFile } },
    }),
  );
  await axios.post(`${alertmanager.url}/-/reload`);
});

afterAll(async () => {
  await operator.stop();
  await exporter.stop();
  const core = kc.makeApiClient(CoreV1Api);
  await Promise.all(namespaces.map((name) => core.deleteNamespace({ name })));
});

/** A namespace with a Deployment `api` and a policy that restarts it when WorkloadUnhealthy fires. */
async function scenario(prefix: string, verification: Partial<Verification>): Promise<IncidentClient> {
  const namespace = await createTestNamespace(kc, prefix);
  namespaces.push(namespace);
  const incidents = new IncidentClient(kc, namespace);
  await incidents.deployment('api');
  await restartPolicy(kc, namespace, verification);
  return incidents;
}

async function onlyIncident(incidents: IncidentClient): Promise<Incident> {
  const list = await listIncidents(kc, incidents.namespace);
  expect(list.map((i) => i.metadata.name)).toHaveLength(1);
  return list[0] as Incident;
}

const waitForIncident = (incidents: IncidentClient) => firstIncident(kc, incidents.namespace);

/** The webhook payload Alertmanager would send for this incident's alert. */
function payloadFor(incident: Incident, status: 'firing' | 'resolved' = 'firing') {
  const source = incident.spec.source;
  return {
    version: '4',
    status,
    receiver: 'selfheal',
    groupLabels: { alertname: source.alertName },
    commonLabels: source.labels,
    commonAnnotations: {},
    externalURL: alertmanager.url,
    groupKey: '{}:{alertname="WorkloadUnhealthy"}',
    truncatedAlerts: 0,
    alerts: [
      {
        status,
        labels: source.labels,
        annotations: {},
        startsAt: source.startsAt,
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: '',
        fingerprint: source.fingerprint,
      },
    ],
  };
}

const post = (body: unknown, headers: Record<string, string> = {}) =>
  axios.post(operator.webhookUrl, body, {
    headers: { authorization: `Bearer ${token}`, ...headers },
    validateStatus: () => true,
  });

describe('an alert routed by Alertmanager', () => {
  it('becomes one Incident and one restart, verified by the alert resolving and PromQL, despite duplicates', async () => {
    const incidents = await scenario('alert-fixed', {});
    await exporter.breakDeployment(incidents.namespace, 'api');
    const raised = await waitForIncident(incidents);
    expect(raised.spec).toMatchObject({
      severity: 'P2',
      title: `api in ${incidents.namespace} is unhealthy`,
      target: { kind: 'Deployment', name: 'api' },
      policyRef: { name: 'restart-unhealthy' },
      source: {
        type: 'alertmanager',
        alertName: 'WorkloadUnhealthy',
        fingerprint: expect.stringMatching(/^[0-9a-f]{16}$/),
      },
    });

    // Alertmanager HA and retries: the same alert three more times, straight to the webhook.
    const duplicates = await Promise.all([1, 2, 3].map(() => post(payloadFor(raised))));
    for (const answer of duplicates) {
      expect(answer.status).toBe(200);
      expect(answer.data).toMatchObject({
        status: 'accepted',
        alerts: [{ result: 'duplicate', incident: raised.metadata.name }],
      });
    }

    const name = raised.metadata.name ?? '';
    const resolved = await incidents.waitForPhase(name, 'Resolved', 90_000);
    expect(condition(resolved, 'Verified')).toMatchObject({
      status: 'True',
      reason: 'VerificationPassed',
      message: 'the alert resolved and PromQL held for 2s',
    });
    expect(resolved.status?.signal?.state).toBe('Cleared');
    expect(resolved.status?.attempts).toEqual([
      expect.objectContaining({ action: 'rolloutRestart', result: 'Succeeded' }),
    ]);
    expect(exporter.healthy(incidents.namespace, 'api')).toBe(true);
    expect(await incidents.templateRevisions('api')).toBe(2);
    expect((await onlyIncident(incidents)).metadata.name).toBe(name);
    expect(await operator.metric('selfheal_verifications_total{result="passed"}')).toBeGreaterThanOrEqual(1);

    // The same signal right back after the fix: the incident reopens for people, no second restart.
    await exporter.breakDeployment(incidents.namespace, 'api');
    const reopened = await incidents.waitFor(
      name,
      'reopened by the recurrence',
      (i) => i.status?.recurrences === 1 && i.status.phase === 'Escalated',
      60_000,
    );
    expect(condition(reopened, 'Escalated')).toMatchObject({ status: 'True', reason: 'Recurrence' });
    expect(condition(reopened, 'Resolved')).toMatchObject({ status: 'False', reason: 'Recurred' });
    expect(reopened.status?.signal?.state).toBe('Firing');
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(await incidents.templateRevisions('api')).toBe(2);
    expect((await onlyIncident(incidents)).status?.attempts).toHaveLength(1);
  });

  it('escalates with the reason when the restart does not help and verification times out', async () => {
    const incidents = await scenario('alert-stuck', { timeout: '8s' });
    await exporter.breakDeployment(incidents.namespace, 'api', { heals: false });
    const raised = await waitForIncident(incidents);
    const escalated = await incidents.waitForPhase(raised.metadata.name ?? '', 'Escalated', 90_000);
    expect(condition(escalated, 'Escalated')?.reason).toBe('VerificationFailed');
    expect(condition(escalated, 'Verified')).toMatchObject({ status: 'False', reason: 'VerificationFailed' });
    expect(condition(escalated, 'Verified')?.message).toMatch(
      /^verification timed out after 8s: the alert has not resolved; PromQL does not hold/,
    );
    expect(escalated.status?.attempts).toEqual([expect.objectContaining({ result: 'Succeeded' })]);
    expect(await incidents.templateRevisions('api')).toBe(2);
  });
});

describe('the webhook refuses what can never succeed', () => {
  const alert = {
    status: 'firing',
    labels: { alertname: 'Bad', namespace: 'nowhere' },
    annotations: {},
    startsAt: '2026-08-01T10:00:00Z',
    endsAt: '0001-01-01T00:00:00Z',
    fingerprint: 'c1a2b3d4e5f60718',
  };
  const valid = { version: '4', status: 'firing', alerts: [alert] };
  const withAlert = (patch: Record<string, unknown>) => ({ ...valid, alerts: [{ ...alert, ...patch }] });
  const json = (body: unknown) => JSON.stringify(body);
  type Case = [
    string,
    { method?: string; path?: string; headers?: Record<string, string>; body: string },
    number,
    string,
  ];
  const cases: Case[] = [
    ['no token', { headers: { authorization: '' }, body: json(valid) }, 401, 'missing bearer token'],
    [
      'a wrong token',
      { headers: { authorization: 'Bearer not-the-token' }, body: json(valid) },
      401,
      'invalid bearer token',
    ],
    [
      'basic auth instead of a token',
      { headers: { authorization: 'Basic dXNlcjpwYXNz' }, body: json(valid) },
      401,
      'not a bearer token',
    ],
    ['GET instead of POST', { method: 'GET', body: '' }, 405, 'only POST'],
    ['an unknown path', { path: '/webhook/other', body: json(valid) }, 404, '/webhook/alertmanager'],
    [
      'not JSON content',
      { headers: { 'content-type': 'text/plain' }, body: json(valid) },
      415,
      'application/json',
    ],
    ['a body that is not JSON', { body: '{"version": "4", alerts: [' }, 400, 'not valid JSON'],
    ['a JSON array', { body: json([valid]) }, 400, 'body'],
    ['the wrong version', { body: json({ ...valid, version: '3' }) }, 400, 'version'],
    ['no alerts', { body: json({ version: '4', status: 'firing' }) }, 400, 'alerts'],
    ['an empty alert list', { body: json({ ...valid, alerts: [] }) }, 400, 'alerts'],
    ['an oversized body', { body: json({ ...valid, padding: 'x'.repeat(70_000) }) }, 413, 'limit'],
    ['a bad startsAt', { body: json(withAlert({ startsAt: 'yesterday' })) }, 400, 'alerts[0].startsAt'],
    ['a bad endsAt', { body: json(withAlert({ endsAt: '2026-13-01T00:00:00Z' })) }, 400, 'alerts[0].endsAt'],
    [
      'a label value over the limit',
      { body: json(withAlert({ labels: { alertname: 'Bad', big: 'v'.repeat(1025) } })) },
      400,
      'alerts[0].labels.big',
    ],
    [
      'too many labels',
      {
        body: json(
          withAlert({
            labels: Object.fromEntries([
              ['alertname', 'Bad'],
              ...Array.from({ length: 70 }, (_, i) => [`l${i}`, 'v']),
            ]),
          }),
        ),
      },
      400,
      'alerts[0].labels',
    ],
    [
      'an empty label name',
      { body: json(withAlert({ labels: { alertname: 'Bad', '': 'v' } })) },
      400,
      'empty label name',
    ],
    ['no alertname', { body: json(withAlert({ labels: { namespace: 'x' } })) }, 400, 'alertname'],
    ['no fingerprint', { body: json(withAlert({ fingerprint: undefined })) }, 400, 'alerts[0].fingerprint'],
    ['an unknown status', { body: json(withAlert({ status: 'burning' })) }, 400, 'alerts[0].status'],
  ];

  it.each(cases)('refuses %s', async (_what, request, status, message) => {
    const url = new URL(operator.webhookUrl);
    if (request.path) url.pathname = request.path;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      authorization: `Bearer ${token}`,
      ...request.headers,
    };
    if (headers.authorization === '') delete headers.authorization;
    const res = await fetch(url, {
      method: request.method ?? 'POST',
      headers,
      ...(request.method === 'GET' ? {} : { body: request.body }),
    });
    expect(res.status).toBe(status);
    const answer = (await res.json()) as { error: string; details?: string[] };
    expect([answer.error, ...(answer.details ?? [])].join('\n')).toContain(message);
  });

  it('created nothing and stays healthy', async () => {
    const list = (await kc
      .makeApiClient(CustomObjectsApi)
      .listClusterCustomObject({ group: GROUP, version: VERSION, plural: 'incidents' })) as {
      items: Incident[];
    };
    expect(list.items.filter((i) => i.spec.source.alertName === 'Bad')).toEqual([]);
    expect((await operator.get('/healthz')).status).toBe(200);
    expect((await post(valid)).status).toBe(200);
    expect(await operator.metric('selfheal_webhook_requests_total{outcome="unauthorized"}')).toBe(3);
  });
});

describe('an API-server outage', () => {
  it('answers 5xx while the API server is down; Alertmanager retries and the Incident is created after', async () => {
    if (!env.controlPlane)
      throw new Error(
        'this test stops the local API server: it needs the local control plane, not KUBECONFIG',
      );
    const incidents = await scenario('alert-outage', {});
    const restartApiServer = await stopApiServer(tierStateDir('e2e'), env.controlPlane);
    try {
      const labels = {
        alertname: 'WorkloadUnhealthy',
        namespace: incidents.namespace,
        deployment: 'api',
        severity: 'critical',
      };
      await axios.post(`${alertmanager.url}/api/v2/alerts`, [
        { labels, annotations: { summary: 'posted during the outage' }, startsAt: new Date().toISOString() },
      ]);
      await eventually(
        'the webhook to answer 503 to Alertmanager',
        async () =>
          ((await operator.metric('selfheal_webhook_requests_total{outcome="unavailable"}')) ?? 0) >= 1,
        {
          timeoutMs: 30_000,
        },
      );
      const direct = await post({
        version: '4',
        status: 'firing',
        alerts: [
          {
            status: 'firing',
            labels,
            annotations: {},
            startsAt: new Date().toISOString(),
            fingerprint: 'aaaabbbbccccdddd',
          },
        ],
      });
      expect(direct.status).toBe(503);
      expect((direct.data as { error: string }).error).toContain(
        'the API server is unavailable, retry later',
      );
    } finally {
      await restartApiServer();
    }
    const raised = await waitForIncident(incidents);
    expect(raised.spec).toMatchObject({
      severity: 'P1',
      title: 'posted during the outage',
      source: { type: 'alertmanager' },
    });
  });
});
