// Builders for the Incident reconciler's unit tests: incidents, workloads, observations and settings
// as small plain objects, with one fixed clock (T0) instead of the real one.
import type { V1DeploymentCondition, V1StatefulSetUpdateStrategy } from '@kubernetes/client-node';
import { ATTEMPT_ANNOTATION } from '../../src/actions/action.ts';
import { claimAnnotation, type Claim } from '../../src/actions/claim.ts';
import { ACTIONS } from '../../src/actions/registry.ts';
import type { Workload } from '../../src/actions/workload.ts';
import { DISABLED_ANNOTATION } from '../../src/api/group.ts';
import type { Attempt, Incident, IncidentSpec, IncidentStatus } from '../../src/api/incident.ts';
import type { RemediationPolicy, RemediationPolicySpec } from '../../src/api/policy.ts';
import type { Action, Verification } from '../../src/api/remediation.ts';
import { Decision } from '../../src/incidents/decide/decision.ts';
import {
  attemptMarker,
  decide,
  type ApplyEffect,
  type ClaimObservation,
  type Observations,
  type PauseObservation,
  type Plan,
  type TargetObservation,
} from '../../src/incidents/decide/index.ts';
import { DEFAULT_PLAYBOOK } from '../../src/incidents/playbook.ts';
import type { IncidentSettings } from '../../src/incidents/settings.ts';

export const SECOND = 1_000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;

/** When every incident of these tests was created (metadata.creationTimestamp). */
export const T0 = new Date('2026-03-02T09:00:00.000Z');
/** T0 plus an offset. */
export const at = (offsetMs: number): Date => new Date(T0.getTime() + offsetMs);
/** T0 plus an offset, as the ISO timestamp the status carries. */
export const iso = (offsetMs: number): string => at(offsetMs).toISOString();

export const NAMESPACE = 'shop';
export const WORKLOAD = 'checkout';
export const UID = '3f2c9a1e-0000-4000-8000-000000000001';
/** The resourceVersion of every workload these builders make, unless told otherwise. */
export const WORKLOAD_VERSION = '4711';

/** The install's settings with the configuration defaults (config.test.ts checks they match). */
export function settings(overrides: Partial<IncidentSettings> = {}): IncidentSettings {
  return {
    playbook: DEFAULT_PLAYBOOK,
    defaultGuards: { maxAttempts: 3, cooldownMs: 30 * MINUTE, maxPerHour: 3 },
    storm: { maxIncidents: 10, windowMs: 5 * MINUTE },
    paused: false,
    escalationDefaults: {},
    headsUpSeverities: ['P1', 'P2'],
    statusPageUpdate: { severities: ['P1', 'P2'], withinMs: 15 * MINUTE },
    recurrenceWindowMs: HOUR,
    postMortemSeverities: ['P1'],
    pollIntervalMs: 2 * SECOND,
    ...overrides,
  };
}

export interface IncidentOverrides {
  metadata?: Partial<Incident['metadata']>;
  spec?: Partial<IncidentSpec>;
  status?: IncidentStatus;
}

/** A P1 incident on Deployment shop/checkout that restarts it, created at T0, with no status yet. */
export function incident(overrides: IncidentOverrides = {}): Incident {
  return {
    apiVersion: 'selfheal.dev/v1alpha1',
    kind: 'Incident',
    metadata: {
      name: 'checkout-errors',
      namespace: NAMESPACE,
      uid: UID,
      generation: 1,
      resourceVersion: '100',
      creationTimestamp: T0.toISOString(),
      ...overrides.metadata,
    },
    spec: {
      severity: 'P1',
      title: 'checkout returns 500s',
      source: { type: 'manual' },
      target: { kind: 'Deployment', name: WORKLOAD },
      actions: [{ type: 'rolloutRestart' }],
      dryRun: false,
      ...overrides.spec,
    },
    ...(overrides.status ? { status: overrides.status } : {}),
  };
}

