import { describe, expect, it } from '@jest/globals';
import { ATTEMPT_ANNOTATION, type JobView } from '../../src/actions/action.ts';
import { ACTIONS } from '../../src/actions/registry.ts';
import type { Incident, IncidentStatus } from '../../src/api/incident.ts';
import type { Action, HttpCheck } from '../../src/api/remediation.ts';
import type { Observations, Plan } from '../../src/incidents/decide/index.ts';
import type { HttpObservation } from '../../src/verify/http.ts';
import {
  MINUTE,
  SECOND,
  UID,
  WORKLOAD_VERSION,
  at,
  attemptsOf,
  conditionMessage,
  conditionsOf,
  daemonSet,
  deployment,
  eventsOf,
  incident,
  iso,
  observations,
  reconcile,
  restart,
  PAUSE,
  paused,
  run,
  settings,
  target,
  verification,
  withStatus,
  type DeploymentOptions,
} from './fixtures.ts';

// The queue actions and HTTP health checks as the reconciler's decision sees them: a queue attempt's
// life from intent to outcome (its work is a background job of the leader, read through obs.job), a
// waitForConsumers that scales its consumers, and verification by an HTTP health check.

const POLL = settings().pollIntervalMs;
const QUEUE_TIMEOUT = 10 * MINUTE;
const MARKER = `${UID}/attempt-1`;
const connectionSecretRef = { name: 'rabbitmq' };

const move: Action = {
  type: 'queueDrain',
  queueDrain: {
    connectionSecretRef,
    vhost: '/',
    queue: 'orders',
    mode: 'move',
    parkingQueue: 'orders.parked',
    threshold: 100,
    allowPurge: false,
    timeout: '10m',
  },
};
const MOVE_PLAN =
  'move the backlog of queue orders above 100 to orders.parked (publisher confirms: nothing lost)';

const replay: Action = {
  type: 'queueReplay',
  queueReplay: {
    connectionSecretRef,
    vhost: '/',
    parkingQueue: 'orders.parked',
    queue: 'orders',
    timeout: '5m',
  },
};

function waitForConsumers(scaleConsumers?: NonNullable<Action['queueDrain']>['scaleConsumers']): Action {
  return {
    type: 'queueDrain',
    queueDrain: {
      connectionSecretRef,
      vhost: '/',
      queue: 'orders',
      mode: 'waitForConsumers',
      threshold: 100,
      allowPurge: false,
      timeout: '10m',
      ...(scaleConsumers ? { scaleConsumers } : {}),
    },
  };
}

/** The consumer Deployment after the queue attempt's patch landed: its marker on the object. */
const claimed = (o: DeploymentOptions = {}) => target(deployment({ objectMarker: MARKER, ...o }));

/** The reconcile pass at +1m that records the attempt, applies its claim and decides again. */
function applied(action: Action = move) {
  return reconcile(incident({ spec: { actions: [action] } }), observations(at(MINUTE)));
}

/** The incident whose queue attempt is applied, with the spec fields given. */
function appliedIncident(spec: Partial<Incident['spec']> = {}): Incident {
  const inc = incident({ spec: { actions: [move], ...spec } });
  return reconcile(inc, observations(at(MINUTE))).incident;
}

const running = (done?: number, total?: number, message = 'started'): JobView =>
  done === undefined || total === undefined
    ? { state: 'running', message }
    : { state: 'running', done, total, message: `${done} of ${total} messages moved to orders.parked` };
const succeeded = (message = 'moved 10000 messages from orders to orders.parked'): JobView => ({
  state: 'succeeded',
  skipped: false,
  message,
});

/** One pass at `now` over the stored incident, with the consumer Deployment claimed and the job seen. */
function pass(inc: Incident, now: number, extra: Partial<Observations> = {}): Plan {
  return run(inc, observations(at(now), { target: claimed(), ...extra }));
}

const phaseOf = (plan: Plan) => plan.status.phase;

/** The patch the plan's effect applies to the workload. */
function patchOf(plan: Plan): object {
  if (!plan.effect) throw new Error('the plan has no effect');
  const action = ACTIONS[plan.effect.attempt.action];
  if (!action) throw new Error(`no action ${plan.effect.attempt.action}`);
  return action.effect(plan.effect.intent);
}
const attemptOf = (status: IncidentStatus | undefined, index = 0) => status?.attempts?.[index];

