// The Incident reconciler's decision: a pure function of the incident, what was observed, the
// install's settings and the time. It returns the status the incident should have, the one side
// effect to perform (only ever for an attempt whose intent the stored status already records), the
// Events to emit, and when to look again. Everything that happens is decided here and tested as a table.
import { DISABLED_ANNOTATION, RECURRED_ANNOTATION, SIGNAL_CLEARED_ANNOTATION } from '../api/group.ts';
import type { Attempt, Incident, IncidentStatus, Phase, TimelineEntry } from '../api/incident.ts';
import { MAX_TIMELINE } from '../api/incident.ts';
import type { RemediationPolicy } from '../api/policy.ts';
import type { Action, Verification } from '../api/remediation.ts';
import type { RemediationAction } from '../actions/action.ts';
import type { TargetRef } from '../actions/workloads.ts';
import type { Workload } from '../verify/rollout.ts';
import { conditionIs, setCondition } from './conditions.ts';
import { formatDuration, parseDuration } from './durations.ts';
import { nextUpdateAfter, slaDeadlines } from './playbook.ts';
import type { IncidentSettings } from './settings.ts';

export interface TargetObservation {
  ref: TargetRef;
  /** Undefined when the workload does not exist. */
  workload?: Workload;
  /** Undefined when the namespace does not exist. */
  namespaceAnnotations?: Record<string, string>;
}

/** The PromQL check of a verification, run by observe() while the incident is Verifying. */
export type PromQLObservation = { ok: true; holds: boolean } | { ok: false; error: string };

export interface Observations {
  now: Date;
  /** The policy spec.policyRef names: undefined when none is named, null when it does not exist. */
  policy?: RemediationPolicy | null;
  /** Undefined when the incident names no target. */
  target?: TargetObservation;
  /** Start times of other incidents' attempts on the same target (cooldown and hourly budget). */
  otherAttemptsOnTarget: Date[];
  /** Incidents opened within the storm window, this one included. */
  incidentsInStormWindow: number;
  /** The verification's PromQL check, when one is configured and the incident is Verifying. */
  promQL?: PromQLObservation;
}

export interface ApplyEffect {
  attempt: Attempt;
  action: Action;
  marker: string;
}

export interface PlannedEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  note: string;
}

export interface Plan {
  status: IncidentStatus;
  effect?: ApplyEffect;
  events: PlannedEvent[];
  /** Look again after this long (a deadline, a running attempt); undefined: only on change. */
  requeueAfterMs?: number;
}

/** What remediation applies: the incident's own actions or its policy's, with the guards. */
export interface Remediation {
  actions: Action[];
  guards: { maxAttempts: number; cooldownMs: number; maxPerHour: number };
  verification?: Verification;
  dryRun: boolean;
}

export type ActionRegistry = Partial<Record<Action['type'], RemediationAction>>;

const HOUR_MS = 3_600_000;
const ACTIVE_PHASES: Phase[] = ['Open', 'Remediating', 'Verifying', 'Escalated', 'Acknowledged'];

/** The marker an attempt's side effect carries: unique across incidents and attempts. */
export function attemptMarker(incident: Incident, attemptId: string): string {
  return `${incident.metadata.uid ?? `${incident.metadata.namespace ?? ''}/${incident.metadata.name ?? ''}`}/${attemptId}`;
}

export function remediationOf(
  incident: Incident,
  policy: RemediationPolicy | null | undefined,
  settings: IncidentSettings,
): Remediation | undefined {
  if (policy) {
    const g = policy.spec.guards;
    return {
      actions: policy.spec.actions,
      guards: { maxAttempts: g.maxAttempts, cooldownMs: parseDuration(g.cooldown), maxPerHour: g.maxPerHour },
      verification: incident.spec.verification ?? policy.spec.verification,
      dryRun: incident.spec.dryRun || policy.spec.dryRun,
    };
  }
  if (!incident.spec.actions?.length) return undefined;
  return {
    actions: incident.spec.actions,
    guards: settings.defaultGuards,
    verification: incident.spec.verification,
    dryRun: incident.spec.dryRun,
  };
}