/** The same incident with another stored status (what the next reconcile reads). */
export function withStatus(base: Incident, status: IncidentStatus): Incident {
  return { ...base, status: structuredClone(status) };
}

/** The same incident with spec fields changed (a person edited it). */
export function withSpec(base: Incident, spec: Partial<IncidentSpec>): Incident {
  return { ...base, spec: { ...base.spec, ...spec } };
}

/** The marker the incident's attempt writes on the workload, as decide() computes it. */
export const markerOf = (inc: Incident, attemptId: string): string =>
  attemptMarker(new Decision(inc, observations(T0), settings(), ACTIONS, undefined), attemptId);

export type RolloutShape = 'complete' | 'progressing' | 'failed';

export interface DeploymentOptions {
  name?: string;
  replicas?: number;
  /** Shorthand for the status: complete (the default), progressing or ProgressDeadlineExceeded. */
  rollout?: RolloutShape;
  /** Overrides of the status fields, applied after `rollout`. */
  generation?: number;
  observedGeneration?: number;
  updatedReplicas?: number;
  totalReplicas?: number;
  availableReplicas?: number;
  conditions?: V1DeploymentCondition[];
  paused?: boolean;
  resourceVersion?: string;
  /** The attempt marker on the pod template (what rolloutRestart writes). */
  templateMarker?: string;
  /** The attempt marker on the Deployment's own annotations (what scale writes). */
  objectMarker?: string;
  /** Further annotations on the Deployment's metadata. */
  annotations?: Record<string, string>;
  /** The claim annotation an attempt writes with its effect. */
  claim?: Claim;
}

/** A Deployment workload, by default rolled out completely at 2 replicas. */
export function deployment(o: DeploymentOptions = {}): Workload {
  const replicas = o.replicas ?? 2;
  const rollout = o.rollout ?? 'complete';
  const generation = o.generation ?? 2;
  const conditions: V1DeploymentCondition[] =
    o.conditions ??
    (rollout === 'failed'
      ? [
          {
            type: 'Progressing',
            status: 'False',
            reason: 'ProgressDeadlineExceeded',
            message: 'ReplicaSet "checkout-7d9f" has timed out progressing.',
          },
        ]
      : [{ type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' }]);
  const updated = o.updatedReplicas ?? (rollout === 'complete' ? replicas : replicas - 1);
  const annotations = {
    ...o.annotations,
    ...(o.objectMarker ? { [ATTEMPT_ANNOTATION]: o.objectMarker } : {}),
    ...(o.claim ? claimAnnotation(o.claim) : {}),
  };
  return {
    kind: 'Deployment',
    object: {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {
        name: o.name ?? WORKLOAD,
        namespace: NAMESPACE,
        generation,
        resourceVersion: o.resourceVersion ?? WORKLOAD_VERSION,
        ...(Object.keys(annotations).length ? { annotations } : {}),
      },
      spec: {
        replicas,
        ...(o.paused !== undefined ? { paused: o.paused } : {}),
        selector: { matchLabels: { app: WORKLOAD } },
        template: {
          metadata: {
            labels: { app: WORKLOAD },
            ...(o.templateMarker ? { annotations: { [ATTEMPT_ANNOTATION]: o.templateMarker } } : {}),
          },
        },
      },
      status: {
        observedGeneration: o.observedGeneration ?? generation,
        replicas: o.totalReplicas ?? (rollout === 'complete' ? replicas : replicas + 1),
        updatedReplicas: updated,
        availableReplicas: o.availableReplicas ?? updated,
        conditions,
      },
    },
  };
}

/** A StatefulSet workload, rolled out completely at 3 replicas, by default with RollingUpdate. */
export function statefulSet(
  updateStrategy: V1StatefulSetUpdateStrategy = { type: 'RollingUpdate' },
): Workload {
  return {
    kind: 'StatefulSet',
    object: {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: WORKLOAD, namespace: NAMESPACE, generation: 1, resourceVersion: WORKLOAD_VERSION },
      spec: {
        replicas: 3,
        serviceName: WORKLOAD,
        updateStrategy,
        selector: { matchLabels: { app: WORKLOAD } },
        template: { metadata: { labels: { app: WORKLOAD } } },
      },
      status: {
        observedGeneration: 1,
        replicas: 3,
        readyReplicas: 3,
        updatedReplicas: 3,
        currentRevision: 'checkout-5b7d',
        updateRevision: 'checkout-5b7d',
      },
    },
  };
}

/** A DaemonSet workload, rolled out on 3 nodes. */
export function daemonSet(
  name = WORKLOAD,
  updateStrategy: 'RollingUpdate' | 'OnDelete' = 'RollingUpdate',
): Workload {
  return {
    kind: 'DaemonSet',
    object: {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name, namespace: NAMESPACE, generation: 1, resourceVersion: WORKLOAD_VERSION },
      spec: {
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels: { app: name } } },
        updateStrategy: { type: updateStrategy },
      },
      status: {
        observedGeneration: 1,
        currentNumberScheduled: 3,
        desiredNumberScheduled: 3,
        numberMisscheduled: 0,
        numberReady: 3,
        updatedNumberScheduled: 3,
        numberAvailable: 3,
      },
    },
  };
}

