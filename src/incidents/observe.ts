// What the reconciler looks at before deciding, all from informer caches (reads follow changes, not
// time): the policy, the target workload and its namespace, the claim on the workload judged against
// its claimant's status, the incident this one follows, what other incidents did to the same target,
// the storm window and the pause. Only a PromQL check goes out, to Prometheus, while it matters.
import type { ObjectCache } from '@kubernetes/client-node';
import type { Incident } from '../api/incident.ts';
import type { RemediationPolicy } from '../api/policy.ts';
import type { ActionJobs, JobView } from '../actions/action.ts';
import { claimOf } from '../actions/claim.ts';
import { parseDuration } from '../api/durations.ts';
import type { HttpCheck } from '../api/remediation.ts';
import type { HttpObservation } from '../verify/http.ts';
import type { TargetRef, Workload, WorkloadCache } from '../actions/workload.ts';
import type { PromQL } from '../verify/prometheus.ts';
import { rolloutState } from '../verify/rollout.ts';
import { errorMessage } from '../telemetry/logger.ts';
import type { IncidentCache } from './cache.ts';
import {
  markerFor,
  remediationOf,
  type ClaimObservation,
  type Observations,
  type PauseObservation,
  type PromQLObservation,
} from './decide/index.ts';
import type { IncidentSettings } from './settings.ts';

/** Namespaces as the informer holds them: their annotations carry the per-namespace opt-out. */
export interface NamespaceCache {
  /** The namespace's annotations, or undefined when it does not exist. */
  annotations(namespace: string): Record<string, string> | undefined;
}

export interface ObserveDeps {
  incidents: IncidentCache;
  policies: ObjectCache<RemediationPolicy>;
  workloads: WorkloadCache;
  namespaces: NamespaceCache;
  pause: () => PauseObservation | undefined;
  settings: IncidentSettings;
  /** Undefined when no Prometheus is configured: a PromQL verification then says so. */
  prometheus?: PromQL;
  /** The leader's background jobs (queue actions). */
  jobs?: ActionJobs;
  /** Runs a verification's HTTP health check. */
  health?: { check(check: HttpCheck, namespace: string, timeoutMs: number): Promise<HttpObservation> };
}

async function checkPromQL(expression: string, prometheus: PromQL | undefined): Promise<PromQLObservation> {
  if (!prometheus) return { ok: false, error: 'no Prometheus is configured (--prometheus-url)' };
  try {
    return { ok: true, holds: (await prometheus.query(expression)).holds };
  } catch (error) {
    return { ok: false, error: errorMessage(error) };
  }
}

/** The claim on the workload: binding while the claimant's attempt runs and the claim has not expired. */
export function observeClaim(
  incident: Incident,
  workload: Workload | undefined,
  incidents: IncidentCache,
  now: Date,
): ClaimObservation | undefined {
  const claim = workload && claimOf(workload);
  if (!claim) return undefined;
  const claimant = incidents.get(claim.incident, incident.metadata.namespace ?? '');
  const running =
    claimant?.metadata.uid === claim.uid &&
    (claimant.status?.attempts ?? []).some((a) => a.id === claim.attempt && a.result === 'Running');
  return {
    claim,
    own: claim.uid === incident.metadata.uid,
    live: running && new Date(claim.expiresAt) > now,
  };
}

/** Whether the verification's checks are needed in this pass (verifying, or about to). */
function needsVerificationChecks(
  incident: Incident,
  workload: Workload | undefined,
  job: JobView | undefined,
): boolean {
  const phase = incident.status?.phase;
  if (phase === 'Verifying') return true;
  // The pass that completes the attempt also starts verification: check now, so that one write
  // records both.
  const running = incident.status?.attempts?.find((a) => a.result === 'Running');
  if (phase !== 'Remediating' || running?.appliedAt === undefined || workload === undefined) return false;
  return job ? job.state === 'succeeded' : rolloutState(workload).state === 'complete';
}

export async function observe(incident: Incident, now: Date, deps: ObserveDeps): Promise<Observations> {
  const namespace = incident.metadata.namespace ?? '';
  const policyRef = incident.spec.policyRef;
  const policy = policyRef ? (deps.policies.get(policyRef.name, namespace) ?? null) : undefined;
  const targetSpec = incident.spec.target;
  const ref: TargetRef | undefined = targetSpec
    ? { namespace, kind: targetSpec.kind, name: targetSpec.name }
    : undefined;
  const workload = ref ? deps.workloads.get(ref) : undefined;
  const namespaceAnnotations = ref ? deps.namespaces.annotations(namespace) : undefined;
  const otherAttemptsOnTarget = ref
    ? deps.incidents
        .byTarget(ref)
        .filter((other) => other.metadata.uid !== incident.metadata.uid)
        .flatMap((other) => other.status?.attempts ?? [])
        .filter((a) => a.result !== 'Refused')
        .map((a) => new Date(a.startedAt))
    : [];
  const following = incident.status?.following;
  const claim = observeClaim(incident, workload, deps.incidents, now);
  const pause = deps.pause();
  const running = incident.status?.attempts?.find((a) => a.result === 'Running');
  const marker = running ? markerFor(incident, running.id) : undefined;
  const job = marker ? deps.jobs?.view(marker) : undefined;
  const verification = needsVerificationChecks(incident, workload, job)
    ? remediationOf(incident, policy, deps.settings)?.verification
    : undefined;
  const promQL = verification?.promQL;
  const httpCheck = verification?.http;
  const http =
    httpCheck && deps.health
      ? await deps.health.check(httpCheck, namespace, parseDuration(httpCheck.timeout))
      : undefined;
  return {
    now,
    ...(policy !== undefined ? { policy } : {}),
    ...(ref
      ? {
          target: {
            ref,
            ...(workload ? { workload } : {}),
            ...(namespaceAnnotations ? { namespaceAnnotations } : {}),
          },
        }
      : {}),
    ...(claim ? { claim } : {}),
    ...(following ? { followed: deps.incidents.get(following.incident, namespace) ?? null } : {}),
    ...(pause ? { pause } : {}),
    ...(promQL ? { promQL: await checkPromQL(promQL, deps.prometheus) } : {}),
    ...(job ? { job } : {}),
    ...(http ? { http } : {}),
    otherAttemptsOnTarget,
    incidentsInStormWindow: deps.incidents.openedSince(
      new Date(now.getTime() - deps.settings.storm.windowMs),
    ),
  };
}
