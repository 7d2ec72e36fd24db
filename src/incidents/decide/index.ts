// The Incident reconciler's decision: a pure function of the incident, what was observed, the
// install's settings and the time. It returns the status the incident should have, the one side
// effect to perform (only ever for an attempt whose intent that status records), the Events to
// emit, and when to look again. Each concern has its own file; this is the order they run in.
import type { Incident } from '../../api/incident.ts';
import type { RemediationPolicy } from '../../api/policy.ts';
import { parseDuration } from '../../api/durations.ts';
import type { IncidentSettings } from '../settings.ts';
import { followAttempt, followIncident, startOrRefuse, verifyFix } from './attempts.ts';
import { Decision } from './decision.ts';
import { closeWhenDone, humanFields, open, resume } from './lifecycle.ts';
import { escalation } from './escalation.ts';
import { checklist, context, postMortemDue, statusPageRule } from './people.ts';
import { signal } from './signal.ts';
import { deadlines, slaClocks } from './sla.ts';
import type { ActionRegistry, Observations, Plan, Remediation } from './types.ts';

export { attemptMarker, intentOf, markerFor } from './attempts.ts';
export { HARM_LIMITS } from './limits.ts';
export { dueDeliveries, levelsOf, levelOfEntry, receiverNamed, DELIVERY_RETRY } from './escalation.ts';
export type { DeliveryObservation, LedgerEntry } from './escalation.ts';
export type * from './types.ts';

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

export function decide(
  incident: Incident,
  obs: Observations,
  settings: IncidentSettings,
  actions: ActionRegistry,
): Plan {
  const d = new Decision(incident, obs, settings, actions, remediationOf(incident, obs.policy, settings));
  open(d);
  deadlines(d);
  humanFields(d);
  signal(d);
  resume(d);
  switch (d.status.phase) {
    case 'Open':
      startOrRefuse(d);
      break;
    case 'Remediating':
      if (d.status.following) followIncident(d);
      else followAttempt(d);
      break;
    case 'Verifying':
      verifyFix(d);
      break;
    default:
      break;
  }
  closeWhenDone(d);
  slaClocks(d);
  escalation(d);
  statusPageRule(d);
  postMortemDue(d);
  context(d);
  checklist(d);
  return d.plan();
}
