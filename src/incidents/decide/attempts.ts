// Remediation attempts: choosing and starting the next one (through the harm limits), carrying its
// effect out exactly once, following its rollout, and giving way when another incident holds the
// workload's claim.
import type { Attempt, Incident } from '../../api/incident.ts';
import type { Action } from '../../api/remediation.ts';
import type { AttemptIntent } from '../../actions/action.ts';
import type { Claim } from '../../actions/claim.ts';
import { describeTarget } from '../../actions/workload.ts';
import { rolloutState } from '../../verify/rollout.ts';
import type { Decision } from './decision.ts';
import { countedAttempts, firstRefusal } from './limits.ts';
import { verify } from './verification.ts';

/** The marker an attempt's side effect carries: unique across incidents and attempts. */
export function markerFor(incident: Incident, attemptId: string): string {
  const { metadata } = incident;
  return `${metadata.uid ?? `${metadata.namespace ?? ''}/${metadata.name ?? ''}`}/${attemptId}`;
}

export function attemptMarker(d: Decision, attemptId: string): string {
  return markerFor(d.incident, attemptId);
}

export function intentOf(d: Decision, attempt: Attempt): AttemptIntent {
  return {
    marker: attemptMarker(d, attempt.id),
    startedAt: new Date(attempt.startedAt),
    ...(attempt.targetReplicas !== undefined ? { targetReplicas: attempt.targetReplicas } : {}),
  };
}

/** The job of an applied attempt whose action runs one is stopped once this plan is written. */
function stopJobOf(d: Decision, attempt: Attempt, why: string): void {
  if (attempt.appliedAt && d.actions[attempt.action]?.runsJob)
    d.abortJob = { marker: attemptMarker(d, attempt.id), reason: why };
}

/**
 * Ends an applied attempt whose work is a background job (a queue action) before its job did: Failed
 * with the reason Aborted, as the job reports an abort, and the job is stopped once the status says
 * so. The job requeues what it has not settled: every message is in the source or the parking queue.
 */
export function abortJobAttempt(d: Decision, index: number, why: string): void {
  const attempt = d.attempts[index];
  if (!attempt) return;
  d.finishAttempt(index, 'Failed', `Aborted: aborted: ${why}`);
  d.condition('Remediated', 'False', 'Aborted', `${attempt.id} aborted: ${why}`);
  stopJobOf(d, attempt, why);
}

/**
 * Which action the next attempt runs: after a failed action the list goes on and its last action may
 * be repeated (up to maxAttempts); after a failed verification only an action not yet tried is taken,
 * since repeating what did not fix it would only hide the problem.
 */
export type NextAction = 'continue' | 'untried';

/** While paused, automation holds: nothing is started or applied, and the incident says why. */
function hold(d: Decision, what: string): void {
  const reason = d.obs.pause?.reason ?? '';
  const message = `held: automated remediation is paused (${reason}); ${what} when it is resumed`;
  if (!d.conditionIs('Held')) d.record('Held', message, 'Warning');
  d.condition('Held', 'True', 'GlobalPause', message);
}

/** Another incident holds a live claim on the target: this one does not act, and ends as it does. */
function follow(d: Decision, claim: Claim): void {
  const where = d.obs.target ? describeTarget(d.obs.target.ref) : 'the target';
  const message = `${where} is being remediated by incident ${claim.incident} (${claim.attempt}): following its outcome`;
  d.status.following = {
    incident: claim.incident,
    uid: claim.uid,
    attempt: claim.attempt,
    since: d.now.toISOString(),
  };
  d.condition('Remediated', 'False', 'FollowingIncident', message);
  d.record('Following', message);
  d.phase('Remediating', `following incident ${claim.incident}`);
}

/** The claim on the target when it belongs to another incident and still binds. */
function claimedByOther(d: Decision): Claim | undefined {
  const observed = d.obs.claim;
  return observed?.live && !observed.own ? observed.claim : undefined;
}

function dryRun(d: Decision): void {
  const workload = d.obs.target?.workload;
  const actions = d.remediation?.actions ?? [];
  d.status.plannedActions = actions.map((a) => ({
    action: a.type,
    description:
      (workload && d.actions[a.type]?.plan(workload, a).description) ??
      `${a.type} (not available in this build)`,
  }));
  d.refuse('DryRun', `dry run: planned ${actions.length} action(s), touched nothing`);
}