/** Accumulates the new status, timeline and Events of one decision. */
class Decision {
  readonly status: IncidentStatus;
  readonly events: PlannedEvent[] = [];
  effect: ApplyEffect | undefined;
  private readonly wakeups: number[] = [];
  private readonly now: Date;
  private readonly generation: number | undefined;

  constructor(incident: Incident, now: Date) {
    this.status = structuredClone(incident.status ?? {});
    this.now = now;
    this.generation = incident.metadata.generation;
  }

  record(type: string, message: string, eventType: 'Normal' | 'Warning' = 'Normal'): void {
    const entry: TimelineEntry = { time: this.now.toISOString(), type, message };
    this.status.timeline = [...(this.status.timeline ?? []), entry].slice(-MAX_TIMELINE);
    this.events.push({ type: eventType, reason: type, note: message });
  }

  phase(next: Phase, message: string, eventType: 'Normal' | 'Warning' = 'Normal'): void {
    if (this.status.phase === next) return;
    this.status.phase = next;
    this.record(next, message, eventType);
  }

  condition(
    type: Parameters<typeof setCondition>[1],
    status: 'True' | 'False',
    reason: string,
    message: string,
  ): void {
    this.status.conditions = setCondition(
      this.status.conditions,
      type,
      status,
      reason,
      message,
      this.now,
      this.generation,
    );
  }

  wakeAt(time: string | Date | undefined): void {
    if (time === undefined) return;
    const ms = new Date(time).getTime() - this.now.getTime();
    if (ms > 0) this.wakeups.push(ms);
  }

  wakeIn(ms: number): void {
    this.wakeups.push(ms);
  }

  plan(): Plan {
    this.status.attemptCount = this.status.attempts?.length ?? 0;
    if (this.generation !== undefined) this.status.observedGeneration = this.generation;
    const requeueAfterMs = this.wakeups.length ? Math.min(...this.wakeups) : undefined;
    return {
      status: this.status,
      events: this.events,
      ...(this.effect ? { effect: this.effect } : {}),
      ...(requeueAfterMs !== undefined ? { requeueAfterMs } : {}),
    };
  }
}

/** One decision's inputs, handed together to the steps that need all of them. */
interface Pass {
  d: Decision;
  incident: Incident;
  obs: Observations;
  settings: IncidentSettings;
  actions: ActionRegistry;
  remediation: Remediation | undefined;
}

export function decide(
  incident: Incident,
  obs: Observations,
  settings: IncidentSettings,
  actions: ActionRegistry,
): Plan {
  const { now } = obs;
  const d = new Decision(incident, now);
  const s = d.status;
  const spec = incident.spec;

  if (!s.phase) {
    s.openedAt = incident.metadata.creationTimestamp
      ? new Date(incident.metadata.creationTimestamp).toISOString()
      : now.toISOString();
    s.escalation = { level: 0 };
    d.phase('Open', `${spec.severity} incident opened: ${spec.title}`);
  }
  const openedAt = new Date(s.openedAt ?? now);
  s.sla = {
    ...slaDeadlines(settings.playbook, spec.severity, openedAt),
    ...(s.sla?.nextUpdateDueAt ? { nextUpdateDueAt: s.sla.nextUpdateDueAt } : {}),
  };

  humanFields(d, incident, now);
  signal(d, incident, now);
  const pass: Pass = {
    d,
    incident,
    obs,
    settings,
    actions,
    remediation: remediationOf(incident, obs.policy, settings),
  };
  switch (s.phase) {
    case 'Open':
      startOrRefuse(pass);
      break;
    case 'Remediating':
      followAttempt(pass);
      break;
    case 'Verifying':
      verify(pass);
      break;
    default:
      break;
  }
  if (s.phase === 'Resolved') closeWhenDone(d, incident, settings, now);
  slaClocks(d, incident, settings, now);
  return d.plan();
}

