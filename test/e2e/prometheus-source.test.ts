import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api } from '@kubernetes/client-node';
import axios from 'axios';
import { eventually } from '../../hack/localenv/wait.ts';
import {
  ALERT_NAME,
  alertOnUnhealthyWorkloads,
  createPolicy,
  firstIncident,
  listIncidents,
  restartPolicy,
} from '../support/alerting.ts';
import { WorkloadExporter } from '../support/exporter.ts';
import { condition, IncidentClient } from '../support/incidents.ts';
import { createTestNamespace, kubeConfigFor } from '../support/kube.ts';
import { OperatorProcess } from '../support/operator.ts';
import { started, testEnv } from '../support/tiers.ts';

// Prometheus as a source without Alertmanager: the operator polls /api/v1/alerts itself; the alert
// goes through the same intake, and the copy Alertmanager holds of the same alert is a duplicate.
const env = testEnv('e2e');
const kc = kubeConfigFor('e2e');
const exporter = new WorkloadExporter(kc);
const namespaces: string[] = [];
let operator: OperatorProcess;

const prometheus = started(env.prometheus, 'Prometheus');
const alertmanager = started(env.alertmanager, 'Alertmanager');

beforeAll(async () => {
  await alertOnUnhealthyWorkloads(prometheus, exporter);
  const leaseNamespace = await createTestNamespace(kc, 'poller-operator');
  namespaces.push(leaseNamespace);
  operator = await OperatorProcess.start('e2e', {
    name: 'poller',
    args: [
      `--namespace=${leaseNamespace}`,
      `--prometheus-url=${prometheus.url}`,
      '--prometheus-alerts-interval=1s',
      '--poll-interval=500ms',
      '--storm-max-incidents=1000',
    ],
  });
});
afterAll(async () => {
  await operator.stop();
  await exporter.stop();
  const core = kc.makeApiClient(CoreV1Api);
  await Promise.all(namespaces.map((name) => core.deleteNamespace({ name })));
});

interface AlertmanagerAlert {
  labels: Record<string, string>;
  fingerprint: string;
  startsAt: string;
}

describe('Prometheus polled directly', () => {
  it('raises the incident, remediates it, sees the alert go and verifies', async () => {
    const namespace = await createTestNamespace(kc, 'poller');
    namespaces.push(namespace);
    const incidents = new IncidentClient(kc, namespace);
    await incidents.deployment('api');
    await restartPolicy(kc, namespace);
    await exporter.breakDeployment(namespace, 'api');

    const raised = await firstIncident(kc, namespace);
    expect(raised.spec.source).toMatchObject({
      type: 'prometheus',
      alertName: ALERT_NAME,
      labels: { namespace, deployment: 'api' },
    });

    // Alertmanager got the same alert from Prometheus: its fingerprint is the poller's, and the
    // webhook delivery of that copy (another start time) is a duplicate of the open incident.
    const copy = await eventually('the alert in Alertmanager', async () => {
      const { data } = await axios.get<AlertmanagerAlert[]>(`${alertmanager.url}/api/v2/alerts`, {
        params: { filter: [`alertname="${ALERT_NAME}"`, `namespace="${namespace}"`] },
        paramsSerializer: { indexes: null },
      });
      return data[0];
    });
    expect(copy.fingerprint).toBe(raised.spec.source.fingerprint);
    const delivery = await fetch(operator.webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        version: '4',
        status: 'firing',
        alerts: [
          {
            status: 'firing',
            labels: copy.labels,
            annotations: {},
            startsAt: copy.startsAt,
            fingerprint: copy.fingerprint,
          },
        ],
      }),
    });
    expect(((await delivery.json()) as { alerts: { result: string }[] }).alerts[0]?.result).toBe('duplicate');

    const resolved = await incidents.waitForPhase(raised.metadata.name ?? '', 'Resolved', 90_000);
    expect(condition(resolved, 'Verified')).toMatchObject({ status: 'True', reason: 'VerificationPassed' });
    expect(resolved.status?.signal?.state).toBe('Cleared');
    expect(await incidents.templateRevisions('api')).toBe(2);
    expect(await listIncidents(kc, namespace)).toHaveLength(1);
  });
});

describe('Prometheus polled across an operator restart', () => {
  it('sees an alert that stopped firing while no operator ran as resolved, from the incidents themselves', async () => {
    const namespace = await createTestNamespace(kc, 'poller-gap');
    namespaces.push(namespace);
    const incidents = new IncidentClient(kc, namespace);
    await incidents.deployment('api');
    // A dry run: the incident escalates and stays open while its alert is watched.
    await createPolicy(kc, namespace, 'watch-only', {
      match: { alertName: ALERT_NAME },
      target: { kind: 'Deployment', nameFromLabel: 'deployment', selector: { matchLabels: { app: 'api' } } },
      actions: [{ type: 'rolloutRestart' }],
      dryRun: true,
    });
    await exporter.breakDeployment(namespace, 'api', { heals: false });
    const raised = await firstIncident(kc, namespace);
    const name = raised.metadata.name ?? '';
    await incidents.waitForPhase(name, 'Escalated', 30_000);

    operator.kill();
    await eventually('the operator to die', () => !operator.running);
    exporter.heal(namespace, 'api');
    await eventually(
      'Prometheus to stop firing the alert',
      async () => {
        const { data } = await axios.get<{ data: { alerts: { labels: Record<string, string> }[] } }>(
          `${prometheus.url}/api/v1/alerts`,
        );
        return !data.data.alerts.some((a) => a.labels.namespace === namespace);
      },
      { timeoutMs: 30_000 },
    );
    await operator.restart();
    const cleared = await incidents.waitFor(
      name,
      'the signal cleared',
      (i) => i.status?.signal?.state === 'Cleared',
      30_000,
    );
    expect(cleared.metadata.annotations?.['selfheal.dev/signal-cleared-at']).toBeDefined();
  });
});