export function startOrRefuse(d: Decision, mode: NextAction = 'continue'): void {
  const { incident, obs, remediation } = d;
  if (incident.spec.policyRef && obs.policy === null) {
    d.refuse('PolicyNotFound', `RemediationPolicy ${incident.spec.policyRef.name} does not exist`);
    return;
  }
  if (!remediation) {
    d.escalate('NoAutomatedRemediation', 'no actions are given and no policy applies: people must act');
    return;
  }
  const used = countedAttempts(d).length;
  const nextIndex = mode === 'untried' ? used : Math.min(used, remediation.actions.length - 1);
  const next = remediation.actions[nextIndex];
  if (!next) {
    const last = d.status.conditions?.find((c) => c.type === 'Verified' && c.reason === 'VerificationFailed');
    if (mode === 'untried' && last)
      d.escalate('VerificationFailed', `${last.message}; no untried action left`);
    else
      d.escalate(
        'ActionsExhausted',
        `all ${remediation.actions.length} action(s) were tried without a verified fix`,
      );
    return;
  }
  // Another incident acting on the workload comes first: its running attempt would otherwise
  // count against this incident's cooldown and budget, and this one would escalate instead of
  // ending with that incident's outcome.
  const claim = claimedByOther(d);
  if (claim) {
    follow(d, claim);
    return;
  }
  const refusal = firstRefusal('start', { d, remediation, next });
  if (refusal) {
    d.refuse(refusal.reason, refusal.message);
    return;
  }
  // After the limits: an incident automation could never act on is escalated even while paused.
  if (obs.pause) {
    hold(d, `${next.type} starts`);
    return;
  }
  if (remediation.dryRun) {
    dryRun(d);
    return;
  }
  const workload = obs.target?.workload;
  const action = d.actions[next.type];
  if (!workload || !action) return;
  const plan = action.plan(workload, next);
  const attempt: Attempt = {
    id: `attempt-${d.attempts.length + 1}`,
    action: next.type,
    actionIndex: nextIndex,
    startedAt: d.now.toISOString(),
    result: 'Running',
    message: plan.description,
    ...(plan.targetReplicas !== undefined ? { targetReplicas: plan.targetReplicas } : {}),
  };
  d.status.attempts = [...d.attempts, attempt];
  d.record('AttemptStarted', `${attempt.id}: ${plan.description}`);
  d.phase('Remediating', `remediating with ${next.type} (${attempt.id})`);
  // The intent is on the status this plan writes; its effect is planned with it and carried out
  // only once that write has succeeded (rule 1).
  followAttempt(d);
}

/** After a failed attempt or verification: the next attempt if the limits allow, else escalation. */
function retryOrEscalate(d: Decision, mode: NextAction): void {
  startOrRefuse(d, mode);
}

/** Verification of the attempt just completed; a failed one moves on to an untried action. */
export function verifyFix(d: Decision): void {
  if (verify(d) !== 'failed') return;
  retryOrEscalate(d, 'untried');
  // Held by the pause: the verification is over, the next attempt waits.
  if (d.status.phase === 'Verifying')
    d.phase('Remediating', 'verification failed; the next action waits for the pause to end');
}

