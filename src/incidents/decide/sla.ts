// The playbook's clocks as deadlines on the status: response and resolution targets (each missed
// once, as a condition that stays), and the update cadence while the incident is open.
import type { Phase } from '../../api/incident.ts';
import { nextUpdateAfter, slaDeadlines } from '../playbook.ts';
import type { Decision } from './decision.ts';
import { remindUpdateDue } from './escalation.ts';

const ACTIVE_PHASES: readonly Phase[] = ['Open', 'Remediating', 'Verifying', 'Escalated', 'Acknowledged'];

/** The deadlines of the incident's severity, from when it opened (kept when severity does not change). */
export function deadlines(d: Decision): void {
  const s = d.status;
  const openedAt = new Date(s.openedAt ?? d.now);
  s.sla = {
    ...slaDeadlines(d.settings.playbook, d.incident.spec.severity, openedAt),
    ...(s.sla?.nextUpdateDueAt ? { nextUpdateDueAt: s.sla.nextUpdateDueAt } : {}),
  };
}

export function slaClocks(d: Decision): void {
  const s = d.status;
  const sla = s.sla;
  if (!sla || !s.phase || !ACTIVE_PHASES.includes(s.phase)) {
    if (sla) delete sla.nextUpdateDueAt;
    return;
  }
  const severity = d.incident.spec.severity;
  const breachWhenDue = (
    type: 'ResponseSLABreached' | 'ResolutionSLABreached',
    dueAt: string | undefined,
    reason: string,
    missed: string,
  ) => {
    if (d.conditionIs(type) || !dueAt) return;
    if (d.now < new Date(dueAt)) {
      d.wakeAt(dueAt);
      return;
    }
    const target = type === 'ResponseSLABreached' ? 'response' : 'resolution';
    d.condition(type, 'True', reason, `${missed} by ${dueAt} (${severity} ${target} target)`);
    d.record(type, `${severity} ${target} target missed: ${missed} by ${dueAt}`, 'Warning');
  };
  if (!d.conditionIs('Acknowledged'))
    breachWhenDue('ResponseSLABreached', sla.responseDueAt, 'NotAcknowledgedInTime', 'not acknowledged');
  breachWhenDue('ResolutionSLABreached', sla.resolutionDueAt, 'NotResolvedInTime', 'not resolved');
  // The cadence runs from the opening, or from the last update a person posted: that resets it.
  const openedAt = s.openedAt ?? d.now.toISOString();
  const lastUpdate = d.incident.spec.updates?.at(-1)?.time;
  const from = lastUpdate && new Date(lastUpdate) > new Date(openedAt) ? lastUpdate : openedAt;
  const every = d.settings.playbook[severity].updateEveryMs;
  // Due, and nobody posted in the period that ended then (a pass can come late, after an update).
  if (
    sla.nextUpdateDueAt &&
    d.now >= new Date(sla.nextUpdateDueAt) &&
    new Date(from).getTime() <= new Date(sla.nextUpdateDueAt).getTime() - every
  ) {
    d.record('UpdateDue', `${severity} update cadence: a status update to stakeholders is due`);
    remindUpdateDue(d, sla.nextUpdateDueAt);
  }
  sla.nextUpdateDueAt = nextUpdateAfter(d.settings.playbook, severity, new Date(from), d.now);
  d.wakeAt(sla.nextUpdateDueAt);
}
