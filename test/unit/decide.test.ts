import { describe, expect, it } from '@jest/globals';
import type { Severity } from '../../src/api/group.ts';
import type { Incident, IncidentSpec, IncidentStatus, Phase } from '../../src/api/incident.ts';
import { MAX_TIMELINE } from '../../src/api/incident.ts';
import type { Action } from '../../src/api/remediation.ts';
import {
  HARM_LIMITS,
  remediationOf,
  type ApplyEffect,
  type Observations,
  type Plan,
} from '../../src/incidents/decide/index.ts';
import type { IncidentSettings } from '../../src/incidents/settings.ts';
import {
  HOUR,
  MINUTE,
  NAMESPACE,
  OTHER,
  PAUSE,
  SECOND,
  UID,
  WORKLOAD_VERSION,
  at,
  attemptsOf,
  chain,
  conditionMessage,
  conditionsOf,
  daemonSet,
  deployment,
  disabledAnnotations,
  eventsOf,
  incident,
  iso,
  markerOf,
  observations,
  otherClaim,
  paused,
  policy,
  queueDrain,
  reconcile,
  restart,
  run,
  scaleBy,
  scaleTo,
  settings,
  statefulSet,
  target,
  verification,
  withSpec,
  withStatus,
  type DeploymentOptions,
} from './fixtures.ts';

// ---------------------------------------------------------------------------------------------
// Scenario builders: each returns the incident as the next reconcile reads it (its stored status).
// ---------------------------------------------------------------------------------------------

const POLL = settings().pollIntervalMs;
/** The default timeout of rolloutRestart and of scale: an attempt's deadline and its claim's expiry. */
const ATTEMPT_TIMEOUT = 5 * MINUTE;
const RESTART_MESSAGE =
  'restart Deployment checkout (new restartedAt on the pod template) and wait for its rollout';
const WHERE = `Deployment ${NAMESPACE}/checkout`;

/** The workload after attempt `attemptId` acted: its marker where either action writes it. */
function acted(attemptId: string, o: DeploymentOptions = {}) {
  const marker = markerOf(incident(), attemptId);
  return target(deployment({ templateMarker: marker, objectMarker: marker, ...o }));
}

/**
 * First pass at T0+1m whose effect never landed (the operator stopped right after writing the
 * status, or the patch met a conflict): attempt-1's intent is recorded, not applied.
 */
function intended(
  spec: Partial<IncidentSpec> = {},
  s: IncidentSettings = settings(),
  extra: Partial<Observations> = {},
): Incident {
  return chain(incident({ spec }), [{ obs: observations(at(MINUTE), extra) }], s).incident;
}

/** First reconcile at T0+1m: attempt-1's intent recorded, its effect applied, the rollout under way. */
function opened(
  spec: Partial<IncidentSpec> = {},
  s: IncidentSettings = settings(),
  extra: Partial<Observations> = {},
): Incident {
  return reconcile(incident({ spec }), observations(at(MINUTE), extra), s).incident;
}

/** Escalated at +1m by a harm limit (the namespace opts out of remediation), no attempt. */
function escalated(spec: Partial<IncidentSpec> = {}): Incident {
  return chain(incident({ spec }), [
    { obs: observations(at(MINUTE), { target: target(deployment(), disabledAnnotations) }) },
  ]).incident;
}
const DISABLED = { Remediated: 'False/RemediationDisabled', Escalated: 'True/RemediationDisabled' };

/** Opened at +1m; attempt-1's rollout completed at +3m with the verification still pending. */
function verifying(spec: Partial<IncidentSpec> = {}): Incident {
  const inc = opened({ verification: verification(), ...spec });
  return reconcile(inc, observations(at(3 * MINUTE), { target: acted('attempt-1') })).incident;
}

// What Prometheus answers, and verifications that settle at once: one passes on the first check
// that holds (holdFor 0s), one fails on the first check that does not (timeout 0s).
const holds = { promQL: { ok: true as const, holds: true } };
const doesNotHold = { promQL: { ok: true as const, holds: false } };
const quick = () => verification({ holdFor: '0s' });
const expired = (timeout = '0s') => verification({ timeout });

/** Opened at +1m; attempt-1's rollout completed at +3m: resolved by automation. */
function resolvedByAutomation(spec: Partial<IncidentSpec> = {}): Incident {
  return reconcile(opened(spec), observations(at(3 * MINUTE), { target: acted('attempt-1') })).incident;
}

/** Escalated at +1m (a harm limit); resolved by a person at +3m. */
function resolvedAfterEscalation(spec: Partial<IncidentSpec> = {}): Incident {
  return chain(escalated(spec), [
    { obs: observations(at(3 * MINUTE)), spec: { resolution: { resolvedBy: 'alice' } } },
  ]).incident;
}

/**
 * Opened at +1m, then attempts 1..n failed (rollout failed) one minute apart, each failure's pass
 * applying the next attempt; a scale attempt's workload stands at the count it recorded.
 */
function afterFailures(
  inc: Incident,
  failures: number,
  s: IncidentSettings = settings(),
  extra: Partial<Observations> = {},
): Incident {
  let current = reconcile(inc, observations(at(MINUTE), extra), s).incident;
  for (let i = 1; i <= failures; i++) {
    const replicas = current.status?.attempts?.[i - 1]?.targetReplicas;
    const obs = observations(at((1 + i) * MINUTE), {
      ...extra,
      target: acted(`attempt-${i}`, { rollout: 'failed', ...(replicas !== undefined ? { replicas } : {}) }),
    });
    current = reconcile(current, obs, s).incident;
  }
  return current;
}

/** The effect decide() plans for attempt `index` (0-based) of the stored incident. */
function effectOf(inc: Incident, index: number, action: Action, workloadVersion = WORKLOAD_VERSION) {
  const attempt = stored(inc).attempts?.[index];
  if (!attempt) throw new Error(`no attempt ${index} recorded`);
  const startedAt = new Date(attempt.startedAt);
  const expected: ApplyEffect = {
    attempt,
    action,
    intent: {
      marker: markerOf(inc, attempt.id),
      startedAt,
      ...(attempt.targetReplicas !== undefined ? { targetReplicas: attempt.targetReplicas } : {}),
    },
    resourceVersion: workloadVersion,
    claim: {
      incident: inc.metadata.name ?? '',
      uid: inc.metadata.uid ?? '',
      attempt: attempt.id,
      expiresAt: new Date(startedAt.getTime() + ATTEMPT_TIMEOUT).toISOString(),
    },
  };
  return expected;
}

/** The other incident, as the cache holds it, for an incident that follows it. */
const otherIncident = (status: IncidentStatus, uid = OTHER.uid): Incident =>
  incident({ metadata: { name: OTHER.incident, uid }, status });

const stored = (inc: Incident): IncidentStatus => inc.status ?? {};
const phaseOf = (plan: Plan): Phase | undefined => plan.status.phase;
const timelineTypes = (status: IncidentStatus) => (status.timeline ?? []).map((t) => t.type);

// ---------------------------------------------------------------------------------------------

describe('attemptMarker', () => {
  it.each([
    { name: 'the uid when there is one', metadata: {}, expected: `${UID}/attempt-2` },
    {
      name: 'namespace/name without a uid',
      metadata: { uid: undefined },
      expected: `${NAMESPACE}/checkout-errors/attempt-2`,
    },
  ])('is built from $name', ({ metadata, expected }) => {
    expect(markerOf(incident({ metadata }), 'attempt-2')).toBe(expected);
  });
});

describe('remediationOf', () => {
  const pol = policy({
    actions: [scaleBy(1)],
    guards: { maxAttempts: 2, cooldown: '1h30m', maxPerHour: 5 },
    verification: verification({ promQL: 'policy' }),
    dryRun: true,
  });

  it.each([
    {
      name: "the incident's own actions with the default guards",
      spec: {},
      pol: undefined,
      expected: {
        actions: [restart],
        guards: { maxAttempts: 3, cooldownMs: 30 * MINUTE, maxPerHour: 3 },
        dryRun: false,
      },
    },
    {
      name: "the policy's actions, guards, verification and dry run",
      spec: { actions: undefined, policyRef: { name: 'restart-checkout' } },
      pol,
      expected: {
        actions: [scaleBy(1)],
        guards: { maxAttempts: 2, cooldownMs: 90 * MINUTE, maxPerHour: 5 },
        verification: verification({ promQL: 'policy' }),
        dryRun: true,
      },
    },
    {
      name: "the incident's verification over the policy's",
      spec: {
        actions: undefined,
        policyRef: { name: 'restart-checkout' },
        verification: verification({ promQL: 'own' }),
      },
      pol,
      expected: {
        actions: [scaleBy(1)],
        guards: { maxAttempts: 2, cooldownMs: 90 * MINUTE, maxPerHour: 5 },
        verification: verification({ promQL: 'own' }),
        dryRun: true,
      },
    },
  ])('takes $name', ({ spec, pol: p, expected }) => {
    expect(remediationOf(incident({ spec }), p, settings())).toEqual(expected);
  });

  it.each([
    { name: 'no actions', spec: { actions: undefined } },
    { name: 'an empty action list', spec: { actions: [] } },
    { name: 'a missing policy and no actions', spec: { actions: undefined, policyRef: { name: 'gone' } } },
  ])('is undefined with $name', ({ spec }) => {
    expect(remediationOf(incident({ spec }), null, settings())).toBeUndefined();
  });
});

describe('decide: a new incident', () => {
  it.each<{ severity: Severity; response: number; resolution: number; update: number }>([
    { severity: 'P1', response: 15 * MINUTE, resolution: 4 * HOUR, update: 30 * MINUTE },
    { severity: 'P2', response: 30 * MINUTE, resolution: 8 * HOUR, update: HOUR },
    { severity: 'P3', response: 2 * HOUR, resolution: 24 * HOUR, update: 4 * HOUR },
    { severity: 'P4', response: 8 * HOUR, resolution: 72 * HOUR, update: 24 * HOUR },
  ])(
    '$severity: opens, records the intent of attempt-1 with its effect, and sets the SLA clocks',
    ({ severity, response, resolution, update }) => {
      const inc = incident({ spec: { severity } });
      const plan = run(inc, observations(at(MINUTE)));

      expect(phaseOf(plan)).toBe('Remediating');
      expect(plan.status.openedAt).toBe(iso(0));
      expect(plan.status.sla).toEqual({
        responseDueAt: iso(response),
        resolutionDueAt: iso(resolution),
        nextUpdateDueAt: iso(update),
      });
      expect(plan.status.attempts).toEqual([
        {
          id: 'attempt-1',
          action: 'rolloutRestart',
          actionIndex: 0,
          startedAt: iso(MINUTE),
          result: 'Running',
          message: RESTART_MESSAGE,
        },
      ]);
      expect(plan.status.attemptCount).toBe(1);
      expect(conditionsOf(plan.status)).toEqual({});
      expect(plan.status.escalation).toEqual({ level: 0 });
      expect(plan.status.observedGeneration).toBe(1);
      // The reconciler writes this status first, then applies the effect it carries.
      expect(plan.effect).toEqual(effectOf(withStatus(inc, plan.status), 0, restart));
      // The attempt's deadline (+6m) is nearer than any SLA deadline.
      expect(plan.requeueAfterMs).toBe(ATTEMPT_TIMEOUT);
      expect(eventsOf(plan)).toEqual(['Normal Open', 'Normal AttemptStarted', 'Normal Remediating']);
      expect(plan.status.timeline?.map((t) => [t.type, t.time])).toEqual([
        ['Open', iso(MINUTE)],
        ['AttemptStarted', iso(MINUTE)],
        ['Remediating', iso(MINUTE)],
      ]);
    },
  );

  it('takes openedAt from now when the incident has no creationTimestamp', () => {
    const plan = run(incident({ metadata: { creationTimestamp: undefined } }), observations(at(MINUTE)));
    expect(plan.status.openedAt).toBe(iso(MINUTE));
    expect(plan.status.sla).toEqual({
      responseDueAt: iso(16 * MINUTE),
      resolutionDueAt: iso(4 * HOUR + MINUTE),
      nextUpdateDueAt: iso(31 * MINUTE),
    });
  });

  it('sets nextUpdateDueAt on the cadence from openedAt when first seen late', () => {
    const plan = run(incident(), observations(at(95 * MINUTE)));
    expect(plan.status.openedAt).toBe(iso(0));
    expect(plan.status.sla?.nextUpdateDueAt).toBe(iso(2 * HOUR));
  });
});

