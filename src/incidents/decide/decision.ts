// One decision in the making: the status it builds (the single source of truth for attempts while
// deciding), the timeline entries and Events it records, the effect it plans and when to look again.
import type { Attempt, ConditionType, Incident, Phase, TimelineEntry } from '../../api/incident.ts';
import { IncidentStatus, MAX_TIMELINE } from '../../api/incident.ts';
import { fitToSchema } from '../../api/trim.ts';
import { setCondition } from '../../runtime/conditions.ts';
import type { IncidentSettings } from '../settings.ts';
import type { ActionRegistry, ApplyEffect, Observations, Plan, PlannedEvent, Remediation } from './types.ts';

export class Decision {
  readonly status: IncidentStatus;
  readonly events: PlannedEvent[] = [];
  effect: ApplyEffect | undefined;
  postMortemDraft = false;
  job: Plan['job'];
  abortJob: Plan['abortJob'];
  readonly incident: Incident;
  readonly obs: Observations;
  readonly now: Date;
  readonly settings: IncidentSettings;
  readonly actions: ActionRegistry;
  readonly remediation: Remediation | undefined;
  private readonly wakeups: number[] = [];

  constructor(
    incident: Incident,
    obs: Observations,
    settings: IncidentSettings,
    actions: ActionRegistry,
    remediation: Remediation | undefined,
  ) {
    this.incident = incident;
    this.obs = obs;
    this.now = obs.now;
    this.settings = settings;
    this.actions = actions;
    this.remediation = remediation;
    this.status = structuredClone(incident.status ?? {});
  }

  get attempts(): Attempt[] {
    return this.status.attempts ?? [];
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

  condition(type: ConditionType, status: 'True' | 'False', reason: string, message: string): void {
    this.status.conditions = setCondition(
      this.status.conditions,
      type,
      status,
      reason,
      message,
      this.now,
      this.incident.metadata.generation,
    );
  }

  conditionIs(type: ConditionType, value: 'True' | 'False' = 'True'): boolean {
    return this.status.conditions?.some((c) => c.type === type && c.status === value) ?? false;
  }

  wakeAt(time: string | Date | undefined): void {
    if (time === undefined) return;
    const ms = new Date(time).getTime() - this.now.getTime();
    if (ms > 0) this.wakeups.push(ms);
  }

  wakeIn(ms: number): void {
    if (ms > 0) this.wakeups.push(ms);
  }

  /** The attempt that is Running, with its index, if any. */
  running(): { attempt: Attempt; index: number } | undefined {
    const index = this.attempts.findIndex((a) => a.result === 'Running');
    const attempt = this.attempts[index];
    return attempt ? { attempt, index } : undefined;
  }

  updateAttempt(index: number, changes: Partial<Attempt>): void {
    const attempts = [...this.attempts];
    const attempt = attempts[index];
    if (!attempt) return;
    attempts[index] = { ...attempt, ...changes };
    this.status.attempts = attempts;
  }

  finishAttempt(index: number, result: 'Succeeded' | 'Failed' | 'Refused', message: string): void {
    const attempt = this.attempts[index];
    if (!attempt) return;
    this.updateAttempt(index, { result, finishedAt: this.now.toISOString(), message });
    const type = { Succeeded: 'AttemptSucceeded', Failed: 'AttemptFailed', Refused: 'AttemptRefused' }[
      result
    ];
    this.record(type, `${attempt.id}: ${message}`, result === 'Succeeded' ? 'Normal' : 'Warning');
  }

  resolve(reason: string, message: string): void {
    this.status.resolvedAt = this.now.toISOString();
    delete this.status.following;
    this.condition('Resolved', 'True', reason, message);
    this.phase('Resolved', message);
  }

  /** Escalation to people: automation failed or is not allowed. Sending is the escalation module's. */
  escalate(reason: string, message: string): void {
    const s = this.status;
    delete s.following;
    this.condition('Escalated', 'True', reason, message);
    s.escalation = {
      ...(s.escalation ?? { level: 0 }),
      reason: message,
      startedAt: s.escalation?.startedAt ?? this.now.toISOString(),
    };
    this.phase('Escalated', message, 'Warning');
    // Someone already took the incident (during remediation): it is theirs, not waiting for them.
    const acknowledged = s.conditions?.find((c) => c.type === 'Acknowledged' && c.status === 'True');
    if (acknowledged) this.phase('Acknowledged', `escalated to ${acknowledged.message}`);
  }

  /** A harm limit or missing prerequisite that stops automation: a visible reason, never a silent skip. */
  refuse(reason: string, message: string): void {
    this.condition('Remediated', 'False', reason, message);
    this.escalate(reason, message);
  }

  plan(): Plan {
    this.status.attemptCount = this.attempts.length;
    const generation = this.incident.metadata.generation;
    if (generation !== undefined) this.status.observedGeneration = generation;
    const requeueAfterMs = this.wakeups.length ? Math.min(...this.wakeups) : undefined;
    return {
      // The one place status text meets the CRD's limits: whatever a step copied in (a tenant's
      // title, PromQL, note, a receiver's answer) fits, so the status write is never refused.
      status: fitToSchema(IncidentStatus, this.status),
      events: this.events,
      ...(this.effect ? { effect: this.effect } : {}),
      ...(this.postMortemDraft ? { postMortemDraft: true } : {}),
      ...(this.job ? { job: this.job } : {}),
      ...(this.abortJob ? { abortJob: this.abortJob } : {}),
      ...(requeueAfterMs !== undefined ? { requeueAfterMs } : {}),
    };
  }
}