function humanFields(d: Decision, incident: Incident, now: Date): void {
  const s = d.status;
  const { acknowledgedBy, resolution } = incident.spec;
  if (acknowledgedBy && !conditionIs(s, 'Acknowledged')) {
    d.condition('Acknowledged', 'True', 'AcknowledgedByPerson', `acknowledged by ${acknowledgedBy}`);
    // Automation that is still allowed to run keeps running; people now own the outcome.
    if (s.phase === 'Escalated') d.phase('Acknowledged', `acknowledged by ${acknowledgedBy}`);
    else d.record('Acknowledged', `acknowledged by ${acknowledgedBy}`);
  }
  if (resolution && s.phase !== 'Resolved' && s.phase !== 'Closed') {
    const running = runningAttempt(s);
    if (running)
      finishAttempt(d, running.index, 'Failed', 'stopped: the incident was resolved by a person', now);
    resolve(
      d,
      'ResolvedByPerson',
      `resolved by ${resolution.resolvedBy}${resolution.note ? `: ${resolution.note}` : ''}`,
      now,
    );
  }
}

function resolve(d: Decision, reason: string, message: string, now: Date): void {
  d.status.resolvedAt = now.toISOString();
  d.condition('Resolved', 'True', reason, message);
  d.phase('Resolved', message);
}

/** Escalation to people: automation failed or is not allowed. Sending is the escalation module's. */
function escalate(d: Decision, reason: string, message: string, now: Date): void {
  const s = d.status;
  d.condition('Escalated', 'True', reason, message);
  s.escalation = {
    ...(s.escalation ?? { level: 0 }),
    reason: message,
    startedAt: s.escalation?.startedAt ?? now.toISOString(),
  };
  d.phase('Escalated', message, 'Warning');
  // Someone already took the incident (during remediation): it is theirs, not waiting for them.
  const acknowledged = s.conditions?.find((c) => c.type === 'Acknowledged' && c.status === 'True');
  if (acknowledged) d.phase('Acknowledged', `escalated to ${acknowledged.message}`);
}

/** A harm limit or missing prerequisite that stops automation: a visible reason, never a silent skip. */
function refuse(d: Decision, reason: string, message: string, now: Date): void {
  d.condition('Remediated', 'False', reason, message);
  escalate(d, reason, message, now);
}

type Refusal = { reason: string; message: string };

/** The harm limits, in order; the first that applies refuses the next attempt. */
function harmLimit(
  { incident, obs, settings, actions }: Pass,
  remediation: Remediation,
  next: Action,
): Refusal | undefined {
  const { now } = obs;
  const target = obs.target;
  if (settings.paused)
    return { reason: 'GlobalPause', message: 'automated remediation is paused for this installation' };
  if (!target) return { reason: 'NoTarget', message: 'the incident names no target workload' };
  const where = `${target.ref.kind} ${target.ref.namespace}/${target.ref.name}`;
  if (!target.workload) return { reason: 'TargetNotFound', message: `${where} does not exist` };
  if (target.namespaceAnnotations?.[DISABLED_ANNOTATION] === 'true') {
    return {
      reason: 'RemediationDisabled',
      message: `namespace ${target.ref.namespace} is annotated ${DISABLED_ANNOTATION}=true`,
    };
  }
  if (target.workload.object.metadata?.annotations?.[DISABLED_ANNOTATION] === 'true') {
    return { reason: 'RemediationDisabled', message: `${where} is annotated ${DISABLED_ANNOTATION}=true` };
  }
  const action = actions[next.type];
  if (!action)
    return { reason: 'ActionUnavailable', message: `action ${next.type} is not available in this build` };
  if (target.workload.kind === 'Deployment' && target.workload.object.spec?.paused) {
    return { reason: 'TargetPaused', message: `${where} is paused (run rollout resume first)` };
  }
  const refusal = action.refusal(target.workload, next);
  if (refusal) return { reason: 'ActionRefused', message: refusal };
  const attempts = incident.status?.attempts?.filter((a) => a.result !== 'Refused') ?? [];
  if (attempts.length >= remediation.guards.maxAttempts) {
    return {
      reason: 'MaxAttemptsExhausted',
      message: `${attempts.length} of ${remediation.guards.maxAttempts} attempts used without a verified fix`,
    };
  }
  if (attempts.length === 0 && obs.incidentsInStormWindow > settings.storm.maxIncidents) {
    return {
      reason: 'StormBreaker',
      message: `${obs.incidentsInStormWindow} incidents opened within ${settings.storm.windowMs / 1000}s (limit ${settings.storm.maxIncidents}): escalating only`,
    };
  }
  const lastOther = Math.max(...obs.otherAttemptsOnTarget.map((t) => t.getTime()), Number.NEGATIVE_INFINITY);
  if (now.getTime() - lastOther < remediation.guards.cooldownMs) {
    const until = new Date(lastOther + remediation.guards.cooldownMs).toISOString();
    return {
      reason: 'CooldownActive',
      message: `${where} was acted on at ${new Date(lastOther).toISOString()} by another incident; cooldown until ${until}`,
    };
  }
  const lastHour = [...obs.otherAttemptsOnTarget, ...attempts.map((a) => new Date(a.startedAt))].filter(
    (t) => now.getTime() - t.getTime() < HOUR_MS,
  );
  if (lastHour.length >= remediation.guards.maxPerHour) {
    return {
      reason: 'HourlyBudgetExhausted',
      message: `${lastHour.length} automated actions on ${where} in the last hour (budget ${remediation.guards.maxPerHour})`,
    };
  }
  return undefined;
}