describe('decide: a queue attempt from intent to outcome', () => {
  it('records the intent and plans the claim as its effect, no job yet', () => {
    const plan = run(incident({ spec: { actions: [move] } }), observations(at(MINUTE)));

    expect(plan.status.attempts).toEqual([
      {
        id: 'attempt-1',
        action: 'queueDrain',
        actionIndex: 0,
        startedAt: iso(MINUTE),
        result: 'Running',
        message: MOVE_PLAN,
      },
    ]);
    expect(plan.effect).toEqual({
      attempt: plan.status.attempts?.[0],
      action: move,
      intent: { marker: MARKER, startedAt: at(MINUTE) },
      resourceVersion: WORKLOAD_VERSION,
      claim: {
        incident: 'checkout-errors',
        uid: UID,
        attempt: 'attempt-1',
        expiresAt: iso(MINUTE + QUEUE_TIMEOUT),
      },
    });
    // The patch claims the workload with the marker and changes nothing else.
    expect(patchOf(plan)).toEqual({
      metadata: { annotations: { [ATTEMPT_ANNOTATION]: MARKER } },
    });
    // The work is not started before the claim is on the workload and the status says so.
    expect(plan.job).toBeUndefined();
    expect(phaseOf(plan)).toBe('Remediating');
    expect(eventsOf(plan)).toEqual(['Normal Open', 'Normal AttemptStarted', 'Normal Remediating']);
    expect(plan.requeueAfterMs).toBe(QUEUE_TIMEOUT);
  });

  it.each([
    { name: 'queueDrain move', action: move, message: MOVE_PLAN, timeoutMs: QUEUE_TIMEOUT },
    {
      name: 'queueReplay',
      action: replay,
      message: 'replay the messages parked in orders.parked from orders to their source queue',
      timeoutMs: 5 * MINUTE,
    },
    {
      name: 'queueDrain purge',
      action: {
        type: 'queueDrain',
        queueDrain: { ...move.queueDrain, mode: 'purge', allowPurge: true },
      } as Action,
      message: 'purge the ready messages of queue orders above 100 (allowed by allowPurge)',
      timeoutMs: QUEUE_TIMEOUT,
    },
  ])('$name: once the claim is applied, the job is planned with the attempt deadline', (row) => {
    const { incident: stored, plan } = applied(row.action);

    expect(attemptOf(plan.status)).toEqual({
      id: 'attempt-1',
      action: row.action.type,
      actionIndex: 0,
      startedAt: iso(MINUTE),
      appliedAt: iso(MINUTE),
      result: 'Running',
      message: row.message,
    });
    expect(plan.effect).toBeUndefined();
    expect(plan.job).toEqual({ marker: MARKER, action: row.action, deadline: at(MINUTE + row.timeoutMs) });
    expect(eventsOf(plan)).toEqual(['Normal AttemptApplied']);
    expect(stored.status?.phase).toBe('Remediating');
    // Progress is looked at on the poll interval; the registry wakes the incident when the job ends.
    expect(plan.requeueAfterMs).toBe(POLL);
  });

  it('plans the job again in every pass while it runs, and writes nothing while nothing changed', () => {
    const inc = appliedIncident();
    const plan = pass(inc, MINUTE + 10 * SECOND, { job: running() });

    expect(plan.job).toEqual({ marker: MARKER, action: move, deadline: at(MINUTE + QUEUE_TIMEOUT) });
    expect(plan.status).toEqual(inc.status);
    expect(plan.events).toEqual([]);
    expect(plan.requeueAfterMs).toBe(POLL);
  });

  it('a crash: applied, but this replica runs no job for it: the job is planned again, nothing else', () => {
    const inc = appliedIncident();
    // A new leader (or the restarted operator) has an empty registry: no view of the job.
    const plan = pass(inc, 4 * MINUTE);

    expect(plan.job).toEqual({ marker: MARKER, action: move, deadline: at(MINUTE + QUEUE_TIMEOUT) });
    expect(plan.effect).toBeUndefined();
    expect(plan.status).toEqual(inc.status);
    expect(plan.events).toEqual([]);
  });

  it.each([
    {
      name: 'a second before its deadline: planned again',
      now: MINUTE + QUEUE_TIMEOUT - SECOND,
      planned: true,
    },
    {
      name: 'at its deadline: its claim lapsed, never started again',
      now: MINUTE + QUEUE_TIMEOUT,
      planned: false,
    },
  ])('a crash, the next leader looks $name', ({ now, planned }) => {
    const inc = appliedIncident({ actions: [move, restart] });
    const plan = pass(inc, now);

    expect(plan.job !== undefined).toBe(planned);
    if (planned) {
      expect(plan.status).toEqual(inc.status);
      return;
    }
    expect(attemptsOf(plan.status)).toEqual([
      'attempt-1 queueDrain Failed',
      'attempt-2 rolloutRestart Running',
    ]);
    expect(attemptOf(plan.status)?.message).toBe(
      'not completed within 600s: its job stopped with the operator that ran it',
    );
    expect(conditionsOf(plan.status)).toEqual({ Remediated: 'False/AttemptFailed' });
    expect(plan.effect?.attempt.id).toBe('attempt-2');
  });

  it('a job still running at the deadline is left to end itself (the engine fails it with Timeout)', () => {
    const plan = pass(appliedIncident(), MINUTE + QUEUE_TIMEOUT + SECOND, { job: running(10, 100) });
    expect(attemptsOf(plan.status)).toEqual(['attempt-1 queueDrain Running']);
    expect(plan.job?.marker).toBe(MARKER);
  });

  it('a crash between the status write and the claim: the claim is planned again, not the job', () => {
    const intended = withStatus(
      incident({ spec: { actions: [move] } }),
      run(incident({ spec: { actions: [move] } }), observations(at(MINUTE))).status,
    );
    const plan = run(intended, observations(at(MINUTE + 30 * SECOND)));

    expect(plan.effect?.intent).toEqual({ marker: MARKER, startedAt: at(MINUTE) });
    expect(plan.job).toBeUndefined();
  });

  describe('progress on the attempt, in tenths', () => {
    it.each<{ name: string; stored?: [number, number]; seen: JobView; updated?: [number, number] }>([
      { name: 'started, no counts yet', seen: running() },
      { name: 'the first counts', seen: running(0, 10_000), updated: [0, 10_000] },
      { name: 'within the same tenth', stored: [1000, 10_000], seen: running(1999, 10_000) },
      {
        name: 'the next tenth',
        stored: [1000, 10_000],
        seen: running(2000, 10_000),
        updated: [2000, 10_000],
      },
      {
        name: 'several tenths at once',
        stored: [1000, 10_000],
        seen: running(7300, 10_000),
        updated: [7300, 10_000],
      },
      {
        // After a lost connection the engine measures the source again: a new total, same tenth.
        name: 'a new total after a reconnection',
        stored: [2000, 10_000],
        seen: running(2000, 9950),
        updated: [2000, 9950],
      },
      { name: 'all of it', stored: [9000, 10_000], seen: running(10_000, 10_000), updated: [10_000, 10_000] },
      { name: 'a total of zero', seen: running(0, 0) },
    ])('$name', ({ stored, seen, updated }) => {
      let inc = appliedIncident();
      if (stored) inc = withStatus(inc, pass(inc, MINUTE + 5 * SECOND, { job: running(...stored) }).status);
      const before = structuredClone(inc.status);
      const plan = pass(inc, MINUTE + 20 * SECOND, { job: seen });
      const attempt = attemptOf(plan.status);

      if (updated) {
        expect([attempt?.done, attempt?.total]).toEqual(updated);
        expect(attempt?.message).toBe(`${updated[0]} of ${updated[1]} messages moved to orders.parked`);
        expect({ ...plan.status, attempts: before?.attempts }).toEqual(before);
      } else expect(plan.status).toEqual(before);
      expect(attempt?.result).toBe('Running');
      expect(plan.events).toEqual([]);
      expect(plan.job?.marker).toBe(MARKER);
    });

    it('a long move costs at most eleven progress writes', () => {
      let inc = appliedIncident();
      let writes = 0;
      for (let done = 0; done <= 10_000; done += 250) {
        const plan = pass(inc, MINUTE + done, { job: running(done, 10_000) });
        if (JSON.stringify(plan.status) !== JSON.stringify(inc.status)) writes++;
        inc = withStatus(inc, plan.status);
      }
      expect(writes).toBe(11);
      expect([attemptOf(inc.status)?.done, attemptOf(inc.status)?.total]).toEqual([10_000, 10_000]);
    });

    it('cuts a long progress message to the field length', () => {
      const plan = pass(appliedIncident(), 2 * MINUTE, {
        job: { state: 'running', done: 5, total: 10, message: 'x'.repeat(5000) },
      });
      expect(attemptOf(plan.status)?.message).toHaveLength(1024);
    });
  });

  describe('the outcome', () => {
    it.each<{ name: string; job: JobView; message: string }>([
      {
        name: 'succeeded',
        job: succeeded(),
        message: 'moved 10000 messages from orders to orders.parked',
      },
      {
        name: 'skipped (no backlog above the threshold)',
        job: {
          state: 'succeeded',
          skipped: true,
          message: '50 messages ready, at or below the threshold 100: nothing to do',
        },
        message: 'skipped: 50 messages ready, at or below the threshold 100: nothing to do',
      },
    ])('$name → Verifying, and without checks Resolved', ({ job, message }) => {
      const inc = withStatus(
        appliedIncident(),
        pass(appliedIncident(), 2 * MINUTE, { job: running(4000, 10_000) }).status,
      );
      const plan = pass(inc, 3 * MINUTE, { job });

      expect(attemptOf(plan.status)).toMatchObject({
        result: 'Succeeded',
        finishedAt: iso(3 * MINUTE),
        message,
        done: 4000,
        total: 10_000,
      });
      expect(conditionsOf(plan.status)).toMatchObject({
        Remediated: 'True/ActionSucceeded',
        Verified: 'True/ActionCompleted',
        Resolved: 'True/RemediatedAndVerified',
      });
      expect(conditionMessage(plan.status, 'Remediated')).toBe(`attempt-1 (queueDrain): ${job.message}`);
      // No rollout was asked of the target: the job's result is all that is claimed.
      expect(conditionMessage(plan.status, 'Verified')).toBe(
        'attempt-1 (queueDrain) completed; no verification was asked',
      );
      expect(phaseOf(plan)).toBe('Resolved');
      expect(eventsOf(plan)).toEqual(['Normal AttemptSucceeded', 'Normal Verifying', 'Normal Resolved']);
      expect(plan.job).toBeUndefined();
    });

    it('succeeded with a verification → Verifying, pending', () => {
      const inc = appliedIncident({ verification: verification() });
      const plan = pass(inc, 3 * MINUTE, { job: succeeded() });

      expect(phaseOf(plan)).toBe('Verifying');
      expect(conditionsOf(plan.status)).toEqual({
        Remediated: 'True/ActionSucceeded',
        Verified: 'False/VerificationPending',
      });
      expect(plan.status.verification?.startedAt).toBe(iso(3 * MINUTE));
      expect(plan.job).toBeUndefined();
    });

    it('failed, with its reason → the next action', () => {
      const inc = appliedIncident({ actions: [move, restart] });
      const plan = pass(inc, 3 * MINUTE, {
        job: {
          state: 'failed',
          reason: 'QueueNotFound',
          message: 'queue orders in vhost /: the queue does not exist',
        },
      });

      expect(attemptsOf(plan.status)).toEqual([
        'attempt-1 queueDrain Failed',
        'attempt-2 rolloutRestart Running',
      ]);
      expect(attemptOf(plan.status)).toMatchObject({
        finishedAt: iso(3 * MINUTE),
        message: 'QueueNotFound: queue orders in vhost /: the queue does not exist',
      });
      expect(conditionsOf(plan.status)).toEqual({ Remediated: 'False/QueueNotFound' });
      expect(conditionMessage(plan.status, 'Remediated')).toBe(
        'attempt-1 failed: queue orders in vhost /: the queue does not exist',
      );
      expect(plan.effect?.attempt.id).toBe('attempt-2');
      expect(plan.job).toBeUndefined();
      expect(eventsOf(plan)).toEqual(['Warning AttemptFailed', 'Normal AttemptStarted']);
    });

    it('failed, as the last action: it is tried again within maxAttempts, then escalated', () => {
      let inc = appliedIncident();
      const failed: JobView = {
        state: 'failed',
        reason: 'AuthenticationFailed',
        message: 'the broker refused the username and password',
      };
      for (let n = 1; n <= 3; n++) {
        const marker = `${UID}/attempt-${n}`;
        const workload = target(deployment({ objectMarker: marker }));
        const plan = run(inc, observations(at((n + 1) * MINUTE), { target: workload, job: failed }));
        inc = withStatus(inc, plan.status);
        if (n < 3) {
          expect(plan.effect?.attempt.id).toBe(`attempt-${n + 1}`);
          // The next attempt's claim lands; its pass plans its own job.
          inc = reconcile(inc, observations(at((n + 1) * MINUTE), { target: workload })).incident;
        } else {
          expect(phaseOf(plan)).toBe('Escalated');
          expect(conditionsOf(plan.status)).toMatchObject({
            Remediated: 'False/MaxAttemptsExhausted',
            Escalated: 'True/MaxAttemptsExhausted',
          });
        }
      }
      expect(attemptsOf(inc.status ?? {})).toEqual([
        'attempt-1 queueDrain Failed',
        'attempt-2 queueDrain Failed',
        'attempt-3 queueDrain Failed',
      ]);
    });
  });

  it('an applied attempt whose claim was replaced by someone else is superseded, and the job not planned', () => {
    const plan = run(appliedIncident(), observations(at(2 * MINUTE), { target: target(deployment()) }));

    expect(attemptsOf(plan.status)).toEqual(['attempt-1 queueDrain Failed']);
    expect(attemptOf(plan.status)?.message).toMatch(
      /^superseded: a change by someone else replaced attempt-1/,
    );
    expect(plan.job).toBeUndefined();
    // The job it started does not go on after its attempt ended.
    expect(plan.abortJob).toEqual({ marker: MARKER, reason: 'superseded' });
  });
});

