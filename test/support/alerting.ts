import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import axios from 'axios';
import { stringify } from 'yaml';
import type { PrometheusInfo } from '../../hack/localenv/services.ts';
import { eventually } from '../../hack/localenv/wait.ts';
import { API_VERSION, GROUP, VERSION } from '../../src/api/group.ts';
import type { Incident } from '../../src/api/incident.ts';
import type { Verification } from '../../src/api/remediation.ts';
import type { WorkloadExporter } from './exporter.ts';
import { labelsFingerprint } from '../../src/alerts/identity.ts';

export const ALERT_NAME = 'WorkloadUnhealthy';

/** Points Prometheus at the exporter and loads the alerting rule that fires for a broken workload. */
export async function alertOnUnhealthyWorkloads(
  prometheus: PrometheusInfo,
  exporter: WorkloadExporter,
): Promise<void> {
  const target = await exporter.start();
  writeFileSync(join(prometheus.targetsDir, 'workloads.json'), JSON.stringify([{ targets: [target] }]));
  writeFileSync(
    join(prometheus.rulesDir, 'workloads.yml'),
    stringify({
      groups: [
        {
          name: 'selfheal-e2e',
          interval: '1s',
          rules: [
            {
              alert: ALERT_NAME,
              expr: 'selfheal_test_workload_healthy == 0',
              labels: { severity: 'error' },
              annotations: { summary: '{{ $labels.deployment }} in {{ $labels.namespace }} is unhealthy' },
            },
          ],
        },
      ],
    }),
  );
  await axios.post(`${prometheus.url}/-/reload`);
}

/** Creates a RemediationPolicy as a user would (the API server fills its defaults). */
export async function createPolicy(
  kc: KubeConfig,
  namespace: string,
  name: string,
  spec: Record<string, unknown>,
): Promise<void> {
  await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural: 'remediationpolicies',
    body: { apiVersion: API_VERSION, kind: 'RemediationPolicy', metadata: { name }, spec },
  });
}

/** A policy in `namespace` that restarts the Deployment the alert names, verified by the alert and PromQL. */
export async function restartPolicy(
  kc: KubeConfig,
  namespace: string,
  verification: Partial<Verification> = {},
): Promise<void> {
  await createPolicy(kc, namespace, 'restart-unhealthy', {
    match: { alertName: ALERT_NAME },
    // The alert names the Deployment; the selector says which ones it may name (IncidentClient's are app=<name>).
    target: { kind: 'Deployment', nameFromLabel: 'deployment', selector: { matchLabels: { app: 'api' } } },
    actions: [{ type: 'rolloutRestart' }],
    verification: {
      alertResolved: true,
      promQL: `selfheal_test_workload_healthy{namespace="${namespace}",deployment="api"} == 1`,
      holdFor: '2s',
      timeout: '60s',
      ...verification,
    },
  });
}

export async function listIncidents(kc: KubeConfig, namespace: string): Promise<Incident[]> {
  const list = (await kc
    .makeApiClient(CustomObjectsApi)
    .listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: 'incidents' })) as {
    items: Incident[];
  };
  return list.items;
}

export const firstIncident = (kc: KubeConfig, namespace: string, timeoutMs = 60_000) =>
  eventually(`an incident in ${namespace}`, async () => (await listIncidents(kc, namespace))[0], {
    timeoutMs,
    intervalMs: 250,
  });

/** One alert as Alertmanager's webhook carries it. */
export function webhookAlert(
  labels: Record<string, string>,
  { startsAt = new Date().toISOString(), status = 'firing', fingerprint = '' } = {},
): Record<string, unknown> {
  return {
    status,
    labels,
    annotations: { summary: `${labels.alertname ?? 'alert'} is firing` },
    startsAt,
    endsAt: status === 'firing' ? '0001-01-01T00:00:00Z' : new Date().toISOString(),
    generatorURL: 'http://prometheus.invalid/graph',
    fingerprint: fingerprint || labelsFingerprint(labels),
  };
}

/** An Alertmanager webhook notification (version 4) of these alerts. */
export function notification(alerts: Record<string, unknown>[]): Record<string, unknown> {
  return {
    version: '4',
    groupKey: '{}:{alertname="test"}',
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'selfheal',
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://alertmanager.invalid',
    alerts,
  };
}

export interface WebhookAlert {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  status?: 'firing' | 'resolved';
  fingerprint: string;
  startsAt?: string;
}

export interface WebhookAnswer {
  status: number;
  body: { alerts?: { result: string; incident?: string }[]; error?: string };
}

/** What Alertmanager sends: one version-4 notification with these alerts, to the operator's webhook. */
export async function postAlerts(
  webhookUrl: string,
  alerts: WebhookAlert[],
  { token }: { token?: string } = {},
): Promise<WebhookAnswer> {
  const now = new Date().toISOString();
  const res = await fetch(webhookUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify({
      version: '4',
      status: alerts.some((a) => (a.status ?? 'firing') === 'firing') ? 'firing' : 'resolved',
      alerts: alerts.map(({ labels, annotations = {}, status = 'firing', fingerprint, startsAt = now }) => ({
        status,
        labels,
        annotations,
        startsAt,
        endsAt: status === 'firing' ? '0001-01-01T00:00:00Z' : now,
        fingerprint,
      })),
    }),
  });
  return { status: res.status, body: (await res.json()) as WebhookAnswer['body'] };
}
