import { describe, expect, it } from '@jest/globals';
import type { Severity } from '../../src/api/group.ts';
import type { Incident, IncidentSpec, IncidentStatus, Phase } from '../../src/api/incident.ts';
import { MAX_TIMELINE } from '../../src/api/incident.ts';
import type { Action } from '../../src/api/remediation.ts';
import { remediationOf, type Observations, type Plan } from '../../src/incidents/decide.ts';
import type { IncidentSettings } from '../../src/incidents/settings.ts';
import {
  HOUR,
  MINUTE,
  NAMESPACE,
  SECOND,
  UID,
  at,
  attemptsOf,
  chain,
  conditionsOf,
  daemonSet,
  deployment,
  disabledAnnotations,
  eventsOf,
  incident,
  iso,
  markerOf,
  observations,
  policy,
  queueDrain,
  restart,
  run,
  scaleBy,
  scaleTo,
  settings,
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
const paused = settings({ paused: true });
const RESTART_MESSAGE =
  'restart Deployment checkout (new restartedAt on the pod template) and wait for its rollout';

/** The workload after attempt `attemptId` acted: its marker where either action writes it. */
function acted(attemptId: string, o: DeploymentOptions = {}) {
  const marker = markerOf(incident(), attemptId);
  return target(deployment({ templateMarker: marker, objectMarker: marker, ...o }));
}

/** First pass at T0+1m: the intent of attempt-1 is recorded. */
function opened(
  spec: Partial<IncidentSpec> = {},
  s: IncidentSettings = settings(),
  extra: Partial<Observations> = {},
): Incident {
  return chain(incident({ spec }), [{ obs: observations(at(MINUTE), extra) }], s).incident;
}

/** First pass at T0+1m under the global pause: escalated, no attempt. */
function escalated(spec: Partial<IncidentSpec> = {}): Incident {
  return chain(incident({ spec }), [{ obs: observations(at(MINUTE)) }], paused).incident;
}

/** Opened at +1m; attempt-1's rollout completed at +3m with the verification still pending. */
function verifying(spec: Partial<IncidentSpec> = {}): Incident {
  return chain(incident({ spec: { verification: verification(), ...spec } }), [
    { obs: observations(at(MINUTE)) },
    { obs: observations(at(3 * MINUTE), { target: acted('attempt-1') }) },
  ]).incident;
}

// What Prometheus answers, and verifications that settle at once: one passes on the first check
// that holds (holdFor 0s), one fails on the first check that does not (timeout 0s).
const holds = { promQL: { ok: true as const, holds: true } };
const doesNotHold = { promQL: { ok: true as const, holds: false } };
const quick = () => verification({ holdFor: '0s' });
const expired = (timeout = '0s') => verification({ timeout });

/** Opened at +1m; attempt-1's rollout completed at +3m: resolved by automation. */
function resolvedByAutomation(spec: Partial<IncidentSpec> = {}): Incident {
  return chain(incident({ spec }), [
    { obs: observations(at(MINUTE)) },
    { obs: observations(at(3 * MINUTE), { target: acted('attempt-1') }) },
  ]).incident;
}

/** Escalated at +1m (global pause); resolved by a person at +3m. */
function resolvedAfterEscalation(spec: Partial<IncidentSpec> = {}): Incident {
  return chain(
    incident({ spec }),
    [
      { obs: observations(at(MINUTE)) },
      { obs: observations(at(3 * MINUTE)), spec: { resolution: { resolvedBy: 'alice' } } },
    ],
    paused,
  ).incident;
}

/** Opened at +1m, then attempts 1..n failed (rollout failed) one minute apart. */
function afterFailures(
  inc: Incident,
  failures: number,
  s: IncidentSettings = settings(),
  extra: Partial<Observations> = {},
): Incident {
  let current = chain(inc, [{ obs: observations(at(MINUTE), extra) }], s).incident;
  for (let i = 1; i <= failures; i++) {
    const obs = observations(at((1 + i) * MINUTE), {
      ...extra,
      target: acted(`attempt-${i}`, { rollout: 'failed' }),
    });
    current = withStatus(current, run(current, obs, s).status);
  }
  return current;
}

const stored = (inc: Incident): IncidentStatus => inc.status ?? {};
const phaseOf = (plan: Plan): Phase | undefined => plan.status.phase;

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
    '$severity: opens, records the intent of attempt-1 without acting, and sets the SLA clocks',
    ({ severity, response, resolution, update }) => {
      const plan = run(incident({ spec: { severity } }), observations(at(MINUTE)));

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
      expect(plan.effect).toBeUndefined();
      expect(plan.requeueAfterMs).toBe(0);
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
      workload: deployment({ templateMarker: markerOf(incident(), 'attempt-1') }),
    },
  ])('applies the recorded intent when the workload carries $name', ({ actions, workload }) => {
    const inc = opened({ actions });
    const plan = run(inc, observations(at(MINUTE + 5 * SECOND), { target: target(workload) }));

    expect(plan.effect).toEqual({
      attempt: stored(inc).attempts?.[0],
      action: actions[0],
      marker: markerOf(inc, 'attempt-1'),
    });
    expect(plan.status).toEqual(stored(inc));
    expect(eventsOf(plan)).toEqual([]);
    expect(plan.requeueAfterMs).toBe(POLL);
  });

  it.each([
    { name: 'rolloutRestart (marker on the pod template)', actions: [restart], marker: 'template' },
    { name: 'scale (marker on the Deployment)', actions: [scaleBy(1)], marker: 'object' },
  ])('$name: a complete rollout resolves the incident', ({ actions, marker }) => {
    const inc = opened({ actions });
    const m = markerOf(inc, 'attempt-1');
    const workload = deployment(marker === 'template' ? { templateMarker: m } : { objectMarker: m });
    const plan = run(inc, observations(at(3 * MINUTE), { target: target(workload) }));

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
    { name: 'a poll interval away', elapsed: 2 * MINUTE, poll: POLL, requeue: POLL },
    { name: 'the deadline, when nearer', elapsed: 5 * MINUTE - 500, poll: POLL, requeue: 500 },
    { name: 'the deadline, with a long poll', elapsed: 4 * MINUTE, poll: 90 * SECOND, requeue: MINUTE },
  ])('a progressing rollout changes nothing and looks again at $name', ({ elapsed, poll, requeue }) => {
    const inc = opened();
    const obs = observations(at(MINUTE + elapsed), {
      target: acted('attempt-1', { rollout: 'progressing' }),
    });
    const plan = run(inc, obs, settings({ pollIntervalMs: poll }));

    expect(plan.status).toEqual(stored(inc));
    expect(plan.effect).toBeUndefined();
    expect(eventsOf(plan)).toEqual([]);
    expect(plan.requeueAfterMs).toBe(requeue);
  });
});