describe('decide: a queue job ends with its incident', () => {
  const PAUSED_WHY = `automation paused (${PAUSE.reason})`;

  it.each<{ name: string; job?: JobView }>([
    { name: 'the pause comes on while the job runs', job: running(4000, 60_000) },
    // A new leader (or a restarted operator) finds the applied attempt and no job of its own.
    { name: 'a new leader finds the attempt applied while paused', job: undefined },
  ])('$name: the attempt ends Aborted, the job is stopped, nothing starts until the resume', ({ job }) => {
    const inc = appliedIncident();
    const plan = pass(inc, 2 * MINUTE, { ...paused, ...(job ? { job } : {}) });

    expect(attemptsOf(plan.status)).toEqual(['attempt-1 queueDrain Failed']);
    expect(attemptOf(plan.status)).toMatchObject({
      finishedAt: iso(2 * MINUTE),
      message: `Aborted: aborted: ${PAUSED_WHY}`,
    });
    expect(conditionsOf(plan.status)).toMatchObject({
      Remediated: 'False/Aborted',
      Held: 'True/GlobalPause',
    });
    expect(conditionMessage(plan.status, 'Remediated')).toBe(`attempt-1 aborted: ${PAUSED_WHY}`);
    expect(plan.abortJob).toEqual({ marker: MARKER, reason: PAUSED_WHY });
    expect(plan.job).toBeUndefined();
    expect(plan.effect).toBeUndefined();
    expect(phaseOf(plan)).toBe('Remediating');
    expect(eventsOf(plan)).toEqual(['Warning AttemptFailed', 'Warning Held']);

    // Still paused: nothing more is written, started or stopped.
    const held = withStatus(inc, plan.status);
    const again = pass(held, 3 * MINUTE, paused);
    expect(again.status).toEqual(held.status);
    expect([again.job, again.abortJob, again.effect]).toEqual([undefined, undefined, undefined]);

    // Resumed: the remediation goes on with its next attempt, which moves what is left.
    const resumed = pass(held, 4 * MINUTE);
    expect(attemptsOf(resumed.status)).toEqual([
      'attempt-1 queueDrain Failed',
      'attempt-2 queueDrain Running',
    ]);
    expect(conditionsOf(resumed.status)).toMatchObject({ Held: 'False/Resumed' });
    expect(resumed.effect?.attempt.id).toBe('attempt-2');
  });

  it.each<{ name: string; job: JobView; result: string }>([
    { name: 'succeeded', job: succeeded(), result: 'Succeeded' },
    {
      name: 'failed',
      job: {
        state: 'failed',
        reason: 'QueueNotFound',
        message: 'queue orders in vhost /: the queue does not exist',
      },
      result: 'Failed',
    },
  ])(
    'a job that already $name when the pause comes on keeps its outcome; nothing is aborted',
    ({ job, result }) => {
      const plan = pass(appliedIncident(), 2 * MINUTE, { ...paused, job });
      expect(attemptOf(plan.status)?.result).toBe(result);
      expect(attemptOf(plan.status)?.message).not.toMatch(/^Aborted/);
      expect(plan.abortJob).toBeUndefined();
    },
  );

  it('a person resolves the incident while the job runs: Aborted with who resolved it, and Resolved', () => {
    const applied = appliedIncident();
    const inc = {
      ...applied,
      spec: { ...applied.spec, resolution: { resolvedBy: 'alice', note: 'fixed by hand' } },
    };
    const plan = pass(inc, 2 * MINUTE, { job: running(4000, 60_000) });

    expect(attemptOf(plan.status)).toMatchObject({
      result: 'Failed',
      finishedAt: iso(2 * MINUTE),
      message: 'Aborted: aborted: resolved by alice',
    });
    expect(conditionsOf(plan.status)).toMatchObject({
      Remediated: 'False/Aborted',
      Resolved: 'True/ResolvedByPerson',
    });
    expect(phaseOf(plan)).toBe('Resolved');
    expect(plan.abortJob).toEqual({ marker: MARKER, reason: 'resolved by alice' });
    expect(plan.job).toBeUndefined();
  });

  it('a person resolves the incident before the claim was applied: no job ran, none to stop', () => {
    // Recorded while paused: the intent is on the status, its claim never applied.
    const held = withStatus(
      incident({ spec: { actions: [move] } }),
      run(incident({ spec: { actions: [move] } }), observations(at(MINUTE))).status,
    );
    const plan = run(
      { ...held, spec: { ...held.spec, resolution: { resolvedBy: 'alice' } } },
      observations(at(2 * MINUTE), paused),
    );
    expect(attemptOf(plan.status)?.message).toBe('stopped: the incident was resolved by a person');
    expect(plan.abortJob).toBeUndefined();
  });
});

