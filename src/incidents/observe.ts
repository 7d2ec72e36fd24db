// What the reconciler looks at before deciding: the policy, the target workload and its namespace
// (read live from the API server), and, from the cache, what other incidents did to the same target.
import type { ObjectCache } from '@kubernetes/client-node';
import type { Incident } from '../api/incident.ts';
import type { RemediationPolicy } from '../api/policy.ts';
import type { WorkloadClient } from '../actions/workloads.ts';
import type { PromQL } from '../verify/prometheus.ts';
import {
  remediationOf,
  type Observations,
  type PromQLObservation,
  type TargetObservation,
} from './decide.ts';
import type { IncidentSettings } from './settings.ts';
import { errorMessage } from '../telemetry/logger.ts';

/** Phases in which the decision reads the target workload; the others never touch it. */
const TARGET_PHASES = new Set([undefined, 'Open', 'Remediating']);

export interface ObserveDeps {
  incidents: ObjectCache<Incident>;
  policies: ObjectCache<RemediationPolicy>;
  workloads: WorkloadClient;
  settings: IncidentSettings;
  /** Undefined when no Prometheus is configured: a PromQL verification then says so. */
  prometheus?: PromQL;
}

async function checkPromQL(expression: string, prometheus: PromQL | undefined): Promise<PromQLObservation> {
  if (!prometheus) return { ok: false, error: 'no Prometheus is configured (--prometheus-url)' };
  try {
    return { ok: true, holds: (await prometheus.query(expression)).holds };
  } catch (error) {
    return { ok: false, error: errorMessage(error) };
  }
}

export async function observe(incident: Incident, now: Date, deps: ObserveDeps): Promise<Observations> {
  const namespace = incident.metadata.namespace ?? '';
  const policyRef = incident.spec.policyRef;
  const policy = policyRef ? (deps.policies.get(policyRef.name, namespace) ?? null) : undefined;
  const targetSpec = incident.spec.target;
  let target: TargetObservation | undefined;
  if (targetSpec && TARGET_PHASES.has(incident.status?.phase)) {
    const ref = { namespace, kind: targetSpec.kind, name: targetSpec.name };
    const [workload, namespaceAnnotations] = await Promise.all([
      deps.workloads.read(ref),
      deps.workloads.namespaceAnnotations(namespace),
    ]);
    target = {
      ref,
      ...(workload ? { workload } : {}),
      ...(namespaceAnnotations ? { namespaceAnnotations } : {}),
    };
  } else if (targetSpec) {
    target = { ref: { namespace, kind: targetSpec.kind, name: targetSpec.name } };
  }
  const all = deps.incidents.list();
  const otherAttemptsOnTarget = targetSpec
    ? all
        .filter(
          (other) =>
            other.metadata.namespace === namespace &&
            other.metadata.name !== incident.metadata.name &&
            other.spec.target?.kind === targetSpec.kind &&
            other.spec.target.name === targetSpec.name,
        )
        .flatMap((other) => other.status?.attempts ?? [])
        .filter((a) => a.result !== 'Refused')
        .map((a) => new Date(a.startedAt))
    : [];
  const windowStart = now.getTime() - deps.settings.storm.windowMs;
  const openedAt = (i: Incident) =>
    new Date(i.status?.openedAt ?? i.metadata.creationTimestamp ?? now).getTime();
  const incidentsInStormWindow = all.filter((i) => openedAt(i) >= windowStart).length;
  const promQL =
    incident.status?.phase === 'Verifying'
      ? remediationOf(incident, policy, deps.settings)?.verification?.promQL
      : undefined;
  return {
    now,
    ...(promQL ? { promQL: await checkPromQL(promQL, deps.prometheus) } : {}),
    ...(policy !== undefined ? { policy } : {}),
    ...(target ? { target } : {}),
    otherAttemptsOnTarget,
    incidentsInStormWindow,
  };
}