describe('decide: a failed attempt', () => {
  it.each([
    {
      name: 'the rollout failed (ProgressDeadlineExceeded)',
      elapsed: MINUTE,
      workload: acted('attempt-1', { rollout: 'failed' }),
    },
    {
      name: 'the rollout did not complete within the 5m default timeout',
      elapsed: 5 * MINUTE + SECOND,
      workload: acted('attempt-1', { rollout: 'progressing' }),
    },
    {
      name: 'the restart was not applied within the 5m default timeout',
      elapsed: 5 * MINUTE + SECOND,
      workload: target(deployment()),
    },
  ])('$name: attempt-1 fails and attempt-2 repeats the last action', ({ elapsed, workload }) => {
    const now = MINUTE + elapsed;
    const plan = run(opened(), observations(at(now), { target: workload }));

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
    expect(plan.effect).toBeUndefined();
    expect(plan.requeueAfterMs).toBe(0);
  });

  it.each([
    { name: 'progressing 1s before a 1m timeout', elapsed: 59 * SECOND, applied: true, result: 'Running' },
    { name: 'progressing 1s after a 1m timeout', elapsed: 61 * SECOND, applied: true, result: 'Failed' },
    { name: 'not applied 1s before a 1m timeout', elapsed: 59 * SECOND, applied: false, result: 'Running' },
    { name: 'not applied 1s after a 1m timeout', elapsed: 61 * SECOND, applied: false, result: 'Failed' },
  ])('rolloutRestart.timeout is honoured: $name → $result', ({ elapsed, applied, result }) => {
    const action: Action = { type: 'rolloutRestart', rolloutRestart: { timeout: '1m' } };
    const inc = opened({ actions: [action] });
    const workload = applied
      ? acted('attempt-1', { rollout: 'progressing' })
      : target(deployment({ rollout: 'progressing' }));
    const plan = run(inc, observations(at(MINUTE + elapsed), { target: workload }));

    expect(plan.status.attempts?.[0]?.result).toBe(result);
    if (result === 'Running') {
      expect(plan.effect !== undefined).toBe(!applied);
      expect(plan.requeueAfterMs).toBe(applied ? SECOND : POLL);
    } else {
      expect(attemptsOf(plan.status)[1]).toBe('attempt-2 rolloutRestart Running');
      expect(plan.effect).toBeUndefined();
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
    // attempt-1 runs actions[0] (scale by +1) and fails; attempt-2 runs actions[1] (scale to 5).
    const inc = afterFailures(incident({ spec: { actions: [scaleBy(1), scaleTo(5)] } }), 1);
    expect(stored(inc).attempts?.[1]?.message).toBe('scale Deployment checkout from 2 to 5 replicas');

    const plan = run(inc, observations(at(2 * MINUTE + SECOND)));
    expect(plan.effect?.attempt.id).toBe('attempt-2');
    expect(plan.effect?.action).toEqual(scaleTo(5));
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

  it.each<{
    reason: string;
    name: string;
    spec?: Partial<IncidentSpec>;
    obs?: Partial<Observations>;
    s?: Partial<IncidentSettings>;
  }>([
    { reason: 'GlobalPause', name: 'settings.paused', s: { paused: true } },
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
    { reason: 'ActionUnavailable', name: 'queueDrain is not in this build', spec: { actions: [queueDrain] } },
    {
      reason: 'TargetPaused',
      name: 'the Deployment is paused',
      obs: { target: target(deployment({ paused: true })) },
    },
    {
      reason: 'ActionRefused',
      name: 'scale on a DaemonSet',
      spec: { target: { kind: 'DaemonSet', name: 'checkout' }, actions: [scaleBy(1)] },
      obs: { target: target(daemonSet()) },
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
  ])('$reason: $name', ({ reason, spec, obs, s }) => {
    const plan = run(incident({ spec }), observations(at(MINUTE), obs), settings(s));

    expect(phaseOf(plan)).toBe('Escalated');
    expect(conditionsOf(plan.status)).toEqual({ Remediated: `False/${reason}`, Escalated: `True/${reason}` });
    expect(plan.status.attempts ?? []).toEqual([]);
    expect(plan.status.attemptCount).toBe(0);
    expect(plan.effect).toBeUndefined();
    expect(eventsOf(plan)).toEqual(['Normal Open', 'Warning Escalated']);
    expect(plan.status.escalation).toEqual({
      level: 0,
      reason: plan.status.conditions?.find((c) => c.type === 'Escalated')?.message,
      startedAt: iso(MINUTE),
    });
    expect(plan.status.plannedActions).toBeUndefined();
    // Nothing is pending but the SLA clocks: the response target (T0+15m) is the nearest.
    expect(plan.requeueAfterMs).toBe(14 * MINUTE);
  });

  it.each<{ name: string; spec?: Partial<IncidentSpec>; obs?: Partial<Observations> }>([
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
  ])('at the limit, automation still acts: $name', ({ spec, obs }) => {
    const plan = run(incident({ spec }), observations(at(MINUTE), obs));
    expect(phaseOf(plan)).toBe('Remediating');
    expect(plan.status.attempts?.map((a) => a.result)).toEqual(['Running']);
    expect(conditionsOf(plan.status)).toEqual({});
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
      name: 'spec.dryRun with an action this build lacks',
      spec: { dryRun: true, actions: [restart, queueDrain] },
      expected: [
        planned[0],
        { action: 'queueDrain', description: 'queueDrain (not available in this build)' },
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

describe('decide: what people set', () => {
  const ack = { acknowledgedBy: 'alice@example.com' };

  it.each<{ name: string; state: () => Incident; phase: Phase }>([
    { name: 'Escalated', state: () => escalated(), phase: 'Acknowledged' },
    { name: 'Remediating', state: () => opened(), phase: 'Remediating' },
    { name: 'Verifying', state: () => verifying(), phase: 'Verifying' },
  ])('acknowledgedBy while $name → phase $phase, condition Acknowledged', ({ state, phase }) => {
    const before = state();
    const plan = run(withSpec(before, ack), observations(at(5 * MINUTE)));

    expect(phaseOf(plan)).toBe(phase);
    expect(conditionsOf(plan.status)).toEqual({
      ...conditionsOf(stored(before)),
      Acknowledged: 'True/AcknowledgedByPerson',
    });
    expect(eventsOf(plan)).toEqual(['Normal Acknowledged']);

    const again = run(withStatus(withSpec(before, ack), plan.status), observations(at(5 * MINUTE)));
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
      observations(at(5 * MINUTE)),
    );

    expect(phaseOf(plan)).toBe('Resolved');
    expect(plan.status.resolvedAt).toBe(iso(5 * MINUTE));
    expect(conditionsOf(plan.status)).toMatchObject({ Resolved: 'True/ResolvedByPerson' });
    expect(plan.status.conditions?.find((c) => c.type === 'Resolved')?.message).toBe(
      'resolved by bob: rolled back by hand',
    );
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
      expect(plan.requeueAfterMs).toBe(requeue);
      expect(eventsOf(plan)).toEqual(events);
      expect(plan.effect).toBeUndefined();
    },
  );
});

describe('decide: SLA clocks', () => {
  const ack = { acknowledgedBy: 'alice@example.com' };
  const pause = { Remediated: 'False/GlobalPause', Escalated: 'True/GlobalPause' };

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
      conditions: pause,
      events: [],
      nextUpdate: 30 * MINUTE,
      requeue: 5 * MINUTE,
    },
    {
      name: '1s before the response target',
      steps: [{ at: 15 * MINUTE - SECOND }],
      conditions: pause,
      events: [],
      nextUpdate: 30 * MINUTE,
      requeue: SECOND,
    },
    {
      name: 'at the response target, not acknowledged: breached',
      steps: [{ at: 15 * MINUTE }],
      conditions: { ...pause, ResponseSLABreached: 'True/NotAcknowledgedInTime' },
      events: ['Warning ResponseSLABreached'],
      nextUpdate: 30 * MINUTE,
      requeue: 15 * MINUTE,
    },
    {
      name: 'already breached: no second event',
      steps: [{ at: 15 * MINUTE }, { at: 16 * MINUTE }],
      conditions: { ...pause, ResponseSLABreached: 'True/NotAcknowledgedInTime' },
      events: [],
      nextUpdate: 30 * MINUTE,
      requeue: 14 * MINUTE,
    },
    {
      name: 'acknowledged before the response target: never breached',
      steps: [{ at: 10 * MINUTE, spec: ack }, { at: 20 * MINUTE }],
      conditions: { ...pause, Acknowledged: 'True/AcknowledgedByPerson' },
      events: [],
      nextUpdate: 30 * MINUTE,
      requeue: 10 * MINUTE,
    },
    {
      name: 'the update cadence passes: UpdateDue, next update advances',
      steps: [{ at: 15 * MINUTE }, { at: 30 * MINUTE }],
      conditions: { ...pause, ResponseSLABreached: 'True/NotAcknowledgedInTime' },
      events: ['Normal UpdateDue'],
      nextUpdate: HOUR,
      requeue: 30 * MINUTE,
    },
    {
      name: 'response target and update time passed while unobserved',
      steps: [{ at: 40 * MINUTE }],
      conditions: { ...pause, ResponseSLABreached: 'True/NotAcknowledgedInTime' },
      events: ['Warning ResponseSLABreached', 'Normal UpdateDue'],
      nextUpdate: HOUR,
      requeue: 20 * MINUTE,
    },
    {
      name: 'update already sent for this period: no second event',
      steps: [{ at: 30 * MINUTE }, { at: 45 * MINUTE }],
      conditions: { ...pause, ResponseSLABreached: 'True/NotAcknowledgedInTime' },
      events: [],
      nextUpdate: HOUR,
      requeue: 15 * MINUTE,
    },
    {
      name: 'acknowledged, not resolved by the resolution target',
      steps: [{ at: 10 * MINUTE, spec: ack }, { at: 4 * HOUR }],
      conditions: {
        ...pause,
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
        ...pause,
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
      conditions: { ...pause, Resolved: 'True/ResolvedByPerson' },
      events: [],
    },
  ])('P1: $name', ({ steps, conditions, events, nextUpdate, requeue }) => {
    const { plan } = chain(
      escalated(),
      steps.map((step) => ({ obs: observations(at(step.at)), ...(step.spec ? { spec: step.spec } : {}) })),
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
    const plan = run(escalated({ severity }), observations(at(now)));
    expect(eventsOf(plan)).toEqual([]);
    expect(plan.requeueAfterMs).toBe(requeue);
    expect(plan.status.sla?.nextUpdateDueAt).toBe(iso(nextUpdate));
  });

  const ackSpec = { acknowledgedBy: 'alice@example.com' };
  it.each<{
    name: string;
    before: () => Incident;
    now: number;
    s?: IncidentSettings;
    obs?: Partial<Observations>;
  }>([
    { name: 'escalated by a harm limit', before: () => incident(), now: MINUTE, s: paused },
    { name: 'intent recorded (the next pass acts)', before: () => incident(), now: MINUTE },
    { name: 'dry run', before: () => incident({ spec: { dryRun: true } }), now: MINUTE },
    { name: 'response SLA breached', before: () => escalated(), now: 15 * MINUTE },
    { name: 'update due', before: () => escalated(), now: 40 * MINUTE },
    { name: 'acknowledged', before: () => withSpec(escalated(), ackSpec), now: 10 * MINUTE },
    { name: 'resolution SLA breached', before: () => escalated(), now: 5 * HOUR },
    {
      name: 'verification pending',
      before: () => opened({ verification: verification() }),
      now: 3 * MINUTE,
      obs: { target: acted('attempt-1') },
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
      name: 'alertResolved only, not checked yet',
      spec: { verification: verification({ promQL: undefined, alertResolved: true }) },
      ...pending,
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
      requeue: 0,
    },
  ])(
    'after the rollout completes: $name → $phase',
    ({ spec, obs, phase, attempts, conditions, events, requeue }) => {
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
      expect(plan.effect).toBeUndefined();
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
      const escalatedCondition = plan.status.conditions?.find((c) => c.type === 'Escalated');

      expect(phaseOf(plan)).toBe('Escalated');
      expect(attemptsOf(plan.status)).toEqual(['attempt-1 rolloutRestart Succeeded']);
      expect(escalatedCondition?.message).not.toMatch(/no untried action left/);
      expect(conditionsOf(plan.status)).toEqual({
        Remediated: `False/${reason}`,
        Verified: 'False/VerificationFailed',
        Escalated: `True/${reason}`,
      });
    },
  );

  it('escalates when every action was tried (the last one repeated) and verification fails', () => {
    // attempt-1 (restart) failed, attempt-2 (scale) succeeded, its verification failed.
    const inc = afterFailures(
      incident({ spec: { actions: [restart, scaleBy(1)], verification: expired() } }),
      1,
    );
    const plan = run(inc, observations(at(4 * MINUTE), { ...doesNotHold, target: acted('attempt-2') }));
    expect(phaseOf(plan)).toBe('Escalated');
    expect(attemptsOf(plan.status)).toEqual(['attempt-1 rolloutRestart Failed', 'attempt-2 scale Succeeded']);
    expect(conditionsOf(plan.status)).toMatchObject({ Escalated: 'True/VerificationFailed' });
  });
});

describe('decide: the timeline', () => {
  const filler = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ time: iso(0), type: 'Note', message: `old ${i}` }));

  it.each([
    { existing: 0, length: 5, oldestKept: 'Open' },
    { existing: 40, length: 45, oldestKept: 'old 0' },
    { existing: 45, length: MAX_TIMELINE, oldestKept: 'old 0' },
    { existing: 46, length: MAX_TIMELINE, oldestKept: 'old 1' },
    { existing: MAX_TIMELINE, length: MAX_TIMELINE, oldestKept: 'old 5' },
  ])('keeps the last $length entries with $existing older ones', ({ existing, length, oldestKept }) => {
    // The first pass adds Open, AttemptStarted, Remediating; the second AttemptFailed, AttemptStarted.
    const first = run(incident({ status: { timeline: filler(existing) } }), observations(at(MINUTE)));
    const plan = run(
      withStatus(incident(), first.status),
      observations(at(2 * MINUTE), { target: acted('attempt-1', { rollout: 'failed' }) }),
    );
    const timeline = plan.status.timeline ?? [];

    expect(timeline).toHaveLength(length);
    expect(timeline.slice(-2).map((t) => t.type)).toEqual(['AttemptFailed', 'AttemptStarted']);
    expect(timeline[0]?.type === 'Note' ? timeline[0].message : timeline[0]?.type).toBe(oldestKept);
    expect(eventsOf(plan)).toEqual(['Warning AttemptFailed', 'Normal AttemptStarted']);
  });
});

describe('decide: a global pause while an attempt waits to act', () => {
  it('fails the recorded attempt without acting and escalates with GlobalPause', () => {
    const plan = run(opened(), observations(at(2 * MINUTE)), paused);
    expect(plan.effect).toBeUndefined();
    expect(attemptsOf(plan.status)).toEqual(['attempt-1 rolloutRestart Failed']);
    expect(phaseOf(plan)).toBe('Escalated');
    expect(conditionsOf(plan.status)).toMatchObject({
      Remediated: 'False/GlobalPause',
      Escalated: 'True/GlobalPause',
    });
  });
});