/**
 * Which action the next attempt runs: after a failed action the list goes on and its last action may
 * be repeated (up to maxAttempts); after a failed verification only an action not yet tried is taken,
 * since repeating what did not fix it would only hide the problem.
 */
type NextAction = 'continue' | 'untried';

function startOrRefuse(pass: Pass, mode: NextAction = 'continue'): void {
  const { d, incident, obs, actions, remediation } = pass;
  const { now } = obs;
  if (incident.spec.policyRef && obs.policy === null) {
    refuse(d, 'PolicyNotFound', `RemediationPolicy ${incident.spec.policyRef.name} does not exist`, now);
    return;
  }
  if (!remediation) {
    escalate(d, 'NoAutomatedRemediation', 'no actions are given and no policy applies: people must act', now);
    return;
  }
  const attempts = d.status.attempts ?? [];
  const nextIndex =
    mode === 'untried' ? attempts.length : Math.min(attempts.length, remediation.actions.length - 1);
  const next = remediation.actions[nextIndex];
  if (!next) {
    const last = d.status.conditions?.find((c) => c.type === 'Verified' && c.reason === 'VerificationFailed');
    if (mode === 'untried' && last)
      escalate(d, 'VerificationFailed', `${last.message}; no untried action left`, now);
    else
      escalate(
        d,
        'ActionsExhausted',
        `all ${remediation.actions.length} action(s) were tried without a verified fix`,
        now,
      );
    return;
  }
  const refusal = harmLimit(pass, remediation, next);
  if (refusal) {
    refuse(d, refusal.reason, refusal.message, now);
    return;
  }
  const target = obs.target;
  const action = actions[next.type];
  if (!target?.workload || !action) return;
  if (remediation.dryRun) {
    d.status.plannedActions = remediation.actions.map((a) => ({
      action: a.type,
      description:
        actions[a.type]?.describe(target.workload as Workload, a) ??
        `${a.type} (not available in this build)`,
    }));
    refuse(d, 'DryRun', `dry run: planned ${remediation.actions.length} action(s), touched nothing`, now);
    return;
  }
  const id = `attempt-${attempts.length + 1}`;
  const attempt: Attempt = {
    id,
    action: next.type,
    actionIndex: nextIndex,
    startedAt: now.toISOString(),
    result: 'Running',
    message: action.describe(target.workload, next),
  };
  d.status.attempts = [...attempts, attempt];
  d.record('AttemptStarted', `${id}: ${attempt.message ?? next.type}`);
  d.phase('Remediating', `remediating with ${next.type} (${id})`);
  // The intent is written first; the side effect follows on the next pass (rule 1).
  d.wakeIn(0);
}

function runningAttempt(s: IncidentStatus): { attempt: Attempt; index: number } | undefined {
  const index = s.attempts?.findIndex((a) => a.result === 'Running') ?? -1;
  const attempt = index >= 0 ? s.attempts?.[index] : undefined;
  return attempt ? { attempt, index } : undefined;
}

function finishAttempt(
  d: Decision,
  index: number,
  result: 'Succeeded' | 'Failed',
  message: string,
  now: Date,
): void {
  const attempts = [...(d.status.attempts ?? [])];
  const attempt = attempts[index];
  if (!attempt) return;
  attempts[index] = { ...attempt, result, finishedAt: now.toISOString(), message };
  d.status.attempts = attempts;
  d.record(
    result === 'Succeeded' ? 'AttemptSucceeded' : 'AttemptFailed',
    `${attempt.id}: ${message}`,
    result === 'Succeeded' ? 'Normal' : 'Warning',
  );
}