describe('decide: intent and effect in one plan', () => {
  it.each<{
    name: string;
    action: Action;
    workload?: DeploymentOptions;
    targetReplicas?: number;
    message: string;
    timeoutMs: number;
    requeue: number;
  }>([
    {
      name: 'rolloutRestart',
      action: restart,
      message: RESTART_MESSAGE,
      timeoutMs: 5 * MINUTE,
      requeue: 5 * MINUTE,
    },
    {
      name: 'rolloutRestart with a 1m timeout: the claim expires with the deadline',
      action: { type: 'rolloutRestart', rolloutRestart: { timeout: '1m' } },
      message: RESTART_MESSAGE,
      timeoutMs: MINUTE,
      requeue: MINUTE,
    },
    {
      name: 'rolloutRestart with a 30m timeout: the response target (+15m) is nearer',
      action: { type: 'rolloutRestart', rolloutRestart: { timeout: '30m' } },
      message: RESTART_MESSAGE,
      timeoutMs: 30 * MINUTE,
      requeue: 14 * MINUTE,
    },
    {
      name: 'scale by +1: the count fixed at intent',
      action: scaleBy(1),
      targetReplicas: 3,
      message: 'scale Deployment checkout from 2 to 3 replicas',
      timeoutMs: 5 * MINUTE,
      requeue: 5 * MINUTE,
    },
    {
      name: 'scale to 5',
      action: scaleTo(5),
      targetReplicas: 5,
      message: 'scale Deployment checkout from 2 to 5 replicas',
      timeoutMs: 5 * MINUTE,
      requeue: 5 * MINUTE,
    },
    {
      name: 'scale by +3 within max 4',
      action: { type: 'scale', scale: { delta: 3, max: 4 } },
      targetReplicas: 4,
      message: 'scale Deployment checkout from 2 to 4 replicas',
      timeoutMs: 5 * MINUTE,
      requeue: 5 * MINUTE,
    },
    {
      name: 'scale by -5 within min 1, from 4',
      action: { type: 'scale', scale: { delta: -5, min: 1 } },
      workload: { replicas: 4 },
      targetReplicas: 1,
      message: 'scale Deployment checkout from 4 to 1 replicas',
      timeoutMs: 5 * MINUTE,
      requeue: 5 * MINUTE,
    },
    {
      name: 'on the workload version observed',
      action: restart,
      workload: { resourceVersion: '98765' },
      message: RESTART_MESSAGE,
      timeoutMs: 5 * MINUTE,
      requeue: 5 * MINUTE,
    },
  ])('$name', ({ action, workload, targetReplicas, message, timeoutMs, requeue }) => {
    const inc = incident({ spec: { actions: [action] } });
    const plan = run(inc, observations(at(MINUTE), { target: target(deployment(workload)) }));
    const attempt = plan.status.attempts?.[0];

    expect(attempt).toEqual({
      id: 'attempt-1',
      action: action.type,
      actionIndex: 0,
      startedAt: iso(MINUTE),
      result: 'Running',
      message,
      ...(targetReplicas !== undefined ? { targetReplicas } : {}),
    });
    expect(plan.effect).toEqual({
      attempt,
      action,
      intent: {
        marker: `${UID}/attempt-1`,
        startedAt: at(MINUTE),
        ...(targetReplicas !== undefined ? { targetReplicas } : {}),
      },
      resourceVersion: workload?.resourceVersion ?? WORKLOAD_VERSION,
      claim: {
        incident: 'checkout-errors',
        uid: UID,
        attempt: 'attempt-1',
        expiresAt: iso(MINUTE + timeoutMs),
      },
    });
    expect(plan.requeueAfterMs).toBe(requeue);
  });
});

describe('decide: following a running attempt', () => {
  it.each([
    { name: 'no marker on the workload', actions: [restart], workload: deployment() },
    {
      name: "another incident's marker on the pod template",
      actions: [restart],
      workload: deployment({ templateMarker: 'another-uid/attempt-1' }),
    },
    {
      name: 'the marker on the Deployment metadata, where rolloutRestart does not write it',
      actions: [restart],
      workload: deployment({ objectMarker: markerOf(incident(), 'attempt-1') }),
    },
    { name: 'scale: no marker', actions: [scaleBy(1)], workload: deployment() },
    {
      name: 'scale: the marker on the pod template, where scale does not write it',
      actions: [scaleBy(1)],
      workload: deployment({ templateMarker: markerOf(incident(), 'attempt-1'), replicas: 3 }),
    },
    {
      name: 'scale: the marker on the Deployment, but not yet the recorded count of replicas',
      actions: [scaleBy(1)],
      workload: deployment({ objectMarker: markerOf(incident(), 'attempt-1') }),
    },
  ])('plans the recorded effect again when the workload carries $name', ({ actions, workload }) => {
    const inc = intended({ actions });
    const plan = run(inc, observations(at(MINUTE + 5 * SECOND), { target: target(workload) }));

    expect(plan.effect).toEqual(effectOf(inc, 0, actions[0] ?? restart));
    expect(plan.status).toEqual(stored(inc));
    expect(eventsOf(plan)).toEqual([]);
    // Not polled: the next look is at the attempt's deadline (watch events of the workload come first).
    expect(plan.requeueAfterMs).toBe(ATTEMPT_TIMEOUT - 5 * SECOND);
  });

  it.each([
    { name: 'rolloutRestart (marker on the pod template)', actions: [restart], workload: {} },
    {
      name: 'scale (marker on the Deployment, replicas at the recorded count)',
      actions: [scaleBy(1)],
      workload: { replicas: 3 },
    },
  ])('$name: a complete rollout resolves the incident', ({ actions, workload }) => {
    const inc = opened({ actions });
    const plan = run(inc, observations(at(3 * MINUTE), { target: acted('attempt-1', workload) }));

    expect(phaseOf(plan)).toBe('Resolved');
    expect(plan.status.resolvedAt).toBe(iso(3 * MINUTE));
    expect(attemptsOf(plan.status)).toEqual([`attempt-1 ${actions[0]?.type ?? ''} Succeeded`]);
    expect(plan.status.attempts?.[0]?.finishedAt).toBe(iso(3 * MINUTE));
    expect(conditionsOf(plan.status)).toEqual({
      Remediated: 'True/ActionSucceeded',
      Verified: 'True/RolloutComplete',
      Resolved: 'True/RemediatedAndVerified',
    });
    expect(eventsOf(plan)).toEqual(['Normal AttemptSucceeded', 'Normal Verifying', 'Normal Resolved']);
    expect(plan.effect).toBeUndefined();
    expect(plan.status.sla?.nextUpdateDueAt).toBeUndefined();
  });

  describe('reads the rollout by kubectl rollout status rules', () => {
    it.each<{ name: string; workload: DeploymentOptions; outcome: 'resolved' | 'progressing' | 'failed' }>([
      { name: 'all replicas updated and available', workload: {}, outcome: 'resolved' },
      {
        name: 'observedGeneration ahead of generation',
        workload: { observedGeneration: 3 },
        outcome: 'resolved',
      },
      {
        name: 'the new spec not yet observed',
        workload: { observedGeneration: 1 },
        outcome: 'progressing',
      },
      {
        name: 'fewer updated replicas than wanted',
        workload: { rollout: 'progressing' },
        outcome: 'progressing',
      },
      {
        name: 'old replicas pending termination',
        workload: { totalReplicas: 3 },
        outcome: 'progressing',
      },
      {
        name: 'updated replicas not yet available',
        workload: { availableReplicas: 1 },
        outcome: 'progressing',
      },
      {
        name: 'Progressing condition ProgressDeadlineExceeded',
        workload: { rollout: 'failed' },
        outcome: 'failed',
      },
    ])('$name → $outcome', ({ workload, outcome }) => {
      const inc = opened();
      const plan = run(inc, observations(at(3 * MINUTE), { target: acted('attempt-1', workload) }));
      const expected = {
        resolved: { phase: 'Resolved', attempts: ['attempt-1 rolloutRestart Succeeded'] },
        progressing: { phase: 'Remediating', attempts: ['attempt-1 rolloutRestart Running'] },
        failed: {
          phase: 'Remediating',
          attempts: ['attempt-1 rolloutRestart Failed', 'attempt-2 rolloutRestart Running'],
        },
      }[outcome];
      expect({ phase: phaseOf(plan), attempts: attemptsOf(plan.status) }).toEqual(expected);
    });
  });

  it.each([
    { name: 'after 2m', elapsed: 2 * MINUTE, poll: POLL, requeue: 3 * MINUTE },
    { name: '500 ms before it', elapsed: 5 * MINUTE - 500, poll: POLL, requeue: 500 },
    { name: 'after 4m, with a long poll interval', elapsed: 4 * MINUTE, poll: 90 * SECOND, requeue: MINUTE },
  ])(
    'a progressing rollout changes nothing and is not polled: it looks again at the deadline ($name)',
    ({ elapsed, poll, requeue }) => {
      const inc = opened();
      const obs = observations(at(MINUTE + elapsed), {
        target: acted('attempt-1', { rollout: 'progressing' }),
      });
      const plan = run(inc, obs, settings({ pollIntervalMs: poll }));

      expect(plan.status).toEqual(stored(inc));
      expect(plan.effect).toBeUndefined();
      expect(eventsOf(plan)).toEqual([]);
      expect(plan.requeueAfterMs).toBe(requeue);
    },
  );
});

