// What the reconciler looks at before deciding, all from informer caches (reads follow changes, not
// time): the policy, the target workload and its namespace, the claim on the workload judged against
// its claimant's status, the incident this one follows, what other incidents did to the same target,
// the storm window and the pause. Nothing here goes out: the verification's checks (an HTTP health
// check, a PromQL query) run off the reconcile path, and a pass reads their latest observation.
import type { ObjectCache } from '@kubernetes/client-node';
import type { Incident } from '../api/incident.ts';
import type { RemediationPolicy } from '../api/policy.ts';
import type { ActionJobs, JobView } from '../actions/action.ts';
import { claimOf } from '../actions/claim.ts';
import { parseDuration } from '../api/durations.ts';
import { checkIntervalMs, type HttpCheck } from '../api/remediation.ts';
import type { HttpObservation } from '../verify/http.ts';
import type { CheckProbes, Observed, ProbeSlot } from '../verify/probes.ts';
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
  /** Where verification checks run; undefined: they are not run (they stay "not checked yet"). */
  checks?: VerificationChecks;
}

/** Runs a verification's HTTP health check, within `timeoutMs`, until `signal` aborts. */
export interface HealthChecker {
  check(
    check: HttpCheck,
    namespace: string,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<HttpObservation>;
}

export interface VerificationChecks {
  probes: CheckProbes;
  health: HealthChecker;
  /** The install's ceiling on one HTTP check's timeout (--max-check-timeout): the tenant's may only be lower. */
  maxTimeoutMs: number;
}

/** The verification's HTTP health check, and the same check once when the incident opens (context). */
export const HTTP_CHECK: ProbeSlot<HttpObservation> = { name: 'http' };
export const HTTP_CHECK_AT_OPEN: ProbeSlot<HttpObservation> = { name: 'http-at-open' };
export const PROMQL_CHECK: ProbeSlot<PromQLObservation> = { name: 'promQL' };

/** What makes an HTTP check the same check (its cadence and hold are not part of it). */
export function httpCheckIdentity(check: HttpCheck): string {
  const { url, service, expectedStatus, jsonPath, expectedValue, timeout } = check;
  return JSON.stringify({ url, service, expectedStatus, jsonPath, expectedValue, timeout });
}

/**
 * The latest observation of an incident's HTTP check in `slot` started at or after `since`; starts
 * one (capped by the install's timeout) when none is, or when the latest is `everyMs` old.
 */
export function observeHttpCheck(
  checks: VerificationChecks,
  incident: Incident,
  check: HttpCheck,
  { slot, since, everyMs }: { slot: ProbeSlot<HttpObservation>; since: Date; everyMs: number },
): Observed<HttpObservation> | undefined {
  const namespace = incident.metadata.namespace ?? '';
  const timeoutMs = Math.min(parseDuration(check.timeout), checks.maxTimeoutMs);
  return checks.probes.latest({
    owner: `${namespace}/${incident.metadata.name ?? ''}`,
    namespace,
    slot,
    identity: httpCheckIdentity(check),
    since,
    everyMs,
    run: (signal) => checks.health.check(check, namespace, timeoutMs, signal),
  });
}

async function queryPromQL(expression: string, prometheus: PromQL): Promise<PromQLObservation> {
  try {
    return { ok: true, holds: (await prometheus.query(expression)).holds };
  } catch (error) {
    return { ok: false, error: errorMessage(error) };
  }
}

/** The latest PromQL observation started at or after `since`, queried again every poll interval. */
function observePromQL(
  deps: ObserveDeps,
  incident: Incident,
  expression: string,
  since: Date,
): PromQLObservation | undefined {
  const { prometheus, checks } = deps;
  if (!prometheus) return { ok: false, error: 'no Prometheus is configured (--prometheus-url)' };
  const namespace = incident.metadata.namespace ?? '';
  return checks?.probes.latest({
    owner: `${namespace}/${incident.metadata.name ?? ''}`,
    namespace,
    slot: PROMQL_CHECK,
    identity: expression,
    since,
    everyMs: deps.settings.pollIntervalMs,
    // Prometheus is the install's, with the install's request timeout; the expression is the tenant's.
    run: () => queryPromQL(expression, prometheus),
  })?.value;
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

export function observe(incident: Incident, now: Date, deps: ObserveDeps): Observations {
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
  // Only what was observed after the verified attempt's action was applied counts.
  const verified = running ?? incident.status?.attempts?.findLast((a) => a.result === 'Succeeded');
  const since = new Date(verified?.appliedAt ?? verified?.startedAt ?? 0);
  const promQL = verification?.promQL ? observePromQL(deps, incident, verification.promQL, since) : undefined;
  const httpCheck = verification?.http;
  const http =
    httpCheck && deps.checks
      ? observeHttpCheck(deps.checks, incident, httpCheck, {
          slot: HTTP_CHECK,
          since,
          everyMs: checkIntervalMs(httpCheck),
        })?.value
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
    ...(promQL ? { promQL } : {}),
    ...(job ? { job } : {}),
    ...(http ? { http } : {}),
    otherAttemptsOnTarget,
    incidentsInStormWindow: deps.incidents.openedSince(
      new Date(now.getTime() - deps.settings.storm.windowMs),
    ),
  };
}