/** After a failed attempt or verification: the next attempt if the limits allow, else escalation. */
function retryOrEscalate(pass: Pass, mode: NextAction): void {
  startOrRefuse({ ...pass, incident: { ...pass.incident, status: pass.d.status } }, mode);
}

function followAttempt(pass: Pass): void {
  const { d, incident, obs, settings, actions, remediation } = pass;
  const { now } = obs;
  const running = runningAttempt(d.status);
  if (!running) {
    d.status.phase = 'Open';
    startOrRefuse(pass);
    return;
  }
  const { attempt, index } = running;
  // Attempts recorded before actionIndex existed name only their action type.
  const candidate =
    attempt.actionIndex === undefined
      ? remediation?.actions.find((a) => a.type === attempt.action)
      : remediation?.actions[attempt.actionIndex];
  const params = candidate?.type === attempt.action ? candidate : undefined;
  const action = actions[attempt.action];
  const target = obs.target;
  if (!params || !action || !target) {
    finishAttempt(
      d,
      index,
      'Failed',
      `the ${attempt.action} action is no longer part of the incident's remediation`,
      now,
    );
    retryOrEscalate(pass, 'continue');
    return;
  }
  if (!target.workload) {
    finishAttempt(
      d,
      index,
      'Failed',
      `${target.ref.kind} ${target.ref.name} disappeared during the attempt`,
      now,
    );
    refuse(
      d,
      'TargetNotFound',
      `${target.ref.kind} ${target.ref.namespace}/${target.ref.name} does not exist`,
      now,
    );
    return;
  }
  const startedAt = new Date(attempt.startedAt);
  const deadline = startedAt.getTime() + action.timeoutMs(params);
  const progress = action.progress({
    target: target.ref,
    workload: target.workload,
    params,
    marker: attemptMarker(incident, attempt.id),
    startedAt,
  });
  if (!progress.applied) {
    if (settings.paused) {
      finishAttempt(d, index, 'Failed', 'not applied: automated remediation was paused before it acted', now);
      refuse(d, 'GlobalPause', 'automated remediation is paused for this installation', now);
      return;
    }
    if (now.getTime() >= deadline) {
      finishAttempt(
        d,
        index,
        'Failed',
        `not applied within ${(deadline - startedAt.getTime()) / 1000}s`,
        now,
      );
      d.condition('Remediated', 'False', 'AttemptFailed', `${attempt.id} timed out before it could act`);
      retryOrEscalate(pass, 'continue');
      return;
    }
    d.effect = { attempt, action: params, marker: attemptMarker(incident, attempt.id) };
    d.wakeIn(settings.pollIntervalMs);
    return;
  }
  if (progress.rollout.state === 'complete') {
    finishAttempt(d, index, 'Succeeded', progress.rollout.message, now);
    d.condition(
      'Remediated',
      'True',
      'ActionSucceeded',
      `${attempt.id} (${attempt.action}): ${progress.rollout.message}`,
    );
    d.phase('Verifying', `verifying the fix of ${attempt.id}`);
    verify(pass);
    return;
  }
  if (progress.rollout.state === 'failed' || now.getTime() >= deadline) {
    const why =
      progress.rollout.state === 'failed'
        ? progress.rollout.message
        : `rollout did not complete within ${(deadline - startedAt.getTime()) / 1000}s: ${progress.rollout.message}`;
    finishAttempt(d, index, 'Failed', why, now);
    d.condition('Remediated', 'False', 'AttemptFailed', `${attempt.id} failed: ${why}`);
    retryOrEscalate(pass, 'continue');
    return;
  }
  d.wakeIn(Math.min(settings.pollIntervalMs, deadline - now.getTime()));
}

type VerificationResult = { state: 'passed' | 'pending' | 'failed'; message: string; wakeInMs?: number };

/**
 * Whether the fix holds: the alert resolved after the attempt started, and/or the PromQL check held
 * without a break for holdFor, all within the verification timeout. Progress lives on the status
 * (startedAt, passingSince), so verification survives restarts and failover.
 */