describe('decide: the effect is applied once (appliedAt)', () => {
  it.each([
    {
      name: 'rolloutRestart: its marker on the pod template',
      actions: [restart],
      workload: { rollout: 'progressing' as const },
    },
    {
      name: 'scale: its marker on the Deployment and spec.replicas at the recorded count',
      actions: [scaleBy(1)],
      workload: { rollout: 'progressing' as const, replicas: 3 },
    },
  ])('the first pass that sees the effect ($name) records appliedAt, once', ({ actions, workload }) => {
    const inc = intended({ actions });
    const now = MINUTE + 5 * SECOND;
    const obs = observations(at(now), { target: acted('attempt-1', workload) });
    const plan = run(inc, obs);

    expect(plan.status.attempts?.[0]).toEqual({ ...stored(inc).attempts?.[0], appliedAt: iso(now) });
    expect(plan.status.timeline?.at(-1)).toEqual({
      time: iso(now),
      type: 'AttemptApplied',
      message: `attempt-1: applied to ${WHERE}`,
    });
    expect(eventsOf(plan)).toEqual(['Normal AttemptApplied']);
    expect(plan.effect).toBeUndefined();
    expect(phaseOf(plan)).toBe('Remediating');
    expect(plan.requeueAfterMs).toBe(MINUTE + ATTEMPT_TIMEOUT - now);

    const again = run(withStatus(inc, plan.status), observations(at(now + MINUTE), { target: obs.target }));
    expect(again.status).toEqual(plan.status);
    expect(eventsOf(again)).toEqual([]);
  });

  it('an effect first seen with its rollout already complete (the status write after it was lost) is applied and succeeds', () => {
    const plan = run(intended(), observations(at(3 * MINUTE), { target: acted('attempt-1') }));
    expect(plan.status.attempts?.[0]).toMatchObject({ appliedAt: iso(3 * MINUTE), result: 'Succeeded' });
    expect(eventsOf(plan)).toEqual([
      'Normal AttemptApplied',
      'Normal AttemptSucceeded',
      'Normal Verifying',
      'Normal Resolved',
    ]);
    expect(plan.effect).toBeUndefined();
  });

  it('keeps the effect as recorded while it waits: the start time and the count fixed at intent', () => {
    const inc = intended({ actions: [scaleBy(1)] });
    // Meanwhile an autoscaler moved the Deployment to 5 replicas; the effect still sets 3.
    const plan = run(inc, observations(at(3 * MINUTE), { target: target(deployment({ replicas: 5 })) }));

    expect(plan.effect?.intent).toEqual({
      marker: `${UID}/attempt-1`,
      startedAt: at(MINUTE),
      targetReplicas: 3,
    });
    expect(plan.status).toEqual(stored(inc));
  });

  it('a workload carrying the effect of the same attempt of another incident (same attempt id) is not applied', () => {
    const inc = intended();
    const other = markerOf(incident({ metadata: { uid: OTHER.uid } }), 'attempt-1');
    const plan = run(
      inc,
      observations(at(2 * MINUTE), {
        target: target(deployment({ templateMarker: other, objectMarker: other })),
      }),
    );
    expect(plan.effect).toEqual(effectOf(inc, 0, restart));
    expect(plan.status.attempts?.[0]?.appliedAt).toBeUndefined();
  });

  describe('an applied attempt whose workload no longer carries its effect was superseded', () => {
    it.each<{
      name: string;
      actions: Action[];
      workload: DeploymentOptions;
      by: string;
    }>([
      {
        name: 'another restart replaced the marker on the pod template',
        actions: [restart],
        workload: { templateMarker: 'someone-else', rollout: 'progressing' },
        by: 'a change by someone else',
      },
      {
        name: 'a deploy replaced the pod template',
        actions: [restart],
        workload: { rollout: 'progressing' },
        by: 'a change by someone else',
      },
      {
        name: 'an autoscaler changed spec.replicas after the scale',
        actions: [scaleBy(1)],
        workload: { objectMarker: markerOf(incident(), 'attempt-1'), replicas: 5 },
        by: 'a change by someone else',
      },
    ])('$name: Failed, escalated with Superseded', ({ actions, workload, by }) => {
      const inc = opened({ actions });
      const plan = run(inc, observations(at(2 * MINUTE), { target: target(deployment(workload)) }));
      const message = `superseded: ${by} replaced attempt-1's change on ${WHERE}`;

      expect(attemptsOf(plan.status)).toEqual([`attempt-1 ${actions[0]?.type ?? ''} Failed`]);
      expect(plan.status.attempts?.[0]?.message).toBe(message);
      expect(phaseOf(plan)).toBe('Escalated');
      expect(conditionsOf(plan.status)).toEqual({
        Remediated: 'False/Superseded',
        Escalated: 'True/Superseded',
      });
      expect(conditionMessage(plan.status, 'Escalated')).toBe(`${message}; people are acting on it`);
      expect(eventsOf(plan)).toEqual(['Warning AttemptFailed', 'Warning Escalated']);
      expect(plan.effect).toBeUndefined();
    });

    it("by another incident's live claim: Failed, and this incident follows that one", () => {
      const plan = run(
        opened(),
        observations(at(2 * MINUTE), {
          target: target(deployment({ templateMarker: `${OTHER.uid}/attempt-1`, rollout: 'progressing' })),
          claim: otherClaim(),
        }),
      );

      expect(attemptsOf(plan.status)).toEqual(['attempt-1 rolloutRestart Failed']);
      expect(plan.status.attempts?.[0]?.message).toBe(
        `superseded: incident ${OTHER.incident} (attempt-1) replaced attempt-1's change on ${WHERE}`,
      );
      expect(plan.status.following).toEqual({ ...OTHER, attempt: 'attempt-1', since: iso(2 * MINUTE) });
      expect(phaseOf(plan)).toBe('Remediating');
      expect(conditionsOf(plan.status)).toEqual({ Remediated: 'False/FollowingIncident' });
      expect(eventsOf(plan)).toEqual(['Warning AttemptFailed', 'Normal Following']);
      expect(plan.effect).toBeUndefined();
    });
  });
});

describe('decide: a failed attempt', () => {
  it.each([
    {
      name: 'the rollout failed (ProgressDeadlineExceeded)',
      before: () => opened(),
      elapsed: MINUTE,
      workload: acted('attempt-1', { rollout: 'failed' }),
    },
    {
      name: 'the rollout did not complete within the 5m default timeout',
      before: () => opened(),
      elapsed: 5 * MINUTE + SECOND,
      workload: acted('attempt-1', { rollout: 'progressing' }),
    },
    {
      name: 'the restart was not applied within the 5m default timeout',
      before: () => intended(),
      elapsed: 5 * MINUTE + SECOND,
      workload: target(deployment()),
    },
  ])('$name: attempt-1 fails and attempt-2 repeats the last action', ({ before, elapsed, workload }) => {
    const now = MINUTE + elapsed;
    const plan = run(before(), observations(at(now), { target: workload }));

    expect(phaseOf(plan)).toBe('Remediating');
    expect(attemptsOf(plan.status)).toEqual([
      'attempt-1 rolloutRestart Failed',
      'attempt-2 rolloutRestart Running',
    ]);
    expect(plan.status.attempts?.[0]?.finishedAt).toBe(iso(now));
    expect(plan.status.attempts?.[1]?.startedAt).toBe(iso(now));
    expect(plan.status.attemptCount).toBe(2);
    expect(conditionsOf(plan.status)).toEqual({ Remediated: 'False/AttemptFailed' });
    expect(eventsOf(plan)).toEqual(['Warning AttemptFailed', 'Normal AttemptStarted']);
    // attempt-2's intent is on this status, its effect in this plan.
    expect(plan.effect?.attempt.id).toBe('attempt-2');
    expect(plan.effect?.intent.startedAt).toEqual(at(now));
    expect(plan.requeueAfterMs).toBe(ATTEMPT_TIMEOUT);
  });

  it.each([
    { name: 'progressing 1s before a 1m timeout', elapsed: 59 * SECOND, applied: true, result: 'Running' },
    { name: 'progressing 1s after a 1m timeout', elapsed: 61 * SECOND, applied: true, result: 'Failed' },
    { name: 'not applied 1s before a 1m timeout', elapsed: 59 * SECOND, applied: false, result: 'Running' },
    { name: 'not applied 1s after a 1m timeout', elapsed: 61 * SECOND, applied: false, result: 'Failed' },
  ])('rolloutRestart.timeout is honoured: $name → $result', ({ elapsed, applied, result }) => {
    const action: Action = { type: 'rolloutRestart', rolloutRestart: { timeout: '1m' } };
    const inc = applied ? opened({ actions: [action] }) : intended({ actions: [action] });
    const workload = applied
      ? acted('attempt-1', { rollout: 'progressing' })
      : target(deployment({ rollout: 'progressing' }));
    const plan = run(inc, observations(at(MINUTE + elapsed), { target: workload }));

    expect(plan.status.attempts?.[0]?.result).toBe(result);
    if (result === 'Running') {
      expect(plan.effect !== undefined).toBe(!applied);
      expect(plan.requeueAfterMs).toBe(SECOND);
    } else {
      expect(attemptsOf(plan.status)[1]).toBe('attempt-2 rolloutRestart Running');
      expect(plan.effect?.attempt.id).toBe('attempt-2');
    }
  });

  it.each<{ actions: Action[]; failures: number; attempts: string[] }>([
    {
      actions: [restart],
      failures: 2,
      attempts: [
        'attempt-1 rolloutRestart Failed',
        'attempt-2 rolloutRestart Failed',
        'attempt-3 rolloutRestart Running',
      ],
    },
    {
      actions: [restart, scaleBy(1)],
      failures: 1,
      attempts: ['attempt-1 rolloutRestart Failed', 'attempt-2 scale Running'],
    },
    {
      actions: [restart, scaleBy(1)],
      failures: 2,
      attempts: ['attempt-1 rolloutRestart Failed', 'attempt-2 scale Failed', 'attempt-3 scale Running'],
    },
    {
      actions: [scaleBy(1), restart, scaleTo(4)],
      failures: 2,
      attempts: ['attempt-1 scale Failed', 'attempt-2 rolloutRestart Failed', 'attempt-3 scale Running'],
    },
  ])('goes on down the list, repeating the last action: $attempts', ({ actions, failures, attempts }) => {
    const inc = afterFailures(incident({ spec: { actions } }), failures);
    expect(attemptsOf(stored(inc))).toEqual(attempts);
    expect(stored(inc).phase).toBe('Remediating');
  });

  it('applies the parameters of the action the attempt runs, not those of an earlier action of the same type', () => {
    // attempt-1 runs actions[0] (scale by +1, to 3) and fails; attempt-2 runs actions[1] (scale to 5).
    const inc = opened({ actions: [scaleBy(1), scaleTo(5)] });
    const plan = run(
      inc,
      observations(at(2 * MINUTE), { target: acted('attempt-1', { rollout: 'failed', replicas: 3 }) }),
    );

    expect(plan.status.attempts?.[1]).toMatchObject({
      actionIndex: 1,
      targetReplicas: 5,
      message: 'scale Deployment checkout from 3 to 5 replicas',
    });
    expect(plan.effect?.attempt.id).toBe('attempt-2');
    expect(plan.effect?.action).toEqual(scaleTo(5));
    expect(plan.effect?.intent.targetReplicas).toBe(5);
  });

  it.each([
    { name: 'the default guards (3 attempts)', s: settings(), spec: {}, extra: {}, failures: 3 },
    {
      name: 'settings.defaultGuards.maxAttempts 1',
      s: settings({ defaultGuards: { maxAttempts: 1, cooldownMs: 30 * MINUTE, maxPerHour: 3 } }),
      spec: {},
      extra: {},
      failures: 1,
    },
    {
      name: "the policy's guards (2 attempts)",
      s: settings(),
      spec: { actions: undefined, policyRef: { name: 'restart-checkout' } },
      extra: { policy: policy({ guards: { maxAttempts: 2, cooldown: '30m', maxPerHour: 3 } }) },
      failures: 2,
    },
  ])('escalates with MaxAttemptsExhausted after $name', ({ s, spec, extra, failures }) => {
    const before = afterFailures(incident({ spec }), failures - 1, s, extra);
    const now = (1 + failures) * MINUTE;
    const plan = run(
      before,
      observations(at(now), { ...extra, target: acted(`attempt-${failures}`, { rollout: 'failed' }) }),
      s,
    );

    expect(phaseOf(plan)).toBe('Escalated');
    expect(attemptsOf(plan.status)).toEqual(
      Array.from({ length: failures }, (_, i) => `attempt-${i + 1} rolloutRestart Failed`),
    );
    expect(conditionsOf(plan.status)).toEqual({
      Remediated: 'False/MaxAttemptsExhausted',
      Escalated: 'True/MaxAttemptsExhausted',
    });
    expect(eventsOf(plan)).toEqual(['Warning AttemptFailed', 'Warning Escalated']);
    expect(plan.status.escalation?.startedAt).toBe(iso(now));
    expect(plan.effect).toBeUndefined();
  });

  it.each([
    { name: 'a storm (it only stops new incidents)', extra: { incidentsInStormWindow: 50 }, refused: '' },
    {
      name: "another incident's action 5m ago",
      extra: { otherAttemptsOnTarget: [at(-3 * MINUTE)] },
      refused: 'CooldownActive',
    },
    {
      name: 'two other actions in the hour, plus attempt-1',
      extra: { otherAttemptsOnTarget: [at(-40 * MINUTE), at(-35 * MINUTE)] },
      refused: 'HourlyBudgetExhausted',
    },
  ])('the next attempt is subject to the harm limits: $name', ({ extra, refused }) => {
    const plan = run(
      opened(),
      observations(at(2 * MINUTE), { ...extra, target: acted('attempt-1', { rollout: 'failed' }) }),
    );
    if (!refused) {
      expect(attemptsOf(plan.status)).toEqual([
        'attempt-1 rolloutRestart Failed',
        'attempt-2 rolloutRestart Running',
      ]);
      expect(phaseOf(plan)).toBe('Remediating');
      return;
    }
    expect(phaseOf(plan)).toBe('Escalated');
    expect(attemptsOf(plan.status)).toEqual(['attempt-1 rolloutRestart Failed']);
    expect(conditionsOf(plan.status)).toEqual({
      Remediated: `False/${refused}`,
      Escalated: `True/${refused}`,
    });
    expect(eventsOf(plan)).toEqual(['Warning AttemptFailed', 'Warning Escalated']);
  });

  it('fails the attempt and escalates when the target disappears during it', () => {
    const plan = run(opened(), observations(at(2 * MINUTE), { target: target(undefined) }));
    expect(phaseOf(plan)).toBe('Escalated');
    expect(attemptsOf(plan.status)).toEqual(['attempt-1 rolloutRestart Failed']);
    expect(plan.status.attempts?.[0]?.message).toBe(`${WHERE} disappeared during the attempt`);
    expect(conditionsOf(plan.status)).toEqual({
      Remediated: 'False/TargetNotFound',
      Escalated: 'True/TargetNotFound',
    });
    expect(eventsOf(plan)).toEqual(['Warning AttemptFailed', 'Warning Escalated']);
    expect(plan.effect).toBeUndefined();
  });
});