describe('decide: waitForConsumers with scaleConsumers', () => {
  it.each([
    { name: 'by +2', scale: { delta: 2 }, replicas: 2, to: 4 },
    { name: 'by +5 within max 5', scale: { delta: 5, max: 5 }, replicas: 2, to: 5 },
    { name: 'to 6', scale: { replicas: 6 }, replicas: 3, to: 6 },
  ])('$name: the absolute count is fixed at intent and is the effect', ({ scale, replicas, to }) => {
    const action = waitForConsumers(scale);
    const plan = run(
      incident({ spec: { actions: [action] } }),
      observations(at(MINUTE), { target: target(deployment({ replicas })) }),
    );

    expect(attemptOf(plan.status)).toMatchObject({
      targetReplicas: to,
      message: `wait for consumers to bring queue orders to 100 or fewer ready messages, after scaling Deployment checkout from ${replicas} to ${to}`,
    });
    expect(plan.effect?.intent).toEqual({ marker: MARKER, startedAt: at(MINUTE), targetReplicas: to });
    expect(patchOf(plan)).toEqual({
      metadata: { annotations: { [ATTEMPT_ANNOTATION]: MARKER } },
      spec: { replicas: to },
    });
  });

  it('applies the recorded count, not one computed again, after someone scaled in between', () => {
    const action = waitForConsumers({ delta: 2 });
    const first = run(incident({ spec: { actions: [action] } }), observations(at(MINUTE)));
    const intended = withStatus(incident({ spec: { actions: [action] } }), first.status);
    // The effect did not land (a crash); meanwhile someone scaled the consumers from 2 to 3.
    const plan = run(
      intended,
      observations(at(MINUTE + 20 * SECOND), { target: target(deployment({ replicas: 3 })) }),
    );

    expect(plan.effect?.intent.targetReplicas).toBe(4);
    expect(attemptOf(plan.status)?.targetReplicas).toBe(4);
  });

  it.each([
    {
      name: 'the marker but not yet the count',
      workload: { objectMarker: MARKER, replicas: 2 },
      appliedNow: false,
    },
    { name: 'the count but not the marker', workload: { replicas: 4 }, appliedNow: false },
    { name: 'both', workload: { objectMarker: MARKER, replicas: 4 }, appliedNow: true },
  ])('is applied only when the workload carries $name', ({ workload, appliedNow }) => {
    const action = waitForConsumers({ delta: 2 });
    const intended = withStatus(
      incident({ spec: { actions: [action] } }),
      run(incident({ spec: { actions: [action] } }), observations(at(MINUTE))).status,
    );
    const plan = run(
      intended,
      observations(at(MINUTE + 5 * SECOND), { target: target(deployment(workload)) }),
    );

    expect(attemptOf(plan.status)?.appliedAt).toBe(appliedNow ? iso(MINUTE + 5 * SECOND) : undefined);
    expect(plan.effect !== undefined).toBe(!appliedNow);
    expect(plan.job !== undefined).toBe(appliedNow);
  });

  it('a scaled attempt whose count someone changed afterwards is superseded', () => {
    const action = waitForConsumers({ delta: 2 });
    const { incident: inc } = reconcile(incident({ spec: { actions: [action] } }), observations(at(MINUTE)));
    expect(attemptOf(inc.status)?.appliedAt).toBe(iso(MINUTE));
    const plan = run(inc, observations(at(2 * MINUTE), { target: claimed({ replicas: 7 }) }));

    expect(attemptsOf(plan.status)).toEqual(['attempt-1 queueDrain Failed']);
    expect(plan.job).toBeUndefined();
  });

  it('without scaleConsumers the count is left alone', () => {
    const plan = run(incident({ spec: { actions: [waitForConsumers()] } }), observations(at(MINUTE)));
    expect(attemptOf(plan.status)?.targetReplicas).toBeUndefined();
    expect(patchOf(plan)).toEqual({
      metadata: { annotations: { [ATTEMPT_ANNOTATION]: MARKER } },
    });
  });

  it('refuses to scale a DaemonSet, and says so', () => {
    const inc = incident({
      spec: { target: { kind: 'DaemonSet', name: 'checkout' }, actions: [waitForConsumers({ delta: 1 })] },
    });
    const plan = run(inc, observations(at(MINUTE), { target: target(daemonSet()) }));

    expect(phaseOf(plan)).toBe('Escalated');
    expect(conditionsOf(plan.status)).toMatchObject({ Remediated: 'False/ActionRefused' });
    expect(conditionMessage(plan.status, 'Remediated')).toBe('scaleConsumers cannot scale a DaemonSet');
    expect(plan.effect).toBeUndefined();
  });
});