function verificationResult(d: Decision, v: Verification, obs: Observations): VerificationResult {
  const { now } = obs;
  const s = d.status;
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
  let wakeInMs: number | undefined;
  if (v.promQL) {
    const holdMs = parseDuration(v.holdFor);
    const promQL = obs.promQL;
    if (!promQL) pending.push('PromQL not checked yet');
    else if (!promQL.ok) {
      delete state.passingSince;
      pending.push(`PromQL check failed: ${promQL.error}`);
    } else if (!promQL.holds) {
      delete state.passingSince;
      pending.push(`PromQL does not hold: ${v.promQL}`);
    } else {
      state.passingSince ??= now.toISOString();
      const heldMs = now.getTime() - new Date(state.passingSince).getTime();
      if (heldMs < holdMs) {
        pending.push(`PromQL has held for ${formatDuration(heldMs)} of ${v.holdFor}`);
        wakeInMs = holdMs - heldMs;
      }
    }
  }
  if (pending.length === 0) {
    const checks = [
      v.alertResolved ? 'the alert resolved' : '',
      v.promQL ? `PromQL held for ${v.holdFor}` : '',
    ].filter(Boolean);
    return { state: 'passed', message: checks.join(' and ') };
  }
  const timeoutMs = parseDuration(v.timeout);
  const elapsed = now.getTime() - new Date(state.startedAt).getTime();
  if (elapsed >= timeoutMs)
    return { state: 'failed', message: `verification timed out after ${v.timeout}: ${pending.join('; ')}` };
  return {
    state: 'pending',
    message: pending.join('; '),
    wakeInMs: Math.min(wakeInMs ?? Infinity, timeoutMs - elapsed),
  };
}

function verify(pass: Pass): void {
  const { d, obs, settings, remediation } = pass;
  const { now } = obs;
  const v = remediation?.verification;
  if (!v?.promQL && !v?.alertResolved) {
    d.condition(
      'Verified',
      'True',
      'RolloutComplete',
      'the rollout completed by kubectl rollout status rules',
    );
    resolve(d, 'RemediatedAndVerified', 'remediated automatically and verified', now);
    return;
  }
  const result = verificationResult(d, v, obs);
  const state = d.status.verification;
  if (state) state.message = result.message;
  if (result.state === 'passed') {
    d.condition('Verified', 'True', 'VerificationPassed', result.message);
    resolve(d, 'RemediatedAndVerified', `remediated automatically and verified: ${result.message}`, now);
  } else if (result.state === 'failed') {
    d.condition('Verified', 'False', 'VerificationFailed', result.message);
    d.condition('Remediated', 'False', 'VerificationFailed', result.message);
    d.record('VerificationFailed', result.message, 'Warning');
    delete d.status.verification;
    retryOrEscalate(pass, 'untried');
  } else {
    d.condition('Verified', 'False', 'VerificationPending', result.message);
    d.wakeIn(Math.min(settings.pollIntervalMs, result.wakeInMs ?? Infinity));
  }
}

/**
 * The alert behind the incident, as intake reports it through annotations: cleared (a resolved
 * notification), or back after an automated fix, which reopens the incident for people instead of
 * repeating an action that did not last.
 */
function signal(d: Decision, incident: Incident, now: Date): void {
  const s = d.status;
  const source = incident.spec.source;
  if (source.type === 'manual' || !source.startsAt) return;
  const annotations = incident.metadata.annotations ?? {};
  const recurredAt = annotations[RECURRED_ANNOTATION];
  const clearedAt = annotations[SIGNAL_CLEARED_ANNOTATION];
  const firedAt = recurredAt && recurredAt > source.startsAt ? recurredAt : source.startsAt;
  const state = clearedAt && new Date(clearedAt) > new Date(firedAt) ? 'Cleared' : 'Firing';
  const since = new Date(state === 'Cleared' ? (clearedAt ?? firedAt) : firedAt).toISOString();
  if (s.signal?.state !== state || s.signal.since !== since) {
    if (s.signal)
      d.record(
        state === 'Cleared' ? 'SignalCleared' : 'SignalFiring',
        state === 'Cleared' ? `the alert resolved at ${since}` : `the alert is firing again since ${since}`,
      );
    s.signal = { ...s.signal, state, since };
  }
  if (recurredAt && s.signal.recurredAt !== recurredAt) {
    s.signal.recurredAt = recurredAt;
    s.recurrences = (s.recurrences ?? 0) + 1;
    if (s.phase === 'Resolved' || s.phase === 'Closed' || s.phase === 'Verifying') {
      const message = `the signal came back at ${recurredAt} after the automated fix (recurrence ${s.recurrences}): escalating instead of repeating the action`;
      delete s.resolvedAt;
      delete s.verification;
      d.condition('Resolved', 'False', 'Recurred', message);
      d.condition('Verified', 'False', 'Recurred', message);
      escalate(d, 'Recurrence', message, now);
    }
  }
}