describe('decide: harm limits and missing prerequisites refuse the first attempt', () => {
  const policyRef = { actions: undefined, policyRef: { name: 'restart-checkout' } };
  const onStatefulSet = { target: { kind: 'StatefulSet' as const, name: 'checkout' } };
  const onDaemonSet = { target: { kind: 'DaemonSet' as const, name: 'checkout' } };

  it.each<{
    reason: string;
    name: string;
    spec?: Partial<IncidentSpec>;
    obs?: Partial<Observations>;
    s?: Partial<IncidentSettings>;
    message?: string;
  }>([
    { reason: 'NoTarget', name: 'no target', spec: { target: undefined }, obs: { target: undefined } },
    { reason: 'TargetNotFound', name: 'the workload does not exist', obs: { target: target(undefined) } },
    {
      reason: 'RemediationDisabled',
      name: 'selfheal.dev/disabled=true on the workload',
      obs: { target: target(deployment({ annotations: disabledAnnotations })) },
    },
    {
      reason: 'RemediationDisabled',
      name: 'selfheal.dev/disabled=true on the namespace',
      obs: { target: target(deployment(), disabledAnnotations) },
    },
    {
      reason: 'TargetPaused',
      name: 'rolloutRestart on a paused Deployment',
      obs: { target: target(deployment({ paused: true })) },
      message: "can't restart paused deployment checkout (run rollout resume first)",
    },
    {
      reason: 'OnDeleteStrategy',
      name: 'rolloutRestart on a StatefulSet with updateStrategy OnDelete',
      spec: onStatefulSet,
      obs: { target: target(statefulSet({ type: 'OnDelete' })) },
      message:
        'StatefulSet checkout uses the OnDelete update strategy: a restart would change the template and roll out nothing until pods are deleted by hand',
    },
    {
      reason: 'OnDeleteStrategy',
      name: 'rolloutRestart on a DaemonSet with updateStrategy OnDelete',
      spec: onDaemonSet,
      obs: { target: target(daemonSet('checkout', 'OnDelete')) },
    },
    {
      reason: 'ActionRefused',
      name: 'scale on a DaemonSet',
      spec: { ...onDaemonSet, actions: [scaleBy(1)] },
      obs: { target: target(daemonSet()) },
      message: 'a DaemonSet runs one pod per node and cannot be scaled',
    },
    {
      reason: 'StormBreaker',
      name: '11 incidents in the storm window (max 10)',
      obs: { incidentsInStormWindow: 11 },
    },
    {
      reason: 'StormBreaker',
      name: 'a storm of 3 with storm.maxIncidents 2',
      obs: { incidentsInStormWindow: 3 },
      s: { storm: { maxIncidents: 2, windowMs: 5 * MINUTE } },
    },
    {
      reason: 'CooldownActive',
      name: 'another incident acted 10m ago (cooldown 30m)',
      obs: { otherAttemptsOnTarget: [at(-9 * MINUTE)] },
    },
    {
      reason: 'CooldownActive',
      name: "another incident acted 45m ago (the policy's cooldown 1h)",
      spec: policyRef,
      obs: {
        policy: policy({ guards: { maxAttempts: 3, cooldown: '1h', maxPerHour: 3 } }),
        otherAttemptsOnTarget: [at(-44 * MINUTE)],
      },
    },
    {
      reason: 'HourlyBudgetExhausted',
      name: '3 actions in the last hour (maxPerHour 3)',
      obs: { otherAttemptsOnTarget: [at(-58 * MINUTE), at(-44 * MINUTE), at(-30 * MINUTE)] },
    },
    {
      reason: 'HourlyBudgetExhausted',
      name: "1 action in the last hour (the policy's maxPerHour 1)",
      spec: policyRef,
      obs: {
        policy: policy({ guards: { maxAttempts: 3, cooldown: '30m', maxPerHour: 1 } }),
        otherAttemptsOnTarget: [at(-39 * MINUTE)],
      },
    },
    {
      reason: 'PolicyNotFound',
      name: 'policyRef names a missing policy',
      spec: policyRef,
      obs: { policy: null },
    },
  ])('$reason: $name', ({ reason, spec, obs, s, message }) => {
    const plan = run(incident({ spec }), observations(at(MINUTE), obs), settings(s));

    expect(phaseOf(plan)).toBe('Escalated');
    expect(conditionsOf(plan.status)).toEqual({ Remediated: `False/${reason}`, Escalated: `True/${reason}` });
    if (message) expect(conditionMessage(plan.status, 'Escalated')).toBe(message);
    expect(plan.status.attempts ?? []).toEqual([]);
    expect(plan.status.attemptCount).toBe(0);
    expect(plan.effect).toBeUndefined();
    expect(eventsOf(plan)).toEqual(['Normal Open', 'Warning Escalated']);
    expect(plan.status.escalation).toEqual({
      level: 0,
      reason: conditionMessage(plan.status, 'Escalated'),
      startedAt: iso(MINUTE),
    });
    expect(plan.status.plannedActions).toBeUndefined();
    // Nothing is pending but the SLA clocks: the response target (T0+15m) is the nearest.
    expect(plan.requeueAfterMs).toBe(14 * MINUTE);
  });

  it.each<{
    name: string;
    spec?: Partial<IncidentSpec>;
    obs?: Partial<Observations>;
    s?: Partial<IncidentSettings>;
  }>([
    { name: 'exactly storm.maxIncidents incidents in the window', obs: { incidentsInStormWindow: 10 } },
    {
      name: 'another incident acted exactly the cooldown ago',
      obs: { otherAttemptsOnTarget: [at(MINUTE - 30 * MINUTE)] },
    },
    {
      name: 'two actions in the last hour and one exactly an hour ago',
      obs: { otherAttemptsOnTarget: [at(MINUTE - HOUR), at(-40 * MINUTE), at(-30 * MINUTE)] },
    },
    {
      name: "another incident acted 10m ago under the policy's 5m cooldown",
      spec: policyRef,
      obs: {
        policy: policy({ guards: { maxAttempts: 3, cooldown: '5m', maxPerHour: 3 } }),
        otherAttemptsOnTarget: [at(-9 * MINUTE)],
      },
    },
    {
      name: 'selfheal.dev/disabled=false on the workload and its namespace',
      obs: {
        target: target(deployment({ annotations: { 'selfheal.dev/disabled': 'false' } }), {
          'selfheal.dev/disabled': 'false',
        }),
      },
    },
    { name: 'paused: false on the Deployment', obs: { target: target(deployment({ paused: false })) } },
    { name: 'scale on a Deployment', spec: { actions: [scaleBy(1)] } },
    {
      name: 'scale on a paused Deployment (only a restart needs the rollout)',
      spec: { actions: [scaleBy(1)] },
      obs: { target: target(deployment({ paused: true })) },
    },
    {
      name: 'rolloutRestart on a StatefulSet with updateStrategy RollingUpdate',
      spec: onStatefulSet,
      obs: { target: target(statefulSet()) },
    },
    {
      name: 'scale on a StatefulSet with updateStrategy OnDelete (no rollout needed)',
      spec: { ...onStatefulSet, actions: [scaleBy(1)] },
      obs: { target: target(statefulSet({ type: 'OnDelete' })) },
    },
    {
      name: 'rolloutRestart on a DaemonSet with updateStrategy RollingUpdate',
      spec: onDaemonSet,
      obs: { target: target(daemonSet()) },
    },
    { name: 'settings.paused (no longer read: the pause arrives as obs.pause)', s: { paused: true } },
    {
      name: "another incident's claim that no longer binds",
      obs: { claim: otherClaim({ live: false }), otherAttemptsOnTarget: [at(-40 * MINUTE)] },
    },
  ])('at the limit, automation still acts: $name', ({ spec, obs, s }) => {
    const plan = run(incident({ spec }), observations(at(MINUTE), obs), settings(s));
    expect(phaseOf(plan)).toBe('Remediating');
    expect(plan.status.attempts?.map((a) => a.result)).toEqual(['Running']);
    expect(conditionsOf(plan.status)).toEqual({});
    expect(plan.effect?.attempt.id).toBe('attempt-1');
  });

  it.each([
    { name: 'no actions and no policyRef', spec: { actions: undefined } },
    { name: 'an empty action list', spec: { actions: [] } },
  ])('NoAutomatedRemediation: $name escalates only', ({ spec }) => {
    const plan = run(incident({ spec }), observations(at(MINUTE)));
    expect(phaseOf(plan)).toBe('Escalated');
    expect(conditionsOf(plan.status)).toEqual({ Escalated: 'True/NoAutomatedRemediation' });
    expect(plan.status.attempts ?? []).toEqual([]);
    expect(plan.effect).toBeUndefined();
    expect(eventsOf(plan)).toEqual(['Normal Open', 'Warning Escalated']);
  });
});

describe('decide: the harm limits right before the effect', () => {
  it('is one ordered table, the checks on the target and the action also guarding the effect', () => {
    expect(HARM_LIMITS.map((l) => [l.name, [...l.stages]])).toEqual([
      ['target-named', ['start', 'effect']],
      ['target-exists', ['start', 'effect']],
      ['namespace-enabled', ['start', 'effect']],
      ['workload-enabled', ['start', 'effect']],
      ['target-allowed', ['start', 'effect']],
      ['action-available', ['start', 'effect']],
      ['action-allowed', ['start', 'effect']],
      ['max-attempts', ['start']],
      ['storm-breaker', ['start']],
      ['cooldown', ['start']],
      ['hourly-budget', ['start']],
      ['attempt-record', ['start']],
    ]);
  });

  it.each<{
    name: string;
    spec?: Partial<IncidentSpec>;
    obs: Partial<Observations>;
    reason: string;
    message: string;
  }>([
    {
      name: 'the namespace opted out',
      obs: { target: target(deployment(), disabledAnnotations) },
      reason: 'RemediationDisabled',
      message: `namespace ${NAMESPACE} is annotated selfheal.dev/disabled=true`,
    },
    {
      name: 'the workload opted out',
      obs: { target: target(deployment({ annotations: disabledAnnotations })) },
      reason: 'RemediationDisabled',
      message: `${WHERE} is annotated selfheal.dev/disabled=true`,
    },
    {
      name: 'the Deployment was paused',
      obs: { target: target(deployment({ paused: true })) },
      reason: 'TargetPaused',
      message: "can't restart paused deployment checkout (run rollout resume first)",
    },
    {
      name: 'the StatefulSet switched to OnDelete',
      spec: { target: { kind: 'StatefulSet', name: 'checkout' } },
      obs: { target: target(statefulSet({ type: 'OnDelete' })) },
      reason: 'OnDeleteStrategy',
      message:
        'StatefulSet checkout uses the OnDelete update strategy: a restart would change the template and roll out nothing until pods are deleted by hand',
    },
  ])(
    'a limit that appeared after the intent ($name): the attempt ends Refused, not applied, and escalates',
    ({ spec, obs, reason, message }) => {
      const start = spec?.target?.kind === 'StatefulSet' ? { target: target(statefulSet()) } : {};
      const inc = intended(spec, settings(), start);
      const plan = run(inc, observations(at(2 * MINUTE), obs));

      expect(plan.effect).toBeUndefined();
      expect(attemptsOf(plan.status)).toEqual(['attempt-1 rolloutRestart Refused']);
      expect(plan.status.attempts?.[0]).toMatchObject({
        finishedAt: iso(2 * MINUTE),
        message: `not applied: ${message}`,
      });
      expect(phaseOf(plan)).toBe('Escalated');
      expect(conditionsOf(plan.status)).toEqual({
        Remediated: `False/${reason}`,
        Escalated: `True/${reason}`,
      });
      expect(conditionMessage(plan.status, 'Escalated')).toBe(message);
      expect(eventsOf(plan)).toEqual(['Warning AttemptRefused', 'Warning Escalated']);
    },
  );

  it('a remediation switched to dry run after the intent: Refused, escalated with DryRun and the plan', () => {
    const inc = withSpec(intended(), { dryRun: true });
    const plan = run(inc, observations(at(2 * MINUTE)));

    expect(plan.effect).toBeUndefined();
    expect(attemptsOf(plan.status)).toEqual(['attempt-1 rolloutRestart Refused']);
    expect(plan.status.attempts?.[0]?.message).toBe('not applied: the remediation was switched to dry run');
    expect(plan.status.plannedActions).toEqual([{ action: 'rolloutRestart', description: RESTART_MESSAGE }]);
    expect(conditionsOf(plan.status)).toEqual({ Remediated: 'False/DryRun', Escalated: 'True/DryRun' });
    expect(eventsOf(plan)).toEqual(['Warning AttemptRefused', 'Warning Escalated']);
  });

  it.each<{ name: string; obs: Partial<Observations> }>([
    { name: 'a storm that began after the intent', obs: { incidentsInStormWindow: 50 } },
    {
      name: "another incident's action after the intent (cooldown)",
      obs: { otherAttemptsOnTarget: [at(90 * SECOND)] },
    },
    {
      name: 'the hourly budget spent by others after the intent',
      obs: { otherAttemptsOnTarget: [at(70 * SECOND), at(80 * SECOND), at(90 * SECOND)] },
    },
  ])('the limits of the start do not stop a recorded effect: $name', ({ obs }) => {
    const inc = intended();
    const plan = run(inc, observations(at(2 * MINUTE), obs));
    expect(plan.effect).toEqual(effectOf(inc, 0, restart));
    expect(plan.status).toEqual(stored(inc));
  });
});