describe('decide: verification by an HTTP health check', () => {
  const URL = 'http://api.shop.svc:8080/api/v1/health';
  const http = (o: Partial<HttpCheck> = {}): HttpCheck => ({
    service: { name: 'api', port: 8080, path: '/api/v1/health', scheme: 'http' },
    expectedStatus: 200,
    interval: '10s',
    timeout: '5s',
    holdFor: '1m',
    ...o,
  });
  const passing: HttpObservation = { passed: true, message: `GET ${URL} answered 200` };
  const failing: HttpObservation = {
    passed: false,
    reason: 'UnexpectedStatus',
    message: `GET ${URL} answered 503 (expected 200): {"status":"starting"}`,
  };
  const refused: HttpObservation = {
    passed: false,
    reason: 'ConnectionRefused',
    message: `GET ${URL}: connection refused`,
  };
  /** HTTP only: no PromQL, the alert not waited for. */
  const httpOnly = (o: Partial<HttpCheck> = {}, timeout = '30m') =>
    verification({ promQL: undefined, http: http(o), timeout });

  /** The queue attempt succeeded at +3m and verification started; then one pass per observation. */
  function verifyingThrough(
    v: ReturnType<typeof verification>,
    steps: { at: number; http?: HttpObservation; promQL?: Observations['promQL'] }[],
  ): { incident: Incident; plan: Plan } {
    let inc = appliedIncident({ verification: v });
    inc = withStatus(inc, pass(inc, 3 * MINUTE, { job: succeeded() }).status);
    let plan: Plan | undefined;
    for (const step of steps) {
      plan = pass(inc, step.at, {
        ...(step.http ? { http: step.http } : {}),
        ...(step.promQL ? { promQL: step.promQL } : {}),
      });
      inc = withStatus(inc, plan.status);
    }
    if (!plan) throw new Error('no step');
    return { incident: inc, plan };
  }

  it.each<{
    name: string;
    steps: { at: number; http?: HttpObservation }[];
    phase: string;
    verified: string;
    message: string;
    passingSince?: string;
    requeue?: number;
  }>([
    {
      name: 'not run yet',
      steps: [{ at: 3 * MINUTE + SECOND }],
      phase: 'Verifying',
      verified: 'False/VerificationPending',
      message: 'health check not run yet',
      requeue: 10 * SECOND,
    },
    {
      name: 'failing: the answer is the pending reason',
      steps: [{ at: 3 * MINUTE + SECOND, http: failing }],
      phase: 'Verifying',
      verified: 'False/VerificationPending',
      message: `health check failing: ${failing.message}`,
      requeue: 10 * SECOND,
    },
    {
      name: 'passing: since now, until holdFor',
      steps: [{ at: 4 * MINUTE, http: passing }],
      phase: 'Verifying',
      verified: 'False/VerificationPending',
      message: `health check passes since ${iso(4 * MINUTE)}; it must pass for 1m (until ${iso(5 * MINUTE)})`,
      passingSince: iso(4 * MINUTE),
      requeue: 10 * SECOND,
    },
    {
      name: 'still passing: the start of the streak is kept',
      steps: [
        { at: 4 * MINUTE, http: passing },
        { at: 4 * MINUTE + 30 * SECOND, http: passing },
      ],
      phase: 'Verifying',
      verified: 'False/VerificationPending',
      message: `health check passes since ${iso(4 * MINUTE)}; it must pass for 1m (until ${iso(5 * MINUTE)})`,
      passingSince: iso(4 * MINUTE),
    },
    {
      name: 'failing after passing: the streak starts again',
      steps: [
        { at: 4 * MINUTE, http: passing },
        { at: 4 * MINUTE + 30 * SECOND, http: refused },
      ],
      phase: 'Verifying',
      verified: 'False/VerificationPending',
      message: `health check failing: GET ${URL}: connection refused`,
    },
    {
      name: 'passing again after a failure: since the new pass',
      steps: [
        { at: 4 * MINUTE, http: passing },
        { at: 4 * MINUTE + 30 * SECOND, http: failing },
        { at: 4 * MINUTE + 50 * SECOND, http: passing },
        { at: 5 * MINUTE + 10 * SECOND, http: passing },
      ],
      phase: 'Verifying',
      verified: 'False/VerificationPending',
      message: `health check passes since ${iso(4 * MINUTE + 50 * SECOND)}; it must pass for 1m (until ${iso(5 * MINUTE + 50 * SECOND)})`,
      passingSince: iso(4 * MINUTE + 50 * SECOND),
    },
    {
      name: 'passed for holdFor',
      steps: [
        { at: 4 * MINUTE, http: passing },
        { at: 5 * MINUTE, http: passing },
      ],
      phase: 'Resolved',
      verified: 'True/VerificationPassed',
      message: 'the health check passed for 1m',
      passingSince: iso(4 * MINUTE),
    },
  ])('$name', ({ steps, phase, verified, message, passingSince, requeue }) => {
    const { plan } = verifyingThrough(httpOnly(), steps);

    expect(phaseOf(plan)).toBe(phase);
    expect(conditionsOf(plan.status).Verified).toBe(verified);
    expect(conditionMessage(plan.status, 'Verified')).toBe(message);
    expect(plan.status.verification?.httpPassingSince).toBe(passingSince);
    if (requeue !== undefined) expect(plan.requeueAfterMs).toBe(requeue);
  });

  it('a pending check writes nothing more while it keeps failing the same way', () => {
    const { incident: inc } = verifyingThrough(httpOnly(), [{ at: 3 * MINUTE + SECOND, http: failing }]);
    const plan = pass(inc, 3 * MINUTE + 11 * SECOND, { http: failing });
    expect(plan.status).toEqual(inc.status);
    expect(plan.events).toEqual([]);
  });

  it('wakes at the end of holdFor when that comes before the next interval', () => {
    const { plan } = verifyingThrough(httpOnly({ holdFor: '3s', interval: '1m' }), [
      { at: 4 * MINUTE, http: passing },
    ]);
    expect(plan.requeueAfterMs).toBe(3 * SECOND);
  });

  it.each([
    { name: 'failing', last: failing },
    { name: 'refused', last: refused },
  ])('never passing ($name): escalates at the timeout with the last response as the reason', ({ last }) => {
    const { plan } = verifyingThrough(httpOnly({}, '5m'), [
      { at: 4 * MINUTE, http: passing },
      { at: 5 * MINUTE - SECOND, http: failing },
      { at: 8 * MINUTE, http: last },
    ]);
    const reason = `verification timed out after 5m: health check failing: ${last.message}`;

    expect(phaseOf(plan)).toBe('Escalated');
    expect(conditionsOf(plan.status)).toEqual({
      Remediated: 'False/VerificationFailed',
      Verified: 'False/VerificationFailed',
      Escalated: 'True/VerificationFailed',
    });
    expect(conditionMessage(plan.status, 'Verified')).toBe(reason);
    expect(conditionMessage(plan.status, 'Escalated')).toBe(`${reason}; no untried action left`);
    expect(plan.status.escalation?.reason).toBe(`${reason}; no untried action left`);
    expect(eventsOf(plan)).toEqual(['Warning VerificationFailed', 'Warning Escalated']);
  });

  describe('combined with PromQL', () => {
    const both = () => verification({ holdFor: '2m', http: http(), timeout: '30m' });
    const holds = { ok: true as const, holds: true };
    const notHolding = { ok: true as const, holds: false };

    it.each<{
      name: string;
      steps: { at: number; http?: HttpObservation; promQL?: Observations['promQL'] }[];
      phase: string;
      message: string;
      requeue?: number;
    }>([
      {
        name: 'the check passes, PromQL does not hold',
        steps: [{ at: 4 * MINUTE, http: passing, promQL: notHolding }],
        phase: 'Verifying',
        message: `PromQL does not hold: ${verification().promQL ?? ''}; health check passes since ${iso(4 * MINUTE)}; it must pass for 1m (until ${iso(5 * MINUTE)})`,
        requeue: POLL,
      },
      {
        name: 'PromQL holds, the check fails',
        steps: [{ at: 4 * MINUTE, http: failing, promQL: holds }],
        phase: 'Verifying',
        message: `PromQL holds since ${iso(4 * MINUTE)}; it must hold for 2m (until ${iso(6 * MINUTE)}); health check failing: ${failing.message}`,
      },
      {
        name: 'the check passed for its holdFor, PromQL not yet for its own',
        steps: [
          { at: 4 * MINUTE, http: passing, promQL: holds },
          { at: 5 * MINUTE, http: passing, promQL: holds },
        ],
        phase: 'Verifying',
        message: `PromQL holds since ${iso(4 * MINUTE)}; it must hold for 2m (until ${iso(6 * MINUTE)})`,
      },
      {
        name: 'both held',
        steps: [
          { at: 4 * MINUTE, http: passing, promQL: holds },
          { at: 6 * MINUTE, http: passing, promQL: holds },
        ],
        phase: 'Resolved',
        message: 'PromQL held for 2m and the health check passed for 1m',
      },
      {
        name: 'the check failed once in between: it holds from the new pass',
        steps: [
          { at: 4 * MINUTE, http: passing, promQL: holds },
          { at: 5 * MINUTE + 30 * SECOND, http: failing, promQL: holds },
          { at: 6 * MINUTE, http: passing, promQL: holds },
        ],
        phase: 'Verifying',
        message: `health check passes since ${iso(6 * MINUTE)}; it must pass for 1m (until ${iso(7 * MINUTE)})`,
      },
    ])('$name', ({ steps, phase, message, requeue }) => {
      const { plan } = verifyingThrough(both(), steps);
      expect(phaseOf(plan)).toBe(phase);
      expect(conditionMessage(plan.status, 'Verified')).toBe(message);
      if (requeue !== undefined) expect(plan.requeueAfterMs).toBe(requeue);
    });
  });
});