export function followAttempt(d: Decision): void {
  const { obs, remediation } = d;
  const running = d.running();
  if (!running) {
    // Between attempts (held by the pause): after a successful attempt only its verification can
    // have failed, so the next action must be an untried one.
    const last = countedAttempts(d).at(-1);
    startOrRefuse(d, last?.result === 'Succeeded' ? 'untried' : 'continue');
    return;
  }
  const { attempt, index } = running;
  // Attempts recorded before actionIndex existed name only their action type.
  const candidate =
    attempt.actionIndex === undefined
      ? remediation?.actions.find((a) => a.type === attempt.action)
      : remediation?.actions[attempt.actionIndex];
  const params = candidate?.type === attempt.action ? candidate : undefined;
  const action = d.actions[attempt.action];
  const target = obs.target;
  if (!params || !action || !target || !remediation) {
    const why = `the ${attempt.action} action is no longer part of the incident's remediation`;
    d.finishAttempt(index, 'Failed', why);
    stopJobOf(d, attempt, why);
    retryOrEscalate(d, 'continue');
    return;
  }
  const where = describeTarget(target.ref);
  const workload = target.workload;
  if (!workload) {
    d.finishAttempt(index, 'Failed', `${where} disappeared during the attempt`);
    stopJobOf(d, attempt, `${where} disappeared`);
    d.refuse('TargetNotFound', `${where} does not exist`);
    return;
  }
  const intent = intentOf(d, attempt);
  const startedAt = intent.startedAt.getTime();
  const deadline = startedAt + action.timeoutMs(params);
  const carries = action.carries(workload, intent);

  if (!attempt.appliedAt) {
    if (carries) {
      // Applied, and the status write that said so was lost (a crash): never apply it again.
      d.updateAttempt(index, { appliedAt: d.now.toISOString() });
      d.record('AttemptApplied', `${attempt.id}: applied to ${where}`);
    } else {
      const claim = claimedByOther(d);
      if (claim) {
        d.finishAttempt(
          index,
          'Refused',
          `not applied: ${where} is claimed by incident ${claim.incident} (${claim.attempt})`,
        );
        follow(d, claim);
        return;
      }
      if (obs.pause) {
        hold(d, `${attempt.id} is applied`);
        d.wakeAt(new Date(deadline));
        return;
      }
      const refusal = firstRefusal('effect', { d, remediation, next: params });
      if (refusal) {
        d.finishAttempt(index, 'Refused', `not applied: ${refusal.message}`);
        d.refuse(refusal.reason, refusal.message);
        return;
      }
      if (remediation.dryRun) {
        d.finishAttempt(index, 'Refused', 'not applied: the remediation was switched to dry run');
        dryRun(d);
        return;
      }
      if (d.now.getTime() >= deadline) {
        // Held by the pause until its deadline (the hold may have ended in this very pass): it never
        // acted, so it counts against no guard.
        const held = d.incident.status?.conditions?.some((c) => c.type === 'Held' && c.status === 'True');
        if (held || d.conditionIs('Held')) {
          d.finishAttempt(index, 'Refused', 'not applied: held by the pause until its deadline');
          retryOrEscalate(d, 'continue');
          return;
        }
        d.finishAttempt(index, 'Failed', `not applied within ${(deadline - startedAt) / 1000}s`);
        d.condition('Remediated', 'False', 'AttemptFailed', `${attempt.id} timed out before it could act`);
        retryOrEscalate(d, 'continue');
        return;
      }
      d.effect = {
        attempt,
        action: params,
        intent,
        resourceVersion: workload.object.metadata?.resourceVersion ?? '',
        claim: {
          incident: d.incident.metadata.name ?? '',
          uid: d.incident.metadata.uid ?? '',
          attempt: attempt.id,
          expiresAt: new Date(deadline).toISOString(),
        },
      };
      d.wakeAt(new Date(deadline));
      return;
    }
  } else if (!carries) {
    const claim = claimedByOther(d);
    const by = claim ? `incident ${claim.incident} (${claim.attempt})` : 'a change by someone else';
    const message = `superseded: ${by} replaced ${attempt.id}'s change on ${where}`;
    d.finishAttempt(index, 'Failed', message);
    stopJobOf(d, attempt, 'superseded');
    if (claim) follow(d, claim);
    else d.refuse('Superseded', `${message}; people are acting on it`);
    return;
  }

  if (action.runsJob) {
    followJob(d, index, intent.marker, params, new Date(deadline));
    return;
  }
  const rollout = rolloutState(workload);
  if (rollout.state === 'complete') {
    d.finishAttempt(index, 'Succeeded', rollout.message);
    d.condition(
      'Remediated',
      'True',
      'ActionSucceeded',
      `${attempt.id} (${attempt.action}): ${rollout.message}`,
    );
    d.phase('Verifying', `verifying the fix of ${attempt.id}`);
    verifyFix(d);
    return;
  }
  if (rollout.state === 'failed' || d.now.getTime() >= deadline) {
    const why =
      rollout.state === 'failed'
        ? rollout.message
        : `rollout did not complete within ${(deadline - startedAt) / 1000}s: ${rollout.message}`;
    d.finishAttempt(index, 'Failed', why);
    d.condition('Remediated', 'False', 'AttemptFailed', `${attempt.id} failed: ${why}`);
    retryOrEscalate(d, 'continue');
    return;
  }
  // The workload's watch events wake the incident as the rollout moves; the deadline is the backstop.
  d.wakeAt(new Date(deadline));
}