describe('decide: dry run', () => {
  const planned = [
    { action: 'rolloutRestart', description: RESTART_MESSAGE },
    { action: 'scale', description: 'scale Deployment checkout from 2 to 3 replicas' },
  ];

  it.each<{ name: string; spec: Partial<IncidentSpec>; obs?: Partial<Observations>; expected: unknown[] }>([
    { name: 'spec.dryRun', spec: { dryRun: true, actions: [restart, scaleBy(1)] }, expected: planned },
    {
      name: "the policy's dryRun",
      spec: { actions: undefined, policyRef: { name: 'restart-checkout' } },
      obs: { policy: policy({ dryRun: true, actions: [restart, scaleBy(1)] }) },
      expected: planned,
    },
    {
      name: 'spec.dryRun with a queue action',
      spec: { dryRun: true, actions: [restart, queueDrain] },
      expected: [
        planned[0],
        {
          action: 'queueDrain',
          description: 'wait for consumers to bring queue orders to 0 or fewer ready messages',
        },
      ],
    },
  ])('$name: plans every action, touches nothing, escalates with DryRun', ({ spec, obs, expected }) => {
    const plan = run(incident({ spec }), observations(at(MINUTE), obs));

    expect(plan.status.plannedActions).toEqual(expected);
    expect(phaseOf(plan)).toBe('Escalated');
    expect(conditionsOf(plan.status)).toEqual({ Remediated: 'False/DryRun', Escalated: 'True/DryRun' });
    expect(plan.status.attempts ?? []).toEqual([]);
    expect(plan.effect).toBeUndefined();
    expect(eventsOf(plan)).toEqual(['Normal Open', 'Warning Escalated']);
  });
});

describe('decide: the global pause holds automation', () => {
  const HELD = `held: automated remediation is paused (${PAUSE.reason})`;

  it('a new incident: no attempt, Held with the reason, the phase stays Open, nobody paged', () => {
    const plan = run(incident(), observations(at(MINUTE), paused));

    expect(phaseOf(plan)).toBe('Open');
    expect(plan.status.attempts ?? []).toEqual([]);
    expect(plan.effect).toBeUndefined();
    expect(conditionsOf(plan.status)).toEqual({ Held: 'True/GlobalPause' });
    expect(conditionMessage(plan.status, 'Held')).toBe(`${HELD}; rolloutRestart starts when it is resumed`);
    expect(plan.status.escalation).toEqual({ level: 0 });
    expect(timelineTypes(plan.status)).toEqual(['Open', 'Held']);
    expect(eventsOf(plan)).toEqual(['Normal Open', 'Warning Held']);
    expect(plan.requeueAfterMs).toBe(14 * MINUTE);
  });

  it('a recorded attempt not yet applied: its effect waits, the attempt stays Running', () => {
    const inc = intended();
    const plan = run(inc, observations(at(2 * MINUTE), paused));

    expect(plan.effect).toBeUndefined();
    expect(attemptsOf(plan.status)).toEqual(['attempt-1 rolloutRestart Running']);
    expect(phaseOf(plan)).toBe('Remediating');
    expect(conditionsOf(plan.status)).toEqual({ Held: 'True/GlobalPause' });
    expect(conditionMessage(plan.status, 'Held')).toBe(`${HELD}; attempt-1 is applied when it is resumed`);
    expect(eventsOf(plan)).toEqual(['Warning Held']);
    expect(plan.requeueAfterMs).toBe(MINUTE + ATTEMPT_TIMEOUT - 2 * MINUTE);
  });

  it.each<{ name: string; before: () => Incident; obs: Partial<Observations> }>([
    { name: 'a held new incident', before: () => incident(), obs: {} },
    { name: 'a held attempt', before: () => intended(), obs: {} },
  ])('records Held once: a later pass while paused ($name) changes nothing', ({ before, obs }) => {
    const first = run(before(), observations(at(2 * MINUTE), { ...obs, ...paused }));
    const second = run(
      withStatus(before(), first.status),
      observations(at(3 * MINUTE), { ...obs, ...paused }),
    );
    expect(eventsOf(second)).toEqual([]);
    expect(second.status).toEqual(first.status);
    expect(second.effect).toBeUndefined();
  });

  it.each<{ name: string; before: () => Incident; events: string[]; attempt: 'attempt-1' }>([
    {
      name: 'a held new incident starts attempt-1',
      before: () => incident(),
      events: ['Normal Resumed', 'Normal AttemptStarted', 'Normal Remediating'],
      attempt: 'attempt-1',
    },
    {
      name: 'a held attempt is applied',
      before: () => intended(),
      events: ['Normal Resumed'],
      attempt: 'attempt-1',
    },
  ])('when the pause is lifted, Held becomes False/Resumed and $name', ({ before, events, attempt }) => {
    const held = chain(before(), [{ obs: observations(at(2 * MINUTE), paused) }]).incident;
    const plan = run(held, observations(at(5 * MINUTE)));

    expect(conditionsOf(plan.status)).toEqual({ Held: 'False/Resumed' });
    expect(conditionMessage(plan.status, 'Held')).toBe('automated remediation was resumed');
    expect(timelineTypes(plan.status)).toContain('Resumed');
    expect(eventsOf(plan)).toEqual(events);
    expect(phaseOf(plan)).toBe('Remediating');
    expect(plan.effect?.attempt.id).toBe(attempt);
  });

  it('an attempt applied before the pause is still followed to its end', () => {
    const plan = run(opened(), observations(at(3 * MINUTE), { ...paused, target: acted('attempt-1') }));
    expect(phaseOf(plan)).toBe('Resolved');
    expect(eventsOf(plan)).toEqual(['Normal AttemptSucceeded', 'Normal Verifying', 'Normal Resolved']);
    expect(conditionsOf(plan.status)).not.toHaveProperty('Held');
  });

  it('a rollout that fails during the pause: the attempt fails, the next one is held, nothing escalates', () => {
    const plan = run(
      opened(),
      observations(at(3 * MINUTE), { ...paused, target: acted('attempt-1', { rollout: 'failed' }) }),
    );
    expect(attemptsOf(plan.status)).toEqual(['attempt-1 rolloutRestart Failed']);
    expect(plan.effect).toBeUndefined();
    expect(phaseOf(plan)).toBe('Remediating');
    expect(conditionsOf(plan.status)).toEqual({
      Remediated: 'False/AttemptFailed',
      Held: 'True/GlobalPause',
    });
    expect(eventsOf(plan)).toEqual(['Warning AttemptFailed', 'Warning Held']);
  });

  // What the pause holds after a failure must stay held, unchanged, until the pause is lifted: the
  // next pass may not move the phase, re-run a verification that already failed, or record anything.
  const failedRollout = () =>
    chain(opened(), [
      { obs: observations(at(3 * MINUTE), { ...paused, target: acted('attempt-1', { rollout: 'failed' }) }) },
    ]).incident;
  const failedVerification = () =>
    chain(opened({ actions: [restart, scaleBy(1)], verification: expired('5m') }), [
      { obs: observations(at(3 * MINUTE), { ...paused, ...doesNotHold, target: acted('attempt-1') }) },
      { obs: observations(at(9 * MINUTE), { ...paused, ...doesNotHold, target: acted('attempt-1') }) },
    ]).incident;

  it.each<{ name: string; held: () => Incident; obs: Partial<Observations> }>([
    {
      name: 'a failed rollout',
      held: failedRollout,
      obs: { target: acted('attempt-1', { rollout: 'failed' }) },
    },
    {
      name: 'a failed verification',
      held: failedVerification,
      obs: { ...holds, target: acted('attempt-1') },
    },
  ])('held after $name: a later pass while paused changes nothing', ({ held, obs }) => {
    const before = held();
    expect(conditionsOf(stored(before))).toMatchObject({ Held: 'True/GlobalPause' });
    const plan = run(before, observations(at(10 * MINUTE), { ...obs, ...paused }));
    expect(eventsOf(plan)).toEqual([]);
    expect(plan.status).toEqual(stored(before));
  });

  it.each<{ name: string; held: () => Incident; obs: Partial<Observations>; next: string }>([
    {
      name: 'a failed rollout: the held attempt-2 starts',
      held: failedRollout,
      obs: { target: acted('attempt-1', { rollout: 'failed' }) },
      next: 'attempt-2 rolloutRestart Running',
    },
    {
      name: 'a failed verification: the untried action starts',
      held: failedVerification,
      obs: { ...holds, target: acted('attempt-1') },
      next: 'attempt-2 scale Running',
    },
  ])('held after $name when the pause is lifted', ({ held, obs, next }) => {
    const plan = run(held(), observations(at(10 * MINUTE), obs));
    expect(conditionsOf(plan.status)).toMatchObject({ Held: 'False/Resumed' });
    expect(attemptsOf(plan.status).at(-1)).toBe(next);
    expect(phaseOf(plan)).toBe('Remediating');
    expect(plan.effect?.attempt.id).toBe('attempt-2');
  });
});

