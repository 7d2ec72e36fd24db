// Whether the fix holds: the rollout completed (checked before this runs), and, as the remediation
// says, the alert resolved after the attempt started and/or the PromQL check held without a break
// for holdFor, all within the verification timeout. Progress lives on the status as timestamps
// (startedAt, passingSince), never as elapsed counters, so the status changes only when the state
// does: a hold of fifteen minutes costs no more writes than one of thirty seconds.
import { formatDuration, parseDuration } from '../../api/durations.ts';
import { checkIntervalMs, type Verification } from '../../api/remediation.ts';
import type { Decision } from './decision.ts';

type Outcome = { state: 'passed' | 'pending' | 'failed'; message: string };

function evaluate(d: Decision, v: Verification): Outcome {
  const s = d.status;
  const now = d.now;
  const state = (s.verification ??= { startedAt: now.toISOString() });
  const lastAttempt = s.attempts?.findLast((a) => a.result === 'Succeeded');
  const pending: string[] = [];
  if (v.alertResolved) {
    const cleared =
      s.signal?.state === 'Cleared' &&
      lastAttempt &&
      new Date(s.signal.since) >= new Date(lastAttempt.startedAt);
    if (!cleared) pending.push('the alert has not resolved');
  }
  if (v.promQL) {
    const holdMs = parseDuration(v.holdFor);
    const promQL = d.obs.promQL;
    if (!promQL) pending.push('PromQL not checked yet');
    else if (!promQL.ok) {
      delete state.passingSince;
      pending.push(`PromQL check failed: ${promQL.error}`);
    } else if (!promQL.holds) {
      delete state.passingSince;
      pending.push(`PromQL does not hold: ${v.promQL}`);
    } else {
      state.passingSince ??= now.toISOString();
      const holdsUntil = new Date(new Date(state.passingSince).getTime() + holdMs);
      if (now < holdsUntil) {
        pending.push(
          `PromQL holds since ${state.passingSince}; it must hold for ${v.holdFor} (until ${holdsUntil.toISOString()})`,
        );
        d.wakeAt(holdsUntil);
      }
    }
  }
  if (v.http) {
    const holdMs = parseDuration(v.http.holdFor);
    const http = d.obs.http;
    if (!http) pending.push('health check not run yet');
    else if (!http.passed) {
      delete state.httpPassingSince;
      pending.push(`health check failing: ${http.message}`);
    } else {
      state.httpPassingSince ??= now.toISOString();
      const passesUntil = new Date(new Date(state.httpPassingSince).getTime() + holdMs);
      if (now < passesUntil) {
        pending.push(
          `health check passes since ${state.httpPassingSince}; it must pass for ${v.http.holdFor} (until ${passesUntil.toISOString()})`,
        );
        d.wakeAt(passesUntil);
      }
    }
  }
  if (pending.length === 0) {
    const checks = [
      v.alertResolved ? 'the alert resolved' : '',
      v.promQL ? `PromQL held for ${v.holdFor}` : '',
      v.http ? `the health check passed for ${v.http.holdFor}` : '',
    ];
    return { state: 'passed', message: checks.filter(Boolean).join(' and ') };
  }
  const timeoutMs = parseDuration(v.timeout);
  const deadline = new Date(new Date(state.startedAt).getTime() + timeoutMs);
  if (now >= deadline)
    return {
      state: 'failed',
      message: `verification timed out after ${formatDuration(timeoutMs)}: ${pending.join('; ')}`,
    };
  d.wakeAt(deadline);
  // Prometheus and health endpoints have no watch: look again at their intervals.
  if (v.promQL) d.wakeIn(d.settings.pollIntervalMs);
  if (v.http) d.wakeIn(checkIntervalMs(v.http));
  return { state: 'pending', message: pending.join('; ') };
}

/** Runs the verification of the last successful attempt; the caller handles a failure. */
export function verify(d: Decision): 'passed' | 'pending' | 'failed' {
  const v = d.remediation?.verification;
  if (!v?.promQL && !v?.alertResolved && !v?.http) {
    // Nothing more was asked than the action's own outcome: a rollout is verified by its completion,
    // a queue job only by its result, which is no proof that the service recovered.
    const done = d.status.attempts?.findLast((a) => a.result === 'Succeeded');
    if (done && d.actions[done.action]?.runsJob) {
      const message = `${done.id} (${done.action}) completed; no verification was asked`;
      d.condition('Verified', 'True', 'ActionCompleted', message);
      d.resolve('RemediatedAndVerified', `remediated automatically: ${message}`);
    } else {
      d.condition(
        'Verified',
        'True',
        'RolloutComplete',
        'the rollout completed by kubectl rollout status rules',
      );
      d.resolve('RemediatedAndVerified', 'remediated automatically and verified');
    }
    return 'passed';
  }
  const outcome = evaluate(d, v);
  const state = d.status.verification;
  if (state) state.message = outcome.message;
  if (outcome.state === 'passed') {
    d.condition('Verified', 'True', 'VerificationPassed', outcome.message);
    d.resolve('RemediatedAndVerified', `remediated automatically and verified: ${outcome.message}`);
  } else if (outcome.state === 'failed') {
    d.condition('Verified', 'False', 'VerificationFailed', outcome.message);
    d.condition('Remediated', 'False', 'VerificationFailed', outcome.message);
    d.record('VerificationFailed', outcome.message, 'Warning');
    delete d.status.verification;
  } else {
    d.condition('Verified', 'False', 'VerificationPending', outcome.message);
  }
  return outcome.state;
}
