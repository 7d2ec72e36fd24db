// What the playbook asks of people, computed from the incident: the checklist, the status page's
// 15-minute rule, the context on-call checks first, and the post-mortem when it is due.
import { MAX_CONTEXT_FACTS, type ChecklistItem, type Phase } from '../../api/incident.ts';
import type { Decision } from './decision.ts';
import { remindUpdateDue } from './escalation.ts';

const CLOSED: readonly Phase[] = ['Resolved', 'Closed'];

/** The playbook's checklist, one item per step, in order. */
export function checklist(d: Decision): void {
  const { spec } = d.incident;
  const s = d.status;
  const roles = spec.roles ?? {};
  const delivered = [
    ...new Set((s.notifications ?? []).filter((n) => n.state === 'Delivered').map((n) => n.receiver)),
  ];
  const publicUpdates = spec.public?.updates.length ?? 0;
  const restored = s.phase !== undefined && CLOSED.includes(s.phase);
  const postMortem = s.postMortem;
  const items: ChecklistItem[] = [
    {
      name: 'Acknowledged',
      done: Boolean(spec.acknowledgedBy),
      detail: spec.acknowledgedBy ? `by ${spec.acknowledgedBy}` : 'nobody has taken it: kubectl incident ack',
    },
    { name: 'SeveritySet', done: true, detail: spec.severity },
    {
      name: 'RolesAssigned',
      done: Boolean(roles.incidentCommander),
      detail: roles.incidentCommander
        ? Object.entries(roles)
            .map(([role, who]) => `${role}: ${who}`)
            .join(', ')
        : 'no incident commander: kubectl incident assign --commander',
    },
    {
      name: 'StakeholdersNotified',
      done: delivered.length > 0 && (publicUpdates > 0 || !d.conditionIs('StatusPageUpdateDue')),
      detail: [
        delivered.length > 0 ? `notified: ${delivered.join(', ')}` : 'no receiver notified yet',
        d.conditionIs('StatusPageUpdateDue')
          ? 'status page update due: kubectl incident update --public'
          : `${publicUpdates} public update(s)`,
      ].join('; '),
    },
    {
      name: 'ServiceRestored',
      done: restored,
      detail: restored ? `resolved at ${s.resolvedAt ?? ''}` : `phase ${s.phase ?? 'new'}`,
    },
    {
      name: 'PostMortemScheduled',
      done: postMortem !== undefined && (!postMortem.required || Boolean(spec.postMortem?.url)),
      detail:
        postMortem === undefined
          ? 'decided at resolution'
          : !postMortem.required
            ? 'not required'
            : spec.postMortem?.url
              ? spec.postMortem.url
              : `due ${postMortem.dueAt ?? ''}: kubectl incident postmortem --url`,
    },
  ];
  s.checklist = items;
}

/**
 * The playbook's external-communication rule: a P1 or P2 needs a public status page update within
 * 15 minutes (by default) of opening. Until one is posted the incident says so and the receivers
 * that were told (the communications lead among them) get one reminder.
 */
export function statusPageRule(d: Decision): void {
  const s = d.status;
  const { severity } = d.incident.spec;
  const rule = d.settings.statusPageUpdate;
  if (!rule.severities.includes(severity) || !s.openedAt) return;
  const due = new Date(new Date(s.openedAt).getTime() + rule.withinMs);
  const posted = (d.incident.spec.public?.updates.length ?? 0) > 0;
  const open = s.phase !== undefined && !CLOSED.includes(s.phase);
  if (posted || !open) {
    if (d.conditionIs('StatusPageUpdateDue'))
      d.condition(
        'StatusPageUpdateDue',
        'False',
        posted ? 'PublicUpdatePosted' : 'Resolved',
        posted ? 'a public update was posted' : 'the incident is over',
      );
    return;
  }
  if (d.now < due) {
    d.wakeAt(due);
    return;
  }
  if (!d.conditionIs('StatusPageUpdateDue')) {
    const message = `${severity}: no public status page update ${rule.withinMs / 60_000} minutes after opening (due ${due.toISOString()}): kubectl incident update ${d.incident.metadata.name ?? ''} --public "..."`;
    d.condition('StatusPageUpdateDue', 'True', 'NoPublicUpdate', message);
    d.record('StatusPageUpdateDue', message, 'Warning');
    remindUpdateDue(d, `statuspage-${due.toISOString()}`);
  }
}

/**
 * What on-call checks first, from the observation: the reconciler gives it when the incident opens,
 * and once more when the health check at open answers (that check never holds the first write up).
 */
export function context(d: Decision): void {
  if (!d.obs.context) return;
  // The first facts are what on-call checks first; an empty one would not fit the schema.
  d.status.context = d.obs.context.filter((fact) => fact.length > 0).slice(0, MAX_CONTEXT_FACTS);
}

/** The post-mortem: its draft once one is required, and overdue once its due time passes. */
export function postMortemDue(d: Decision): void {
  const s = d.status;
  const pm = s.postMortem;
  if (!pm?.required) return;
  if (d.obs.postMortemDraft) pm.draft = d.obs.postMortemDraft;
  else if (!pm.draft) d.postMortemDraft = true;
  const completed = d.incident.spec.postMortem?.completed === true;
  if (completed) {
    if (d.conditionIs('PostMortemOverdue'))
      d.condition('PostMortemOverdue', 'False', 'PostMortemCompleted', 'the post-mortem is recorded');
    return;
  }
  if (!pm.dueAt) return;
  if (d.now < new Date(pm.dueAt)) {
    d.wakeAt(pm.dueAt);
    return;
  }
  if (!d.conditionIs('PostMortemOverdue')) {
    const message = `the post-mortem was due ${pm.dueAt}: record it with kubectl incident postmortem ${d.incident.metadata.name ?? ''} --url URL --completed`;
    d.condition('PostMortemOverdue', 'True', 'NotRecordedInTime', message);
    d.record('PostMortemOverdue', message, 'Warning');
  }
}