describe('decide: one remediation at a time per workload (claims)', () => {
  const FOLLOWING = `${WHERE} is being remediated by incident ${OTHER.incident} (attempt-1): following its outcome`;

  it.each<{ name: string; obs: Partial<Observations> }>([
    {
      name: 'its attempt started before this incident',
      obs: { claim: otherClaim({ expiresAt: iso(30 * MINUTE) }), otherAttemptsOnTarget: [at(-31 * MINUTE)] },
    },
    // With the default guards a claim is always younger than the cooldown (5m timeout, 30m cooldown):
    // the claimant's own attempt must not turn following into an escalation.
    {
      name: "its attempt started a minute ago, within this incident's cooldown",
      obs: { claim: otherClaim(), otherAttemptsOnTarget: [at(0)] },
    },
  ])(
    "another incident's live claim on the target ($name): no attempt, this incident follows it",
    ({ obs }) => {
      const plan = run(incident(), observations(at(MINUTE), obs));

      expect(plan.status.following).toEqual({ ...OTHER, attempt: 'attempt-1', since: iso(MINUTE) });
      expect(phaseOf(plan)).toBe('Remediating');
      expect(plan.status.attempts ?? []).toEqual([]);
      expect(plan.effect).toBeUndefined();
      expect(conditionsOf(plan.status)).toEqual({ Remediated: 'False/FollowingIncident' });
      expect(conditionMessage(plan.status, 'Remediated')).toBe(FOLLOWING);
      expect(plan.status.timeline?.find((t) => t.type === 'Following')?.message).toBe(FOLLOWING);
      expect(eventsOf(plan)).toEqual(['Normal Open', 'Normal Following', 'Normal Remediating']);
    },
  );

  it("an attempt recorded but not applied when another incident's claim appears ends Refused, and this one follows", () => {
    const plan = run(intended(), observations(at(2 * MINUTE), { claim: otherClaim() }));

    expect(plan.effect).toBeUndefined();
    expect(attemptsOf(plan.status)).toEqual(['attempt-1 rolloutRestart Refused']);
    expect(plan.status.attempts?.[0]?.message).toBe(
      `not applied: ${WHERE} is claimed by incident ${OTHER.incident} (attempt-1)`,
    );
    expect(plan.status.following).toEqual({ ...OTHER, attempt: 'attempt-1', since: iso(2 * MINUTE) });
    expect(phaseOf(plan)).toBe('Remediating');
    expect(conditionsOf(plan.status)).toEqual({ Remediated: 'False/FollowingIncident' });
    expect(eventsOf(plan)).toEqual(['Warning AttemptRefused', 'Normal Following']);
  });

  it('its own claim does not stop an attempt: the effect is planned', () => {
    const inc = intended();
    const own = {
      claim: { incident: 'checkout-errors', uid: UID, attempt: 'attempt-1', expiresAt: iso(6 * MINUTE) },
      own: true,
      live: true,
    };
    const plan = run(inc, observations(at(2 * MINUTE), { claim: own }));
    expect(plan.effect).toEqual(effectOf(inc, 0, restart));
  });

  /** Following the other incident since +1m, with attempt-1 refused for its claim (maxAttempts 1). */
  const following = (s = settings(), spec: Partial<IncidentSpec> = {}) =>
    chain(intended(spec, s), [{ obs: observations(at(MINUTE), { claim: otherClaim() }) }], s).incident;
  const one = settings({ defaultGuards: { maxAttempts: 1, cooldownMs: 30 * MINUTE, maxPerHour: 1 } });

  it('while the followed incident is still at work, nothing changes', () => {
    const before = following();
    const plan = run(
      before,
      observations(at(3 * MINUTE), {
        followed: otherIncident({ phase: 'Remediating' }),
        claim: otherClaim(),
      }),
    );
    expect(plan.status).toEqual(stored(before));
    expect(eventsOf(plan)).toEqual([]);
    expect(plan.effect).toBeUndefined();
  });

  it('the followed incident resolved: this one is resolved with it', () => {
    const resolvedMessage = 'remediated automatically and verified';
    const other = otherIncident({
      phase: 'Resolved',
      conditions: [
        {
          type: 'Resolved',
          status: 'True',
          reason: 'RemediatedAndVerified',
          message: resolvedMessage,
          lastTransitionTime: iso(4 * MINUTE),
        },
      ],
    });
    const plan = run(following(), observations(at(5 * MINUTE), { followed: other }));

    expect(phaseOf(plan)).toBe('Resolved');
    expect(plan.status.resolvedAt).toBe(iso(5 * MINUTE));
    expect(plan.status.following).toBeUndefined();
    expect(conditionsOf(plan.status)).toEqual({
      Remediated: 'True/RemediatedWithIncident',
      Resolved: 'True/ResolvedWithIncident',
    });
    expect(conditionMessage(plan.status, 'Resolved')).toBe(
      `resolved with incident ${OTHER.incident}: ${resolvedMessage}`,
    );
    expect(eventsOf(plan)).toEqual(['Normal Resolved']);
  });

  it.each<{ after: number; phase: Phase; requeue?: number }>([
    { after: HOUR - SECOND, phase: 'Resolved', requeue: SECOND },
    { after: HOUR, phase: 'Closed' },
  ])(
    'resolved with the followed incident, it watches for the signal through the recurrence window as after its own fix: $phase $after ms later',
    ({ after, phase, requeue }) => {
      const other = otherIncident({
        phase: 'Resolved',
        conditions: [
          {
            type: 'Resolved',
            status: 'True',
            reason: 'RemediatedAndVerified',
            message: 'remediated automatically and verified',
            lastTransitionTime: iso(4 * MINUTE),
          },
        ],
      });
      const resolved = chain(following(settings(), { severity: 'P3' }), [
        { obs: observations(at(5 * MINUTE), { followed: other }) },
      ]).incident;
      const plan = run(resolved, observations(at(5 * MINUTE + after), { followed: other }));
      expect(phaseOf(plan)).toBe(phase);
      expect(plan.status.postMortem).toEqual({ required: false });
      expect(plan.requeueAfterMs).toBe(requeue);
    },
  );

  it('the followed incident escalated: this one escalates with it', () => {
    const other = otherIncident({
      phase: 'Escalated',
      conditions: [
        {
          type: 'Escalated',
          status: 'True',
          reason: 'MaxAttemptsExhausted',
          message: '3 of 3 attempts used',
          lastTransitionTime: iso(4 * MINUTE),
        },
      ],
    });
    const plan = run(following(), observations(at(5 * MINUTE), { followed: other }));

    expect(phaseOf(plan)).toBe('Escalated');
    expect(plan.status.following).toBeUndefined();
    expect(conditionsOf(plan.status)).toEqual({
      Remediated: 'False/EscalatedWithIncident',
      Escalated: 'True/EscalatedWithIncident',
    });
    expect(conditionMessage(plan.status, 'Escalated')).toBe(
      `incident ${OTHER.incident} escalated: 3 of 3 attempts used`,
    );
    expect(eventsOf(plan)).toEqual(['Warning Escalated']);
  });

  it.each<{ name: string; followedIncident: Incident | null }>([
    { name: 'is gone', followedIncident: null },
    {
      name: 'was re-created under the same name (another uid)',
      followedIncident: otherIncident({ phase: 'Open' }, 'another-uid'),
    },
  ])('the followed incident $name: this one stops following and decides again', ({ followedIncident }) => {
    const plan = run(following(), observations(at(5 * MINUTE), { followed: followedIncident }));

    expect(plan.status.following).toBeUndefined();
    expect(plan.status.timeline?.find((t) => t.type === 'StoppedFollowing')?.message).toBe(
      `incident ${OTHER.incident} is gone: deciding again`,
    );
    expect(attemptsOf(plan.status)).toEqual([
      'attempt-1 rolloutRestart Refused',
      'attempt-2 rolloutRestart Running',
    ]);
    // Still Remediating: the phase does not change, so no phase Event.
    expect(eventsOf(plan)).toEqual(['Normal StoppedFollowing', 'Normal AttemptStarted']);
    expect(plan.effect?.attempt.id).toBe('attempt-2');
  });

  it.each<{ name: string; s: IncidentSettings; spec?: Partial<IncidentSpec>; next: string }>([
    {
      name: 'maxAttempts 1 and maxPerHour 1 still allow an attempt',
      s: one,
      next: 'attempt-2 rolloutRestart Running',
    },
    {
      name: 'the next attempt runs the first action again',
      s: settings(),
      spec: { actions: [restart, scaleBy(1)] },
      next: 'attempt-2 rolloutRestart Running',
    },
  ])('a Refused attempt counts for nothing: $name', ({ s, spec, next }) => {
    const plan = run(following(s, spec), observations(at(5 * MINUTE), { followed: null }), s);
    expect(attemptsOf(plan.status).at(-1)).toBe(next);
    expect(plan.status.attempts?.at(-1)?.actionIndex).toBe(0);
    expect(conditionsOf(plan.status)).not.toHaveProperty('Escalated');
  });
});

describe('decide: what people set', () => {
  const ack = { acknowledgedBy: 'alice@example.com' };
  const rollingOut = { target: acted('attempt-1', { rollout: 'progressing' }) };

  it.each<{ name: string; state: () => Incident; obs?: Partial<Observations>; phase: Phase }>([
    { name: 'Escalated', state: () => escalated(), phase: 'Acknowledged' },
    { name: 'Remediating', state: () => opened(), obs: rollingOut, phase: 'Remediating' },
    { name: 'Verifying', state: () => verifying(), phase: 'Verifying' },
  ])('acknowledgedBy while $name → phase $phase, condition Acknowledged', ({ state, obs, phase }) => {
    const before = state();
    const plan = run(withSpec(before, ack), observations(at(5 * MINUTE), obs));

    expect(phaseOf(plan)).toBe(phase);
    expect(conditionsOf(plan.status)).toEqual({
      ...conditionsOf(stored(before)),
      Acknowledged: 'True/AcknowledgedByPerson',
    });
    expect(eventsOf(plan)).toEqual(['Normal Acknowledged']);

    const again = run(withStatus(withSpec(before, ack), plan.status), observations(at(5 * MINUTE), obs));
    expect(eventsOf(again)).toEqual([]);
  });

  it.each<{ name: string; state: () => Incident; events: string[] }>([
    { name: 'Open (a new incident)', state: () => incident(), events: ['Normal Open', 'Normal Resolved'] },
    // The running attempt is stopped, and says so.
    { name: 'Remediating', state: () => opened(), events: ['Warning AttemptFailed', 'Normal Resolved'] },
    { name: 'Verifying', state: () => verifying(), events: ['Normal Resolved'] },
    { name: 'Escalated', state: () => escalated(), events: ['Normal Resolved'] },
    {
      name: 'Acknowledged',
      state: () => chain(withSpec(escalated(), ack), [{ obs: observations(at(2 * MINUTE)) }]).incident,
      events: ['Normal Resolved'],
    },
  ])('resolution while $name → Resolved by a person', ({ state, events }) => {
    const before = state();
    const plan = run(
      withSpec(before, { resolution: { resolvedBy: 'bob', note: 'rolled back by hand' } }),
      observations(at(5 * MINUTE), rollingOut),
    );

    expect(phaseOf(plan)).toBe('Resolved');
    expect(plan.status.resolvedAt).toBe(iso(5 * MINUTE));
    expect(conditionsOf(plan.status)).toMatchObject({ Resolved: 'True/ResolvedByPerson' });
    expect(conditionMessage(plan.status, 'Resolved')).toBe('resolved by bob: rolled back by hand');
    expect(eventsOf(plan)).toEqual(events);
    expect(plan.effect).toBeUndefined();
  });

  it('an incident acknowledged during remediation is Acknowledged, not Escalated, once automation gives up', () => {
    const s = settings({ defaultGuards: { maxAttempts: 1, cooldownMs: 30 * MINUTE, maxPerHour: 3 } });
    const { plan } = chain(
      incident(),
      [
        { obs: observations(at(MINUTE)) },
        { obs: observations(at(2 * MINUTE)), spec: ack },
        { obs: observations(at(3 * MINUTE), { target: acted('attempt-1', { rollout: 'failed' }) }) },
        { obs: observations(at(4 * MINUTE)) },
      ],
      s,
    );

    expect(conditionsOf(plan.status)).toMatchObject({
      Acknowledged: 'True/AcknowledgedByPerson',
      Escalated: 'True/MaxAttemptsExhausted',
    });
    expect(phaseOf(plan)).toBe('Acknowledged');
  });

  it('a resolution set after the automated fix changes nothing', () => {
    const before = resolvedByAutomation({ severity: 'P3' });
    const plan = run(withSpec(before, { resolution: { resolvedBy: 'bob' } }), observations(at(10 * MINUTE)));
    expect(plan.status.resolvedAt).toBe(iso(3 * MINUTE));
    expect(conditionsOf(plan.status)).toMatchObject({ Resolved: 'True/RemediatedAndVerified' });
    expect(eventsOf(plan)).toEqual([]);
  });
});