/** What was observed of the target; `workload` undefined: it does not exist. */
export function target(
  workload: Workload | undefined,
  namespaceAnnotations: Record<string, string> = {},
): TargetObservation {
  return {
    ref: { namespace: NAMESPACE, kind: workload?.kind ?? 'Deployment', name: WORKLOAD },
    ...(workload ? { workload } : {}),
    namespaceAnnotations,
  };
}

export const disabledAnnotations = { [DISABLED_ANNOTATION]: 'true' };

/** Observations at `now` of an existing, rolled-out Deployment, no other incidents, no policy. */
export function observations(now: Date, overrides: Partial<Observations> = {}): Observations {
  return {
    now,
    target: target(deployment()),
    otherAttemptsOnTarget: [],
    incidentsInStormWindow: 1,
    ...overrides,
  };
}

/** The installation's live switch, as observe() reports it while on. */
export const PAUSE: PauseObservation = { reason: 'ConfigMap selfheal-system/selfheal-pause: db migration' };
export const paused = { pause: PAUSE };

/** Another incident acting on the target: its name, uid and attempt. */
export const OTHER = { incident: 'checkout-latency', uid: '3f2c9a1e-0000-4000-8000-000000000002' };

/** A claim of the other incident's attempt, binding (live) unless told otherwise. */
export function otherClaim(
  o: { attempt?: string; expiresAt?: string; live?: boolean } = {},
): ClaimObservation {
  return {
    claim: {
      ...OTHER,
      attempt: o.attempt ?? 'attempt-1',
      expiresAt: o.expiresAt ?? iso(10 * MINUTE),
    },
    own: false,
    live: o.live ?? true,
  };
}

export function policy(spec: Partial<RemediationPolicySpec> = {}): RemediationPolicy {
  return {
    apiVersion: 'selfheal.dev/v1alpha1',
    kind: 'RemediationPolicy',
    metadata: { name: 'restart-checkout', namespace: NAMESPACE, generation: 1 },
    spec: {
      match: { alertName: 'CheckoutErrors' },
      severity: { fromLabel: 'severity', default: 'P3' },
      target: { kind: 'Deployment', name: WORKLOAD },
      actions: [{ type: 'rolloutRestart' }],
      guards: { maxAttempts: 3, cooldown: '30m', maxPerHour: 3 },
      dryRun: false,
      ...spec,
    },
  };
}

export function verification(overrides: Partial<Verification> = {}): Verification {
  return {
    promQL: 'sum(rate(http_requests_total{job="checkout",code=~"5.."}[5m])) < 1',
    holdFor: '15m',
    alertResolved: false,
    timeout: '30m',
    ...overrides,
  };
}

