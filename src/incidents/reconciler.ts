// The Incident reconciler: read from the cache → observe → decide (pure) → act idempotently →
// write the status (only the difference, only when it changed) → emit the transition Events.
// An effect is carried out only after the status that records its intent is written, in the same
// pass (no round trip through the watch), and lands only on the workload version the decision
// checked; its result is fed back into the decision at once, so the pass ends with the status
// saying what was done.
import { CustomObjectsApi } from '@kubernetes/client-node';
import { GROUP, VERSION } from '../api/group.ts';
import {
  MAX_CONTEXT_FACT_LENGTH,
  MAX_CONTEXT_FACTS,
  type Incident,
  type IncidentStatus,
} from '../api/incident.ts';
import { claimAnnotation } from '../actions/claim.ts';
import {
  describeTarget,
  WorkloadConflictError,
  type Workload,
  type WorkloadWriter,
} from '../actions/workload.ts';
import type { Clock } from '../runtime/clock.ts';
import type { ReconcileResult, Reconciler } from '../runtime/controller.ts';
import type { EventRecorder } from '../runtime/events.ts';
import { splitKey } from '../runtime/informer.ts';
import type { ApiClientFactory } from '../runtime/kube.ts';
import { mergePatch } from '../runtime/mergepatch.ts';
import type { StatusWriter } from '../runtime/status.ts';
import { errorMessage, type Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import {
  decide,
  remediationOf,
  type ActionRegistry,
  type ApplyEffect,
  type Observations,
  type Plan,
} from './decide/index.ts';
import type { ContextReader } from './context.ts';
import type { NotificationDispatcher } from './notify.ts';
import {
  HTTP_CHECK_AT_OPEN,
  httpCheckIdentity,
  observe,
  observeClaim,
  observeHttpCheck,
  type ObserveDeps,
} from './observe.ts';
import type { DraftWriter } from './postmortem.ts';

export type FaultPoint = 'after-intent' | 'after-effect';

export interface IncidentReconcilerDeps extends ObserveDeps {
  /** The leader's fenced writer: it refuses to send once leadership is not certain. */
  workloadWriter: WorkloadWriter;
  status: StatusWriter;
  events: EventRecorder;
  /** Reads an incident straight from the API server, for the rare effect no intent write preceded. */
  readIncident: (namespace: string, name: string) => Promise<Incident>;
  actions: ActionRegistry;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  /** Sends the delivery ledger's due entries; undefined: notifications are recorded, never sent. */
  dispatcher?: NotificationDispatcher;
  /** Gathers what on-call checks first, once, when an incident opens. */
  context?: ContextReader;
  /** Writes the post-mortem draft ConfigMap. */
  drafts?: DraftWriter;
  /** Test hook for crash-safety tests: called at named points; may end the process. */
  faultPoint?: (point: FaultPoint) => void;
}

const STATUS = { group: GROUP, version: VERSION, plural: 'incidents' } as const;
/** Marks the context fact the health check at open adds, so that it is added once. */
const HEALTH_AT_OPEN = 'health check at open: ';

export class IncidentReconciler implements Reconciler {
  private readonly deps: IncidentReconcilerDeps;

  constructor(deps: IncidentReconcilerDeps) {
    this.deps = deps;
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const { namespace, name } = splitKey(key);
    const { deps } = this;
    const cached = deps.incidents.get(name, namespace);
    if (!cached) {
      deps.dispatcher?.forget(key);
      deps.checks?.probes.forget(key);
      // Deleted: its queue jobs end with it (what they had not settled is requeued at the source).
      deps.jobs?.abortOwnedBy(key, 'the incident was deleted');
      return {};
    }
    const log = deps.logger.child({ incident: name, namespace });
    let incident = cached;
    let observations = await this.observe(incident);
    let plan = decide(incident, observations, deps.settings, deps.actions);

    if (plan.effect) {
      const recordsIntent = plan.status.attempts?.some(
        (a) => a.id === plan.effect?.attempt.id && !incident.status?.attempts?.some((b) => b.id === a.id),
      );
      if (mergeWouldChange(incident.status, plan.status)) {
        incident = await this.write(incident, plan, log);
        if (recordsIntent) deps.faultPoint?.('after-intent');
      } else {
        // An attempt recorded earlier whose effect did not happen (a crash, a new leader): make sure
        // the cache is not behind what the API server holds before acting on it.
        const live = await deps.readIncident(namespace, name);
        if (live.metadata.resourceVersion !== incident.metadata.resourceVersion) {
          incident = live;
          observations = await this.observe(incident);
          plan = decide(incident, observations, deps.settings, deps.actions);
        }
      }
      if (plan.effect) {
        const workload = await this.apply(plan.effect, observations, log);
        deps.faultPoint?.('after-effect');
        // Decide again on the workload as written: the attempt is now applied (or, after a conflict,
        // another incident's claim is seen), and this pass's write says so.
        observations = this.withWorkload(incident, observations, workload);
        plan = decide(incident, observations, deps.settings, deps.actions);
      }
    }

    // A draft that cannot be written (quota, admission, RBAC) must not hold back the resolution or
    // its notifications: they are written first, and the pass then fails so that the work queue
    // retries the draft with backoff.
    let draftFailure: Error | undefined;
    if (plan.postMortemDraft && deps.drafts) {
      try {
        const draft = await deps.drafts.create({ ...incident, status: plan.status });
        observations = { ...observations, postMortemDraft: draft };
        plan = decide(incident, observations, deps.settings, deps.actions);
      } catch (error) {
        draftFailure = new Error(`post-mortem draft of ${key}: ${errorMessage(error)}`, { cause: error });
      }
    }

    if (mergeWouldChange(incident.status, plan.status)) incident = await this.write(incident, plan, log);
    // Deliveries only of what the API server holds: every entry sent was recorded first.
    deps.dispatcher?.recorded(incident);
    deps.dispatcher?.dispatch(incident, observations.policy);
    // A queue action's job, once its applied attempt is on the status (idempotent per marker).
    if (plan.job)
      deps.jobs?.start(plan.job.marker, {
        owner: key,
        namespace,
        action: plan.job.action,
        deadline: plan.job.deadline,
      });
    // An attempt this pass ended before its job did (the pause, a person's resolution): as written.
    if (plan.abortJob) {
      log.info({ job: plan.abortJob.marker, reason: plan.abortJob.reason }, 'aborting the queue job');
      deps.jobs?.abort(plan.abortJob.marker, plan.abortJob.reason);
    }
    // A resolved or closed incident checks nothing more (a recurrence repeats no action); a deleted
    // one is forgotten above.
    if (plan.status.phase === 'Resolved' || plan.status.phase === 'Closed') deps.checks?.probes.forget(key);
    if (draftFailure) throw draftFailure;
    return plan.requeueAfterMs !== undefined ? { requeueAfterMs: plan.requeueAfterMs } : {};
  }

  /** What the decision reads: the caches, and what this replica keeps for the next status write. */
  private async observe(incident: Incident): Promise<Observations> {
    const { deps } = this;
    const observations = observe(incident, deps.clock.now(), deps);
    const deliveries = deps.dispatcher?.deliveries(incident);
    const context = await this.openingContext(incident, observations);
    return {
      ...observations,
      ...(deliveries?.size ? { deliveries } : {}),
      ...(context ? { context } : {}),
    };
  }

  /**
   * The playbook's first checks when the incident opens: the target's facts and, when its
   * verification has an HTTP check, how the health endpoint answered then (the service's own view of
   * what is wrong, before any remediation). The check runs off the reconcile path like every other,
   * so the facts are written at once and its answer is added when it arrives: one more write, once.
   * A replica that did not start the check (after a restart) adds no answer taken later.
   */
  private async openingContext(
    incident: Incident,
    observations: Observations,
  ): Promise<string[] | undefined> {
    const { deps } = this;
    const { checks, context: reader } = deps;
    if (!reader || !incident.spec.target) return undefined;
    const check = checks && remediationOf(incident, observations.policy, deps.settings)?.verification?.http;
    const recorded = incident.status?.context;
    if (recorded) {
      if (!check || recorded.some((fact) => fact.startsWith(HEALTH_AT_OPEN))) return undefined;
      const key = `${incident.metadata.namespace ?? ''}/${incident.metadata.name ?? ''}`;
      const answer = checks.probes.peek(key, HTTP_CHECK_AT_OPEN, httpCheckIdentity(check));
      return answer && trimmedContext([...recorded, `${HEALTH_AT_OPEN}${answer.value.message}`]);
    }
    const answer =
      check &&
      observeHttpCheck(checks, incident, check, {
        slot: HTTP_CHECK_AT_OPEN,
        since: new Date(0),
        everyMs: Number.POSITIVE_INFINITY,
      });
    const facts = await reader
      .gather(incident, observations.target?.workload)
      .catch((error: unknown) => [`context unavailable: ${errorMessage(error)}`]);
    // Room for the answer, which comes last.
    return trimmedContext([
      ...facts.slice(0, check ? MAX_CONTEXT_FACTS - 1 : MAX_CONTEXT_FACTS),
      ...(answer ? [`${HEALTH_AT_OPEN}${answer.value.message}`] : []),
    ]);
  }

  /** The effect, conditioned on the checked version; a conflict yields the workload as it is now. */
  private async apply(
    effect: ApplyEffect,
    observations: Observations,
    log: Logger,
  ): Promise<Workload | undefined> {
    const { deps } = this;
    const target = observations.target;
    const action = deps.actions[effect.attempt.action];
    if (!target || !action) throw new Error(`attempt ${effect.attempt.id} has no target or action to apply`);
    const body = action.effect(effect.intent) as { metadata?: { annotations?: Record<string, string> } };
    const claimed = {
      ...body,
      metadata: {
        ...body.metadata,
        annotations: { ...body.metadata?.annotations, ...claimAnnotation(effect.claim) },
      },
    };
    log.info(
      { attemptId: effect.attempt.id, action: effect.attempt.action, target: describeTarget(target.ref) },
      'acting',
    );
    try {
      return await deps.workloadWriter.patch(target.ref, claimed, effect.resourceVersion);
    } catch (error) {
      if (!(error instanceof WorkloadConflictError)) throw error;
      log.info(
        { target: describeTarget(target.ref) },
        'workload changed since it was checked; deciding again on it',
      );
      return deps.workloadWriter.read(target.ref);
    }
  }

  private withWorkload(
    incident: Incident,
    observations: Observations,
    workload: Workload | undefined,
  ): Observations {
    const target = observations.target;
    if (!target) return observations;
    const { workload: _previous, ...rest } = target;
    const claim = observeClaim(incident, workload, this.deps.incidents, observations.now);
    const { claim: _previousClaim, ...others } = observations;
    return {
      ...others,
      target: { ...rest, ...(workload ? { workload } : {}) },
      ...(claim ? { claim } : {}),
    };
  }

  /** Writes the plan's status and its Events; returns the incident as written. */
  private async write(incident: Incident, plan: Plan, log: Logger): Promise<Incident> {
    const { deps } = this;
    const { namespace = '', name = '', resourceVersion } = incident.metadata;
    const written = await deps.status.write(
      { ...STATUS, namespace, name, resourceVersion },
      incident.status,
      plan.status,
    );
    if (written === undefined) return incident;
    this.recordOutcome(incident, plan, log);
    await Promise.all(plan.events.map((e) => deps.events.record(incident, e.type, e.reason, e.note)));
    return { ...incident, metadata: { ...incident.metadata, resourceVersion: written }, status: plan.status };
  }

  /** Logs and metrics for what changed between the stored status and the written one. */
  private recordOutcome(incident: Incident, plan: Plan, log: Logger): void {
    const { metrics } = this.deps;
    const before: IncidentStatus = incident.status ?? {};
    const after = plan.status;
    const severity = incident.spec.severity;
    for (const attempt of after.attempts ?? []) {
      const old = before.attempts?.find((a) => a.id === attempt.id);
      if (attempt.result !== 'Running' && old?.result !== attempt.result) {
        metrics.remediationAttempts.inc({ action: attempt.action, result: attempt.result });
        if (attempt.finishedAt) {
          const seconds =
            (new Date(attempt.finishedAt).getTime() - new Date(attempt.startedAt).getTime()) / 1000;
          metrics.remediationDuration.observe({ action: attempt.action, result: attempt.result }, seconds);
        }
      }
    }
    const flipped = (type: string, status = 'True') => {
      const now = after.conditions?.find((c) => c.type === type);
      const was = before.conditions?.find((c) => c.type === type);
      return now?.status === status && (was?.status !== status || was.reason !== now.reason)
        ? now
        : undefined;
    };
    const escalated = flipped('Escalated');
    if (escalated) metrics.escalations.inc({ reason: escalated.reason });
    if (flipped('Verified')) metrics.verifications.inc({ result: 'passed' });
    const verificationFailed = flipped('Verified', 'False');
    if (verificationFailed?.reason === 'VerificationFailed') metrics.verifications.inc({ result: 'failed' });
    if (flipped('ResponseSLABreached')) metrics.slaBreaches.inc({ severity, sla: 'response' });
    if (flipped('ResolutionSLABreached')) metrics.slaBreaches.inc({ severity, sla: 'resolution' });
    const openedAt = new Date(after.openedAt ?? incident.metadata.creationTimestamp ?? Date.now()).getTime();
    const since = (c: { lastTransitionTime: string }) =>
      (new Date(c.lastTransitionTime).getTime() - openedAt) / 1000;
    const acknowledged = flipped('Acknowledged');
    if (acknowledged) metrics.timeToAcknowledge.observe({ severity }, since(acknowledged));
    const resolved = flipped('Resolved');
    if (resolved) {
      metrics.timeToResolve.observe(
        { severity, resolved_by: resolved.reason === 'ResolvedByPerson' ? 'person' : 'automation' },
        since(resolved),
      );
    }
    for (const event of plan.events)
      log.info({ event: event.reason, phase: after.phase, attempts: after.attemptCount }, event.note);
  }
}

function trimmedContext(facts: string[]): string[] {
  return facts.slice(0, MAX_CONTEXT_FACTS).map((fact) => fact.slice(0, MAX_CONTEXT_FACT_LENGTH));
}

/** Whether writing `desired` over `current` would change anything (what the status writer sends). */
function mergeWouldChange(current: IncidentStatus | undefined, desired: IncidentStatus): boolean {
  return mergePatch(current ?? {}, desired) !== undefined;
}

/** Reads an incident from the API server, bypassing the cache. */
export function incidentReader(
  clients: ApiClientFactory,
): (namespace: string, name: string) => Promise<Incident> {
  const api = clients.makeApiClient(CustomObjectsApi);
  return async (namespace, name) =>
    (await api.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: 'incidents',
      name,
    })) as Incident;
}