describe('decide: Resolved → Closed', () => {
  const R = 3 * MINUTE; // resolvedAt of both paths below

  it.each<{
    severity: Severity;
    path: 'automation' | 'escalated';
    postMortemSeverities?: Severity[];
    completed?: boolean;
    after: number;
    phase: Phase;
    postMortem: { required: boolean; dueAt?: string };
    requeue?: number;
    events: string[];
  }>([
    {
      severity: 'P3',
      path: 'automation',
      after: 10 * MINUTE,
      phase: 'Resolved',
      postMortem: { required: false },
      requeue: 50 * MINUTE,
      events: [],
    },
    {
      severity: 'P3',
      path: 'automation',
      after: HOUR - SECOND,
      phase: 'Resolved',
      postMortem: { required: false },
      requeue: SECOND,
      events: [],
    },
    {
      severity: 'P3',
      path: 'automation',
      after: HOUR,
      phase: 'Closed',
      postMortem: { required: false },
      events: ['Normal Closed'],
    },
    {
      severity: 'P2',
      path: 'automation',
      after: HOUR,
      phase: 'Closed',
      postMortem: { required: false },
      events: ['Normal Closed'],
    },
    {
      severity: 'P1',
      path: 'automation',
      after: 2 * HOUR,
      phase: 'Resolved',
      postMortem: { required: true, dueAt: iso(R + 48 * HOUR) },
      events: [],
    },
    {
      severity: 'P1',
      path: 'automation',
      completed: true,
      after: 30 * MINUTE,
      phase: 'Resolved',
      postMortem: { required: true, dueAt: iso(R + 48 * HOUR) },
      requeue: 30 * MINUTE,
      events: [],
    },
    {
      severity: 'P1',
      path: 'automation',
      completed: true,
      after: HOUR,
      phase: 'Closed',
      postMortem: { required: true, dueAt: iso(R + 48 * HOUR) },
      events: ['Normal Closed'],
    },
    {
      severity: 'P2',
      path: 'automation',
      postMortemSeverities: ['P1', 'P2'],
      after: 2 * HOUR,
      phase: 'Resolved',
      postMortem: { required: true, dueAt: iso(R + 48 * HOUR) },
      events: [],
    },
    {
      severity: 'P1',
      path: 'automation',
      postMortemSeverities: [],
      after: HOUR,
      phase: 'Closed',
      postMortem: { required: false },
      events: ['Normal Closed'],
    },
    {
      severity: 'P2',
      path: 'escalated',
      after: 3 * HOUR,
      phase: 'Resolved',
      postMortem: { required: true, dueAt: iso(R + 48 * HOUR) },
      events: [],
    },
    {
      severity: 'P3',
      path: 'escalated',
      after: 3 * HOUR,
      phase: 'Resolved',
      postMortem: { required: true, dueAt: iso(R + 168 * HOUR) },
      events: [],
    },
    {
      severity: 'P4',
      path: 'escalated',
      completed: true,
      after: 2 * HOUR,
      phase: 'Closed',
      postMortem: { required: true, dueAt: iso(R + 168 * HOUR) },
      events: ['Normal Closed'],
    },
  ])(
    '$severity resolved by $path, post-mortem completed: $completed, after $after ms → $phase',
    ({ severity, path, postMortemSeverities, completed, after, phase, postMortem, requeue, events }) => {
      const s = settings(postMortemSeverities ? { postMortemSeverities } : {});
      const before =
        path === 'automation' ? resolvedByAutomation({ severity }) : resolvedAfterEscalation({ severity });
      expect(stored(before).resolvedAt).toBe(iso(R));
      const inc = completed ? withSpec(before, { postMortem: { completed: true } }) : before;
      const plan = run(inc, observations(at(R + after)), s);

      expect(phaseOf(plan)).toBe(phase);
      expect(plan.status.postMortem).toEqual(postMortem);
      // A required post-mortem not yet recorded wakes the incident when it falls due (overdue).
      const overdueIn =
        postMortem.required && !completed && postMortem.dueAt
          ? new Date(postMortem.dueAt).getTime() - at(R + after).getTime()
          : undefined;
      expect(plan.requeueAfterMs).toBe(requeue ?? overdueIn);
      expect(plan.postMortemDraft).toBe(postMortem.required ? true : undefined);
      expect(eventsOf(plan)).toEqual(events);
      expect(plan.effect).toBeUndefined();
    },
  );
});

/** The SLA tables look at the playbook's clocks alone; the status page rule has its own table. */
const WITHOUT_STATUS_PAGE_RULE = settings({ statusPageUpdate: { severities: [], withinMs: 15 * MINUTE } });

describe('decide: SLA clocks', () => {
  const ack = { acknowledgedBy: 'alice@example.com' };

  it.each<{
    name: string;
    steps: { at: number; spec?: Partial<IncidentSpec> }[];
    conditions: Record<string, string>;
    events: string[];
    nextUpdate?: number;
    requeue?: number;
  }>([
    {
      name: 'before the response target: nothing, wake at it',
      steps: [{ at: 10 * MINUTE }],
      conditions: DISABLED,
      events: [],
      nextUpdate: 30 * MINUTE,
      requeue: 5 * MINUTE,
    },
    {
      name: '1s before the response target',
      steps: [{ at: 15 * MINUTE - SECOND }],
      conditions: DISABLED,
      events: [],
      nextUpdate: 30 * MINUTE,
      requeue: SECOND,
    },
    {
      name: 'at the response target, not acknowledged: breached',
      steps: [{ at: 15 * MINUTE }],
      conditions: { ...DISABLED, ResponseSLABreached: 'True/NotAcknowledgedInTime' },
      events: ['Warning ResponseSLABreached'],
      nextUpdate: 30 * MINUTE,
      requeue: 15 * MINUTE,
    },
    {
      name: 'already breached: no second event',
      steps: [{ at: 15 * MINUTE }, { at: 16 * MINUTE }],
      conditions: { ...DISABLED, ResponseSLABreached: 'True/NotAcknowledgedInTime' },
      events: [],
      nextUpdate: 30 * MINUTE,
      requeue: 14 * MINUTE,
    },
    {
      name: 'acknowledged before the response target: never breached',
      steps: [{ at: 10 * MINUTE, spec: ack }, { at: 20 * MINUTE }],
      conditions: { ...DISABLED, Acknowledged: 'True/AcknowledgedByPerson' },
      events: [],
      nextUpdate: 30 * MINUTE,
      requeue: 10 * MINUTE,
    },
    {
      name: 'the update cadence passes: UpdateDue, next update advances',
      steps: [{ at: 15 * MINUTE }, { at: 30 * MINUTE }],
      conditions: { ...DISABLED, ResponseSLABreached: 'True/NotAcknowledgedInTime' },
      events: ['Normal UpdateDue'],
      nextUpdate: HOUR,
      requeue: 30 * MINUTE,
    },
    {
      name: 'response target and update time passed while unobserved',
      steps: [{ at: 40 * MINUTE }],
      conditions: { ...DISABLED, ResponseSLABreached: 'True/NotAcknowledgedInTime' },
      events: ['Warning ResponseSLABreached', 'Normal UpdateDue'],
      nextUpdate: HOUR,
      requeue: 20 * MINUTE,
    },
    {
      name: 'update already sent for this period: no second event',
      steps: [{ at: 30 * MINUTE }, { at: 45 * MINUTE }],
      conditions: { ...DISABLED, ResponseSLABreached: 'True/NotAcknowledgedInTime' },
      events: [],
      nextUpdate: HOUR,
      requeue: 15 * MINUTE,
    },
    {
      name: 'acknowledged, not resolved by the resolution target',
      steps: [{ at: 10 * MINUTE, spec: ack }, { at: 4 * HOUR }],
      conditions: {
        ...DISABLED,
        Acknowledged: 'True/AcknowledgedByPerson',
        ResolutionSLABreached: 'True/NotResolvedInTime',
      },
      events: ['Warning ResolutionSLABreached', 'Normal UpdateDue'],
      nextUpdate: 4 * HOUR + 30 * MINUTE,
      requeue: 30 * MINUTE,
    },
    {
      name: 'nobody came at all',
      steps: [{ at: 4 * HOUR }],
      conditions: {
        ...DISABLED,
        ResponseSLABreached: 'True/NotAcknowledgedInTime',
        ResolutionSLABreached: 'True/NotResolvedInTime',
      },
      events: ['Warning ResponseSLABreached', 'Warning ResolutionSLABreached', 'Normal UpdateDue'],
      nextUpdate: 4 * HOUR + 30 * MINUTE,
      requeue: 30 * MINUTE,
    },
    {
      name: 'resolved before the targets: no clocks run afterwards',
      steps: [{ at: 10 * MINUTE, spec: { resolution: { resolvedBy: 'bob' } } }, { at: 5 * HOUR }],
      conditions: { ...DISABLED, Resolved: 'True/ResolvedByPerson' },
      events: [],
      // Escalated, so a post-mortem is due 48 h after the resolution: the only clock left.
      requeue: 10 * MINUTE + 48 * HOUR - 5 * HOUR,
    },
  ])('P1: $name', ({ steps, conditions, events, nextUpdate, requeue }) => {
    const { plan } = chain(
      escalated(),
      steps.map((step) => ({ obs: observations(at(step.at)), ...(step.spec ? { spec: step.spec } : {}) })),
      WITHOUT_STATUS_PAGE_RULE,
    );

    expect(conditionsOf(plan.status)).toEqual(conditions);
    expect(eventsOf(plan)).toEqual(events);
    expect(plan.status.sla?.nextUpdateDueAt).toBe(nextUpdate === undefined ? undefined : iso(nextUpdate));
    expect(plan.requeueAfterMs).toBe(requeue);
    expect(plan.status.sla).toMatchObject({
      responseDueAt: iso(15 * MINUTE),
      resolutionDueAt: iso(4 * HOUR),
    });
  });

  it.each<{ severity: Severity; now: number; requeue: number; nextUpdate: number }>([
    { severity: 'P2', now: 20 * MINUTE, requeue: 10 * MINUTE, nextUpdate: HOUR },
    { severity: 'P3', now: HOUR, requeue: HOUR, nextUpdate: 4 * HOUR },
    { severity: 'P4', now: 4 * HOUR, requeue: 4 * HOUR, nextUpdate: 24 * HOUR },
  ])('$severity: wakes at the nearest deadline', ({ severity, now, requeue, nextUpdate }) => {
    const plan = run(escalated({ severity }), observations(at(now)), WITHOUT_STATUS_PAGE_RULE);
    expect(eventsOf(plan)).toEqual([]);
    expect(plan.requeueAfterMs).toBe(requeue);
    expect(plan.status.sla?.nextUpdateDueAt).toBe(iso(nextUpdate));
  });

  it.each<{
    name: string;
    before: () => Incident;
    now: number;
    s?: IncidentSettings;
    obs?: Partial<Observations>;
  }>([
    {
      name: 'escalated by a harm limit',
      before: () => incident(),
      now: MINUTE,
      obs: { target: target(deployment(), disabledAnnotations) },
    },
    {
      name: 'intent recorded, effect not seen yet (the same effect again)',
      before: () => incident(),
      now: MINUTE,
    },
    {
      name: 'the effect first seen (appliedAt)',
      before: () => intended(),
      now: 2 * MINUTE,
      obs: { target: acted('attempt-1', { rollout: 'progressing' }) },
    },
    { name: 'dry run', before: () => incident({ spec: { dryRun: true } }), now: MINUTE },
    { name: 'held by the pause', before: () => intended(), now: 2 * MINUTE, obs: paused },
    {
      name: 'following another incident',
      before: () => incident(),
      now: MINUTE,
      obs: { claim: otherClaim(), followed: otherIncident({ phase: 'Remediating' }) },
    },
    { name: 'response SLA breached', before: () => escalated(), now: 15 * MINUTE },
    { name: 'update due', before: () => escalated(), now: 40 * MINUTE },
    { name: 'acknowledged', before: () => withSpec(escalated(), ack), now: 10 * MINUTE },
    { name: 'resolution SLA breached', before: () => escalated(), now: 5 * HOUR },
    {
      name: 'verification pending',
      before: () => opened({ verification: verification() }),
      now: 3 * MINUTE,
      obs: { target: acted('attempt-1') },
    },
    {
      name: 'verification holding, not yet for holdFor',
      before: () => verifying(),
      now: 10 * MINUTE,
      obs: { ...holds, target: acted('attempt-1') },
    },
    {
      name: 'verification failed, escalated',
      before: () => verifying({ verification: expired('1m') }),
      now: 4 * MINUTE,
      obs: doesNotHold,
    },
    {
      name: 'resolved by a person, post-mortem outstanding',
      before: () => withSpec(escalated(), { resolution: { resolvedBy: 'bob' } }),
      now: 10 * MINUTE,
    },
    { name: 'closed', before: () => resolvedByAutomation({ severity: 'P3' }), now: 2 * HOUR },
    {
      name: 'resolved by automation (the resolving pass)',
      before: () => opened(),
      now: 3 * MINUTE,
      obs: { target: acted('attempt-1') },
    },
  ])(
    'is idempotent: a second decision at the same now on "$name" changes nothing',
    ({ before, now, s, obs }) => {
      const first = run(before(), observations(at(now), obs), s);
      const second = run(withStatus(before(), first.status), observations(at(now), obs), s);

      expect(eventsOf(second)).toEqual([]);
      expect(second.status).toEqual(first.status);
      expect(second.effect).toEqual(first.effect);
    },
  );
});