/**
 * An applied attempt whose work is a background job: started (again, after a crash or a new leader:
 * it resumes from what the queues hold), followed in steps of a tenth, and ended by its outcome.
 */
function followJob(d: Decision, index: number, marker: string, params: Action, deadline: Date): void {
  const attempt = d.attempts[index];
  const job = d.obs.job;
  if (!attempt) return;
  if (!job && d.now >= deadline) {
    // No job of this leader ran it (a crash or a new leader) and its claim has lapsed: starting the
    // work now would act on a workload another incident may already hold.
    const why = `not completed within ${(deadline.getTime() - new Date(attempt.startedAt).getTime()) / 1000}s: its job stopped with the operator that ran it`;
    d.finishAttempt(index, 'Failed', why);
    d.condition('Remediated', 'False', 'AttemptFailed', `${attempt.id} failed: ${why}`);
    retryOrEscalate(d, 'continue');
    return;
  }
  // Paused: the job does not go on, and a new leader does not start it again. The attempt ends (its
  // messages are in the source or the parking queue) and the next one waits for the resume.
  if (d.obs.pause && (!job || job.state === 'running')) {
    abortJobAttempt(d, index, `automation paused (${d.obs.pause.reason})`);
    retryOrEscalate(d, 'continue');
    return;
  }
  if (!job || job.state === 'running') {
    d.job = { marker, action: params, deadline };
    if (job?.total !== undefined && job.done !== undefined && job.total > 0) {
      const tenth = (n: number, total: number) => Math.floor((10 * n) / total);
      const previous = attempt.done !== undefined && attempt.total ? tenth(attempt.done, attempt.total) : -1;
      if (attempt.total !== job.total || tenth(job.done, job.total) !== previous)
        d.updateAttempt(index, { done: job.done, total: job.total, message: job.message });
    }
    // The registry wakes the incident when the job ends; progress is looked at on the poll interval.
    d.wakeIn(d.settings.pollIntervalMs);
    d.wakeAt(deadline);
    return;
  }
  if (job.state === 'failed') {
    d.finishAttempt(index, 'Failed', `${job.reason}: ${job.message}`);
    d.condition('Remediated', 'False', job.reason, `${attempt.id} failed: ${job.message}`);
    retryOrEscalate(d, 'continue');
    return;
  }
  d.finishAttempt(index, 'Succeeded', job.skipped ? `skipped: ${job.message}` : job.message);
  d.condition('Remediated', 'True', 'ActionSucceeded', `${attempt.id} (${attempt.action}): ${job.message}`);
  d.phase('Verifying', `verifying the fix of ${attempt.id}`);
  verifyFix(d);
}

/** status.following: this incident waits for the one acting on its workload, and ends as it does. */
export function followIncident(d: Decision): void {
  const following = d.status.following;
  if (!following) return;
  const followed = d.obs.followed;
  const name = following.incident;
  if (!followed || followed.metadata.uid !== following.uid) {
    delete d.status.following;
    d.record('StoppedFollowing', `incident ${name} is gone: deciding again`);
    startOrRefuse(d);
    return;
  }
  const resolved = followed.status?.conditions?.find((c) => c.type === 'Resolved' && c.status === 'True');
  if (resolved) {
    d.condition('Remediated', 'True', 'RemediatedWithIncident', `remediated by incident ${name}`);
    d.resolve('ResolvedWithIncident', `resolved with incident ${name}: ${resolved.message}`);
    return;
  }
  const escalated = followed.status?.conditions?.find((c) => c.type === 'Escalated' && c.status === 'True');
  if (escalated) d.refuse('EscalatedWithIncident', `incident ${name} escalated: ${escalated.message}`);
}
