// The alert behind the incident, as intake reports it through annotations: cleared (a resolved
// notification), or back after an automated fix, which reopens the incident for people instead of
// repeating an action that did not last.
import { RECURRED_ANNOTATION, SIGNAL_CLEARED_ANNOTATION } from '../../api/group.ts';
import type { Decision } from './decision.ts';

export function signal(d: Decision): void {
  const s = d.status;
  const { incident } = d;
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
      d.escalate('Recurrence', message);
    }
  }
}