describe('decide: verification', () => {
  type Row = {
    name: string;
    spec?: Partial<IncidentSpec>;
    obs?: Partial<Observations>;
    phase: Phase;
    attempts: string[];
    conditions: Record<string, string>;
    events: string[];
    requeue?: number;
    effect?: string;
  };
  const pending = {
    phase: 'Verifying' as const,
    attempts: ['attempt-1 rolloutRestart Succeeded'],
    conditions: { Remediated: 'True/ActionSucceeded', Verified: 'False/VerificationPending' },
    events: ['Normal AttemptSucceeded', 'Normal Verifying'],
    requeue: POLL,
  };

  it.each<Row>([
    { name: 'promQL, not checked yet', ...pending },
    { name: 'promQL, holding but not yet for holdFor', obs: holds, ...pending },
    { name: 'promQL, not holding', obs: doesNotHold, ...pending },
    {
      name: 'promQL, Prometheus unreachable (a visible reason, not a pass)',
      obs: { promQL: { ok: false, error: 'Prometheus at http://prom unreachable' } },
      ...pending,
    },
    {
      // No PromQL to poll: the next look is the nearest deadline, the response target at +15m.
      name: 'alertResolved only, not checked yet',
      spec: { verification: verification({ promQL: undefined, alertResolved: true }) },
      ...pending,
      requeue: 12 * MINUTE,
    },
    {
      name: "the policy's verification, not checked yet",
      spec: { actions: undefined, policyRef: { name: 'restart-checkout' }, verification: undefined },
      obs: { policy: policy({ verification: verification() }) },
      ...pending,
    },
    {
      name: 'promQL, passed',
      spec: { verification: quick() },
      obs: holds,
      phase: 'Resolved',
      attempts: ['attempt-1 rolloutRestart Succeeded'],
      conditions: {
        Remediated: 'True/ActionSucceeded',
        Verified: 'True/VerificationPassed',
        Resolved: 'True/RemediatedAndVerified',
      },
      events: ['Normal AttemptSucceeded', 'Normal Verifying', 'Normal Resolved'],
    },
    {
      name: 'promQL, failed, no untried action',
      spec: { verification: expired() },
      obs: doesNotHold,
      phase: 'Escalated',
      attempts: ['attempt-1 rolloutRestart Succeeded'],
      conditions: {
        Remediated: 'False/VerificationFailed',
        Verified: 'False/VerificationFailed',
        Escalated: 'True/VerificationFailed',
      },
      events: [
        'Normal AttemptSucceeded',
        'Normal Verifying',
        'Warning VerificationFailed',
        'Warning Escalated',
      ],
    },
    {
      name: 'promQL, failed, an untried action left',
      spec: { actions: [restart, scaleBy(1)], verification: expired() },
      obs: doesNotHold,
      phase: 'Remediating',
      attempts: ['attempt-1 rolloutRestart Succeeded', 'attempt-2 scale Running'],
      conditions: { Remediated: 'False/VerificationFailed', Verified: 'False/VerificationFailed' },
      events: [
        'Normal AttemptSucceeded',
        'Normal Verifying',
        'Warning VerificationFailed',
        'Normal AttemptStarted',
        'Normal Remediating',
      ],
      requeue: ATTEMPT_TIMEOUT,
      effect: 'attempt-2',
    },
  ])(
    'after the rollout completes: $name → $phase',
    ({ spec, obs, phase, attempts, conditions, events, requeue, effect }) => {
      const inc = opened(
        { verification: verification(), ...spec },
        settings(),
        obs?.policy ? { policy: obs.policy } : {},
      );
      const plan = run(inc, observations(at(3 * MINUTE), { ...obs, target: acted('attempt-1') }));

      expect(phaseOf(plan)).toBe(phase);
      expect(attemptsOf(plan.status)).toEqual(attempts);
      expect(conditionsOf(plan.status)).toEqual(conditions);
      expect(eventsOf(plan)).toEqual(events);
      expect(plan.effect?.attempt.id).toBe(effect);
      if (requeue !== undefined) expect(plan.requeueAfterMs).toBe(requeue);
    },
  );

  it.each<Omit<Row, 'attempts'>>([
    {
      name: 'still pending',
      obs: holds,
      phase: 'Verifying',
      conditions: { Remediated: 'True/ActionSucceeded', Verified: 'False/VerificationPending' },
      events: [],
      requeue: POLL,
    },
    {
      name: 'passed',
      spec: { verification: quick() },
      obs: holds,
      phase: 'Resolved',
      conditions: {
        Remediated: 'True/ActionSucceeded',
        Verified: 'True/VerificationPassed',
        Resolved: 'True/RemediatedAndVerified',
      },
      events: ['Normal Resolved'],
    },
    {
      name: 'failed',
      spec: { verification: expired('5m') },
      obs: doesNotHold,
      phase: 'Escalated',
      conditions: {
        Remediated: 'False/VerificationFailed',
        Verified: 'False/VerificationFailed',
        Escalated: 'True/VerificationFailed',
      },
      events: ['Warning VerificationFailed', 'Warning Escalated'],
    },
  ])('while Verifying: $name → $phase', ({ spec, obs, phase, conditions, events, requeue }) => {
    const plan = run(verifying(spec), observations(at(10 * MINUTE), obs));
    expect(phaseOf(plan)).toBe(phase);
    expect(conditionsOf(plan.status)).toEqual(conditions);
    expect(eventsOf(plan)).toEqual(events);
    if (requeue !== undefined) expect(plan.requeueAfterMs).toBe(requeue);
    if (phase === 'Resolved') expect(plan.status.resolvedAt).toBe(iso(10 * MINUTE));
  });

  it('says where a hold stands without elapsed time: every pass during the hold writes the same status', () => {
    // P3: no SLA deadline falls within the hold, so only the verification could change the status.
    const base = verifying({ severity: 'P3' });
    const first = run(base, observations(at(10 * MINUTE), holds));
    const message = `PromQL holds since ${iso(10 * MINUTE)}; it must hold for 15m (until ${iso(25 * MINUTE)})`;
    expect(first.status.verification).toEqual({
      startedAt: iso(3 * MINUTE),
      passingSince: iso(10 * MINUTE),
      message,
    });
    expect(conditionMessage(first.status, 'Verified')).toBe(message);

    for (const later of [10 * MINUTE + POLL, 17 * MINUTE, 25 * MINUTE - SECOND]) {
      const next = run(withStatus(base, first.status), observations(at(later), holds));
      expect(next.status).toEqual(first.status);
      expect(eventsOf(next)).toEqual([]);
    }
  });

  it('starts the hold over when PromQL stops holding', () => {
    const holding = chain(verifying(), [{ obs: observations(at(10 * MINUTE), holds) }]).incident;
    const broken = run(holding, observations(at(12 * MINUTE), doesNotHold));
    expect(broken.status.verification).toEqual({
      startedAt: iso(3 * MINUTE),
      message: `PromQL does not hold: ${verification().promQL ?? ''}`,
    });
    const again = run(withStatus(holding, broken.status), observations(at(13 * MINUTE), holds));
    expect(again.status.verification?.passingSince).toBe(iso(13 * MINUTE));
  });

  it.each([
    {
      reason: 'CooldownActive',
      s: settings(),
      obs: { otherAttemptsOnTarget: [at(2 * MINUTE)] },
    },
    {
      reason: 'MaxAttemptsExhausted',
      s: settings({ defaultGuards: { maxAttempts: 1, cooldownMs: 30 * MINUTE, maxPerHour: 3 } }),
      obs: {},
    },
  ])(
    'a failed verification whose untried action a harm limit refuses escalates naming the limit: $reason',
    ({ reason, s, obs }) => {
      const inc = opened({ actions: [restart, scaleBy(1)], verification: expired() }, s);
      const plan = run(
        inc,
        observations(at(3 * MINUTE), { ...obs, ...doesNotHold, target: acted('attempt-1') }),
        s,
      );

      expect(phaseOf(plan)).toBe('Escalated');
      expect(attemptsOf(plan.status)).toEqual(['attempt-1 rolloutRestart Succeeded']);
      expect(conditionMessage(plan.status, 'Escalated')).not.toMatch(/no untried action left/);
      expect(conditionsOf(plan.status)).toEqual({
        Remediated: `False/${reason}`,
        Verified: 'False/VerificationFailed',
        Escalated: `True/${reason}`,
      });
    },
  );

  it('escalates when every action was tried (the last one repeated) and verification fails', () => {
    // attempt-1 (restart) failed, attempt-2 (scale to 3) succeeded, its verification failed.
    const inc = afterFailures(
      incident({ spec: { actions: [restart, scaleBy(1)], verification: expired() } }),
      1,
    );
    const plan = run(
      inc,
      observations(at(4 * MINUTE), { ...doesNotHold, target: acted('attempt-2', { replicas: 3 }) }),
    );
    expect(phaseOf(plan)).toBe('Escalated');
    expect(attemptsOf(plan.status)).toEqual(['attempt-1 rolloutRestart Failed', 'attempt-2 scale Succeeded']);
    expect(conditionsOf(plan.status)).toMatchObject({ Escalated: 'True/VerificationFailed' });
  });
});

describe('decide: the timeline', () => {
  const filler = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ time: iso(0), type: 'Note', message: `old ${i}` }));

  it.each([
    { existing: 0, length: 6, oldestKept: 'Open' },
    { existing: 40, length: 46, oldestKept: 'old 0' },
    { existing: 44, length: MAX_TIMELINE, oldestKept: 'old 0' },
    { existing: 45, length: MAX_TIMELINE, oldestKept: 'old 1' },
    { existing: MAX_TIMELINE, length: MAX_TIMELINE, oldestKept: 'old 6' },
  ])('keeps the last $length entries with $existing older ones', ({ existing, length, oldestKept }) => {
    // The first pass adds Open, AttemptStarted, Remediating; the second AttemptApplied,
    // AttemptFailed, AttemptStarted.
    const first = run(incident({ status: { timeline: filler(existing) } }), observations(at(MINUTE)));
    const plan = run(
      withStatus(incident(), first.status),
      observations(at(2 * MINUTE), { target: acted('attempt-1', { rollout: 'failed' }) }),
    );
    const timeline = plan.status.timeline ?? [];

    expect(timeline).toHaveLength(length);
    expect(timeline.slice(-3).map((t) => t.type)).toEqual([
      'AttemptApplied',
      'AttemptFailed',
      'AttemptStarted',
    ]);
    expect(timeline[0]?.type === 'Note' ? timeline[0].message : timeline[0]?.type).toBe(oldestKept);
    expect(eventsOf(plan)).toEqual([
      'Normal AttemptApplied',
      'Warning AttemptFailed',
      'Normal AttemptStarted',
    ]);
  });
});
