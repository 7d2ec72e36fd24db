// The incident's life around its remediation: opening, what people write on the spec
// (acknowledgement, resolution), the end of a hold, and closing once nothing is left to do.
import { abortJobAttempt } from './attempts.ts';
import type { Decision } from './decision.ts';

/** The first pass: the incident is opened, from when it was created. */
export function open(d: Decision): void {
  const s = d.status;
  if (s.phase) return;
  const created = d.incident.metadata.creationTimestamp;
  s.openedAt = created ? new Date(created).toISOString() : d.now.toISOString();
  s.escalation = { level: 0 };
  d.phase('Open', `${d.incident.spec.severity} incident opened: ${d.incident.spec.title}`);
}

export function humanFields(d: Decision): void {
  const s = d.status;
  const { acknowledgedBy, resolution } = d.incident.spec;
  if (acknowledgedBy && !d.conditionIs('Acknowledged')) {
    d.condition('Acknowledged', 'True', 'AcknowledgedByPerson', `acknowledged by ${acknowledgedBy}`);
    // Automation that is still allowed to run keeps running; people now own the outcome.
    if (s.phase === 'Escalated') d.phase('Acknowledged', `acknowledged by ${acknowledgedBy}`);
    else d.record('Acknowledged', `acknowledged by ${acknowledgedBy}`);
  }
  if (resolution && s.phase !== 'Resolved' && s.phase !== 'Closed') {
    const running = d.running();
    // A queue action's job ends with the incident: aborted, what it had not settled requeued.
    if (running?.attempt.appliedAt && d.actions[running.attempt.action]?.runsJob)
      abortJobAttempt(d, running.index, `resolved by ${resolution.resolvedBy}`);
    else if (running)
      d.finishAttempt(running.index, 'Failed', 'stopped: the incident was resolved by a person');
    d.resolve(
      'ResolvedByPerson',
      `resolved by ${resolution.resolvedBy}${resolution.note ? `: ${resolution.note}` : ''}`,
    );
  }
}

/** A hold ends when the pause is lifted; the remediation goes on from where it stood. */
export function resume(d: Decision): void {
  if (d.obs.pause || !d.conditionIs('Held')) return;
  const message = 'automated remediation was resumed';
  d.condition('Held', 'False', 'Resumed', message);
  d.record('Resumed', message);
}

function postMortemRequired(d: Decision): boolean {
  return d.conditionIs('Escalated') || d.settings.postMortemSeverities.includes(d.incident.spec.severity);
}

export function closeWhenDone(d: Decision): void {
  const s = d.status;
  if (s.phase !== 'Resolved') return;
  const resolvedAt = new Date(s.resolvedAt ?? d.now);
  const required = postMortemRequired(d);
  s.postMortem = required
    ? {
        required,
        dueAt: new Date(
          resolvedAt.getTime() + d.settings.playbook[d.incident.spec.severity].postMortemDueMs,
        ).toISOString(),
        ...(s.postMortem?.draft ? { draft: s.postMortem.draft } : {}),
      }
    : { required };
  if (required && !d.incident.spec.postMortem?.completed) return;
  // After an automated fix the incident stays Resolved for the recurrence window, so a returning
  // signal reopens it instead of starting over; a fix by people closes as soon as it is recorded.
  const reason = s.conditions?.find((c) => c.type === 'Resolved')?.reason;
  const automated = reason === 'RemediatedAndVerified' || reason === 'ResolvedWithIncident';
  const watchUntil = resolvedAt.getTime() + (automated ? d.settings.recurrenceWindowMs : 0);
  if (d.now.getTime() < watchUntil) {
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
