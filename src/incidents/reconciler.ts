// The Incident reconciler: read from the cache → observe → decide (pure) → act idempotently →
// write the status (only the difference, only when it changed) → emit the transition Events.
import { CustomObjectsApi, type KubeConfig, type ObjectCache } from '@kubernetes/client-node';
import { GROUP, VERSION } from '../api/group.ts';
import type { Incident, IncidentStatus } from '../api/incident.ts';
import type { RemediationPolicy } from '../api/policy.ts';
import type { WorkloadClient } from '../actions/workloads.ts';
import type { Clock } from '../runtime/clock.ts';
import type { ReconcileResult, Reconciler } from '../runtime/controller.ts';
import type { EventRecorder } from '../runtime/events.ts';
import { splitKey } from '../runtime/informer.ts';
import type { StatusWriter } from '../runtime/status.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { decide, type ActionRegistry, type Plan } from './decide.ts';
import { observe } from './observe.ts';
import type { IncidentSettings } from './settings.ts';
import type { PromQL } from '../verify/prometheus.ts';

export interface IncidentReconcilerDeps {
  incidents: ObjectCache<Incident>;
  policies: ObjectCache<RemediationPolicy>;
  workloads: WorkloadClient;
  status: StatusWriter;
  events: EventRecorder;
  /** Reads an incident straight from the API server (the cache may lag behind a write). */
  readIncident: (namespace: string, name: string) => Promise<Incident>;
  actions: ActionRegistry;
  settings: IncidentSettings;
  /** For PromQL verification; undefined when no Prometheus is configured. */
  prometheus?: PromQL;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  isLeader: () => boolean;
  /** Test hook for crash-safety tests: called at named points; may end the process. */
  faultPoint?: (point: 'after-intent' | 'after-effect') => void;
}

export class NotLeaderError extends Error {
  constructor(step: string) {
    super(`not the leader any more: skipped ${step}`);
  }
}

export class IncidentReconciler implements Reconciler {
  private readonly deps: IncidentReconcilerDeps;

  constructor(deps: IncidentReconcilerDeps) {
    this.deps = deps;
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const { namespace, name } = splitKey(key);
    const { deps } = this;
    const incident = deps.incidents.get(name, namespace);
    if (!incident) return {};
    const now = deps.clock.now();
    const observations = await observe(incident, now, deps);
    const plan = decide(incident, observations, deps.settings, deps.actions);
    const log = deps.logger.child({ incident: name, namespace });

    if (plan.effect) {
      const { attempt, action, marker } = plan.effect;
      // Act only on the intent the API server holds right now, never on a stale cached copy.
      const live = await deps.readIncident(namespace, name);
      if (live.metadata.resourceVersion !== incident.metadata.resourceVersion) return { requeueAfterMs: 0 };
      const target = observations.target;
      const handler = deps.actions[attempt.action];
      if (!target?.workload || !handler) return { requeueAfterMs: 0 };
      this.mustLead('the action');
      log.info({ attemptId: attempt.id, action: attempt.action, target: target.ref }, 'acting');
      await handler.apply(
        {
          target: target.ref,
          workload: target.workload,
          params: action,
          marker,
          startedAt: new Date(attempt.startedAt),
        },
        deps.workloads,
        now,
      );
      deps.faultPoint?.('after-effect');
    }

    this.mustLead('the status write');
    const written = await deps.status.write(
      {
        group: GROUP,
        version: VERSION,
        plural: 'incidents',
        namespace,
        name,
        resourceVersion: incident.metadata.resourceVersion,
      },
      incident.status,
      plan.status,
    );
    if (written) {
      this.recordOutcome(incident, plan, log);
      if (
        plan.status.attempts?.some(
          (a) => a.result === 'Running' && !incident.status?.attempts?.some((b) => b.id === a.id),
        )
      ) {
        deps.faultPoint?.('after-intent');
      }
      await Promise.all(plan.events.map((e) => deps.events.record(incident, e.type, e.reason, e.note)));
    }
    return plan.requeueAfterMs !== undefined ? { requeueAfterMs: plan.requeueAfterMs } : {};
  }

  private mustLead(step: string): void {
    if (!this.deps.isLeader()) throw new NotLeaderError(step);
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

/** Reads an incident from the API server, bypassing the cache. */
export function incidentReader(kc: KubeConfig): (namespace: string, name: string) => Promise<Incident> {
  const api = kc.makeApiClient(CustomObjectsApi);
  return async (namespace, name) =>
    (await api.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: 'incidents',
      name,
    })) as Incident;
}
