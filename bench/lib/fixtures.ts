// The objects the scenarios set up, made the way a user's tools make them, and the few readings of
// the operator's process they take (memory from /proc, its own /metrics).
import { readFileSync } from 'node:fs';
import { eventually } from '../../hack/localenv/wait.ts';
import { notification, webhookAlert } from '../../test/support/alerting.ts';
import type { OperatorProcess } from '../../test/support/operator.ts';
import type { BenchEnv } from './env.ts';
import type { HttpClient } from './http.ts';
import { closedLoop } from './load.ts';
import type { DeploymentWatcher } from './watch.ts';

/**
 * Deployments with `replicas: 0`: a restart is a new pod template and a new (empty) ReplicaSet, so
 * neither kwok nor the scheduler has pods to run, and the controller-manager little to do.
 */
export async function createDeployments(
  api: HttpClient,
  namespace: string,
  names: readonly string[],
  { annotations = {} }: { annotations?: Record<string, string> } = {},
): Promise<void> {
  await closedLoop(names.length, 20, async (i) => {
    const name = names[i] ?? '';
    const labels = { app: name };
    await api.json('POST', `/apis/apps/v1/namespaces/${namespace}/deployments`, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, labels, annotations },
      spec: {
        replicas: 0,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: { containers: [{ name: 'app', image: 'registry.invalid/app:1' }] },
        },
      },
    });
  }).then((run) => {
    const failed = run.sent.find((s) => s.error);
    if (failed) throw new Error(`creating Deployments in ${namespace}: ${failed.error ?? ''}`);
  });
}

/** Waits until the deployment controller has caught up with every Deployment's latest template. */
export async function deploymentsSettled(
  watcher: DeploymentWatcher,
  names: readonly string[],
  timeoutMs = 300_000,
): Promise<void> {
  await eventually(`${names.length} Deployments rolled out`, () => watcher.settled(names), {
    timeoutMs,
    intervalMs: 200,
  });
}

export const ALERT_NAME = 'BenchWorkloadUnhealthy';

/** A policy that restarts the Deployment an alert names, with guards that let rounds repeat restarts. */
export async function restartPolicy(
  env: BenchEnv,
  namespace: string,
  {
    name = 'restart',
    alertName = ALERT_NAME,
    verification,
  }: { name?: string; alertName?: string; verification?: unknown } = {},
): Promise<void> {
  await env.api.json('POST', `/apis/selfheal.dev/v1alpha1/namespaces/${namespace}/remediationpolicies`, {
    apiVersion: 'selfheal.dev/v1alpha1',
    kind: 'RemediationPolicy',
    metadata: { name },
    spec: {
      match: { alertName },
      // The bench's Deployments (createDeployments) carry app=<name>: alerts may name any of them.
      target: {
        kind: 'Deployment',
        nameFromLabel: 'deployment',
        selector: { matchExpressions: [{ key: 'app', operator: 'Exists' }] },
      },
      actions: [{ type: 'rolloutRestart' }],
      guards: { maxAttempts: 3, cooldown: '0s', maxPerHour: 100 },
      ...(verification ? { verification } : {}),
    },
  });
  await env.policyReady(namespace, name);
}

/** Alertmanager's webhook notification of one firing alert for a Deployment. */
export function alertFor(
  namespace: string,
  deployment: string,
  extraLabels: Record<string, string> = {},
  { alertName = ALERT_NAME, startsAt = new Date().toISOString() } = {},
): string {
  return JSON.stringify(
    notification([
      webhookAlert(
        { alertname: alertName, namespace, deployment, severity: 'warning', ...extraLabels },
        { startsAt },
      ),
    ]),
  );
}

export interface Memory {
  rssMB: number;
  /** The peak RSS since the process started (VmHWM). */
  peakRssMB: number;
}

/** The process's resident memory from /proc. */
export function memoryOf(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMB: kb('VmRSS') / 1024, peakRssMB: kb('VmHWM') / 1024 };
}

/** The operator's V8 heap and external memory as its /metrics reports them, MB. */
export async function heapOf(
  operator: OperatorProcess,
): Promise<{ heapUsedMB: number; heapTotalMB: number; externalMB: number }> {
  const mb = async (series: string) => ((await operator.metric(series)) ?? NaN) / 2 ** 20;
  return {
    heapUsedMB: await mb('selfheal_nodejs_heap_size_used_bytes'),
    heapTotalMB: await mb('selfheal_nodejs_heap_size_total_bytes'),
    externalMB: await mb('selfheal_nodejs_external_memory_bytes'),
  };
}

export const pad = (i: number, width: number) => String(i).padStart(width, '0');