function postMortemRequired(incident: Incident, settings: IncidentSettings, status: IncidentStatus): boolean {
  return conditionIs(status, 'Escalated') || settings.postMortemSeverities.includes(incident.spec.severity);
}

function closeWhenDone(d: Decision, incident: Incident, settings: IncidentSettings, now: Date): void {
  const s = d.status;
  const resolvedAt = new Date(s.resolvedAt ?? now);
  const required = postMortemRequired(incident, settings, s);
  s.postMortem = required
    ? {
        required,
        dueAt: new Date(
          resolvedAt.getTime() + settings.playbook[incident.spec.severity].postMortemDueMs,
        ).toISOString(),
      }
    : { required };
  if (required && !incident.spec.postMortem?.completed) return;
  // After an automated fix the incident stays Resolved for the recurrence window, so a returning
  // signal reopens it instead of starting over; a fix by people closes as soon as it is recorded.
  const automated = s.conditions?.find((c) => c.type === 'Resolved')?.reason === 'RemediatedAndVerified';
  const watchUntil = resolvedAt.getTime() + (automated ? settings.recurrenceWindowMs : 0);
  if (now.getTime() < watchUntil) {
    d.wakeAt(new Date(watchUntil));
    return;
  }
  d.phase(
    'Closed',
    required
      ? 'post-mortem recorded; incident closed'
      : 'resolved and quiet through the recurrence window; incident closed',
  );
}

function slaClocks(d: Decision, incident: Incident, settings: IncidentSettings, now: Date): void {
  const s = d.status;
  const sla = s.sla;
  if (!sla || !s.phase || !ACTIVE_PHASES.includes(s.phase)) {
    if (sla) delete sla.nextUpdateDueAt;
    return;
  }
  const severity = incident.spec.severity;
  const openedAt = new Date(s.openedAt ?? now);
  // A target is missed once, when its deadline passes while it is still open; the condition stays.
  const breachWhenDue = (
    type: 'ResponseSLABreached' | 'ResolutionSLABreached',
    dueAt: string | undefined,
    reason: string,
    missed: string,
  ) => {
    if (conditionIs(s, type) || !dueAt) return;
    if (now < new Date(dueAt)) {
      d.wakeAt(dueAt);
      return;
    }
    d.condition(
      type,
      'True',
      reason,
      `${missed} by ${dueAt} (${severity} ${type === 'ResponseSLABreached' ? 'response' : 'resolution'} target)`,
    );
    d.record(
      type,
      `${severity} ${type === 'ResponseSLABreached' ? 'response' : 'resolution'} target missed: ${missed} by ${dueAt}`,
      'Warning',
    );
  };
  if (!conditionIs(s, 'Acknowledged'))
    breachWhenDue('ResponseSLABreached', sla.responseDueAt, 'NotAcknowledgedInTime', 'not acknowledged');
  breachWhenDue('ResolutionSLABreached', sla.resolutionDueAt, 'NotResolvedInTime', 'not resolved');
  if (sla.nextUpdateDueAt && now >= new Date(sla.nextUpdateDueAt)) {
    d.record('UpdateDue', `${severity} update cadence: a status update to stakeholders is due`);
  }
  if (!sla.nextUpdateDueAt || now >= new Date(sla.nextUpdateDueAt))
    sla.nextUpdateDueAt = nextUpdateAfter(settings.playbook, severity, openedAt, now);
  d.wakeAt(sla.nextUpdateDueAt);
}