export const restart: Action = { type: 'rolloutRestart' };
export const scaleBy = (delta: number): Action => ({ type: 'scale', scale: { delta } });
export const scaleTo = (replicas: number): Action => ({ type: 'scale', scale: { replicas } });
export const queueDrain: Action = {
  type: 'queueDrain',
  queueDrain: {
    connectionSecretRef: { name: 'rabbitmq' },
    vhost: '/',
    queue: 'orders',
    mode: 'waitForConsumers',
    threshold: 0,
    allowPurge: false,
    timeout: '10m',
  },
};

/** decide() with the real action registry. */
export function run(inc: Incident, obs: Observations, s: IncidentSettings = settings()): Plan {
  return decide(inc, obs, s, ACTIONS);
}

/** Runs decisions one after the other, each on the status the previous one produced. */
export function chain(
  inc: Incident,
  steps: { obs: Observations; spec?: Partial<IncidentSpec> }[],
  s: IncidentSettings = settings(),
): { incident: Incident; plan: Plan } {
  let current = inc;
  let plan: Plan | undefined;
  for (const step of steps) {
    if (step.spec) current = withSpec(current, step.spec);
    plan = run(current, step.obs, s);
    current = withStatus(current, plan.status);
  }
  if (!plan) throw new Error('chain needs at least one step');
  return { incident: current, plan };
}

function mergeInto(base: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    const current = out[key];
    out[key] =
      typeof value === 'object' && value !== null && typeof current === 'object' && current !== null
        ? mergeInto(current as Record<string, unknown>, value as Record<string, unknown>)
        : value;
  }
  return out;
}

/**
 * The workload as the API server returns it after an effect: the action's patch and the claim merged
 * in, a new generation its controller has not observed yet (the rollout is under way) and a new
 * resourceVersion.
 */
export function written(workload: Workload, effect: ApplyEffect): Workload {
  const action = ACTIONS[effect.attempt.action];
  if (!action) throw new Error(`no action ${effect.attempt.action} in this build`);
  const patch = mergeInto(action.effect(effect.intent) as Record<string, unknown>, {
    metadata: { annotations: claimAnnotation(effect.claim) },
  });
  const object = mergeInto(structuredClone(workload.object) as Record<string, unknown>, patch) as {
    metadata: { generation?: number; resourceVersion?: string };
  };
  object.metadata.generation = (object.metadata.generation ?? 1) + 1;
  object.metadata.resourceVersion = `${Number(object.metadata.resourceVersion ?? 0) + 1}`;
  return { kind: workload.kind, object };
}

/**
 * One reconcile pass as IncidentReconciler makes it: decide; write the status; when the plan carries
 * an effect, apply it and decide again on the workload as written. Returns the incident as stored
 * after the pass, and the pass's last plan.
 */
export function reconcile(
  inc: Incident,
  obs: Observations,
  s: IncidentSettings = settings(),
): { incident: Incident; plan: Plan; workload?: Workload } {
  const plan = run(inc, obs, s);
  const stored = withStatus(inc, plan.status);
  const workload = obs.target?.workload;
  if (!plan.effect || !obs.target || !workload) return { incident: stored, plan };
  const after = written(workload, plan.effect);
  const again = run(stored, { ...obs, target: { ...obs.target, workload: after } }, s);
  return { incident: withStatus(stored, again.status), plan: again, workload: after };
}

/** Conditions as `{ Type: 'Status/Reason' }`, for exact comparison in tables. */
export function conditionsOf(status: IncidentStatus): Record<string, string> {
  return Object.fromEntries((status.conditions ?? []).map((c) => [c.type, `${c.status}/${c.reason}`]));
}

/** The message of one condition. */
export const conditionMessage = (status: IncidentStatus, type: string): string | undefined =>
  status.conditions?.find((c) => c.type === type)?.message;

/** Events as `'Type Reason'`. */
export const eventsOf = (plan: Plan): string[] => plan.events.map((e) => `${e.type} ${e.reason}`);

/** Attempts as `'id action result'`. */
export const attemptsOf = (status: IncidentStatus): string[] =>
  (status.attempts ?? []).map((a: Attempt) => `${a.id} ${a.action} ${a.result}`);
