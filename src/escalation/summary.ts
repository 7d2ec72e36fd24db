// What people need to know about an incident, in one plain object that every receiver renders its
// own way: PagerDuty's event, Slack's blocks, a webhook's JSON. Pure: the same incident and options
// always give the same summary.
import type { Severity } from '../api/group.ts';
import type { Attempt, Incident, IncidentRoles, IncidentUpdate, Phase } from '../api/incident.ts';
import { MAX_CONTEXT_FACT_LENGTH, MAX_CONTEXT_FACTS } from '../api/incident.ts';
import { renderLinks, type Link, type LinkTemplate } from './links.ts';

export interface SummaryOptions {
  /** The install's dashboard, log and trace URL templates. */
  linkTemplates?: readonly LinkTemplate[];
  /** What on-call checks first; when absent, the incident's status.context. */
  context?: readonly string[];
}

export interface AttemptSummary {
  id: string;
  action: string;
  result: Attempt['result'];
  startedAt: string;
  finishedAt?: string;
  message?: string;
}

export interface Deadline {
  /** Acknowledge by then (response), or, once acknowledged, resolve by then (resolution). */
  kind: 'response' | 'resolution';
  dueAt: string;
  /** The deadline passed before it was met (the matching SLA condition is set). */
  missed: boolean;
}

export interface IncidentSummary {
  name: string;
  namespace: string;
  /** metadata.uid: stable across restarts and failover, the root of the PagerDuty dedup_key. */
  uid?: string;
  severity: Severity;
  title: string;
  description?: string;
  phase: Phase;
  /** `Deployment shop/checkout`, or undefined when the incident names no workload. */
  target?: { kind: string; name: string; namespace: string };
  source: { type: string; alertName?: string; generatorURL?: string; startsAt?: string };
  openedAt?: string;
  acknowledgedBy?: string;
  resolution?: { resolvedBy: string; note?: string; resolvedAt?: string };
  roles: IncidentRoles;
  escalation: { level: number; reason?: string };
  /** What automation tried, oldest first, each with its result. */
  attempts: AttemptSummary[];
  deadline?: Deadline;
  /** What a person runs to take the incident. */
  ackCommand: string;
  /** The alert's generatorURL first, then the install's templates filled in. */
  links: Link[];
  /** What on-call checks first: bounded, each fact short. */
  context: string[];
  latestUpdate?: IncidentUpdate;
}

/** Cuts text to `max` characters, marking the cut. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`;
}

export const ackCommand = (name: string, namespace: string) => `kubectl incident ack ${name} -n ${namespace}`;

export function targetText(summary: Pick<IncidentSummary, 'target'>): string | undefined {
  const t = summary.target;
  return t ? `${t.kind} ${t.namespace}/${t.name}` : undefined;
}

const conditionTrue = (incident: Incident, type: string) =>
  incident.status?.conditions?.some((c) => c.type === type && c.status === 'True') ?? false;

function deadlineOf(incident: Incident): Deadline | undefined {
  const sla = incident.status?.sla;
  const phase = incident.status?.phase;
  if (!sla || phase === 'Resolved' || phase === 'Closed' || incident.spec.resolution) return undefined;
  if (!incident.spec.acknowledgedBy && !conditionTrue(incident, 'Acknowledged') && sla.responseDueAt)
    return {
      kind: 'response',
      dueAt: sla.responseDueAt,
      missed: conditionTrue(incident, 'ResponseSLABreached'),
    };
  if (sla.resolutionDueAt)
    return {
      kind: 'resolution',
      dueAt: sla.resolutionDueAt,
      missed: conditionTrue(incident, 'ResolutionSLABreached'),
    };
  return undefined;
}

export function summarize(incident: Incident, options: SummaryOptions = {}): IncidentSummary {
  const { metadata, spec, status } = incident;
  const name = metadata.name ?? '';
  const namespace = metadata.namespace ?? '';
  const target = spec.target ? { kind: spec.target.kind, name: spec.target.name, namespace } : undefined;
  const source = spec.source;
  const alertLink: Link[] =
    source.generatorURL && /^https?:\/\//.test(source.generatorURL)
      ? [{ text: source.alertName ? `Alert ${source.alertName}` : 'Alert', href: source.generatorURL }]
      : [];
  const templateLinks = renderLinks(options.linkTemplates ?? [], {
    namespace,
    incident: name,
    severity: spec.severity,
    ...(target ? { kind: target.kind, target: target.name } : {}),
    ...(source.alertName ? { alertname: source.alertName } : {}),
  });
  const context = (options.context ?? status?.context ?? [])
    .filter((fact) => fact.trim() !== '')
    .slice(0, MAX_CONTEXT_FACTS)
    .map((fact) => truncate(fact, MAX_CONTEXT_FACT_LENGTH));
  const deadline = deadlineOf(incident);
  const latestUpdate = spec.updates?.at(-1);
  return {
    name,
    namespace,
    ...(metadata.uid ? { uid: metadata.uid } : {}),
    severity: spec.severity,
    title: spec.title,
    ...(spec.description ? { description: spec.description } : {}),
    phase: status?.phase ?? 'Open',
    ...(target ? { target } : {}),
    source: {
      type: source.type,
      ...(source.alertName ? { alertName: source.alertName } : {}),
      ...(source.generatorURL ? { generatorURL: source.generatorURL } : {}),
      ...(source.startsAt ? { startsAt: source.startsAt } : {}),
    },
    ...(status?.openedAt ? { openedAt: status.openedAt } : {}),
    ...(spec.acknowledgedBy ? { acknowledgedBy: spec.acknowledgedBy } : {}),
    ...(spec.resolution
      ? {
          resolution: {
            resolvedBy: spec.resolution.resolvedBy,
            ...(spec.resolution.note ? { note: spec.resolution.note } : {}),
            ...(status?.resolvedAt ? { resolvedAt: status.resolvedAt } : {}),
          },
        }
      : {}),
    roles: { ...spec.roles },
    escalation: {
      level: status?.escalation?.level ?? 0,
      ...(status?.escalation?.reason ? { reason: status.escalation.reason } : {}),
    },
    attempts: (status?.attempts ?? []).map((a) => ({
      id: a.id,
      action: a.action,
      result: a.result,
      startedAt: a.startedAt,
      ...(a.finishedAt ? { finishedAt: a.finishedAt } : {}),
      ...(a.message ? { message: a.message } : {}),
    })),
    ...(deadline ? { deadline } : {}),
    ackCommand: ackCommand(name, namespace),
    links: [...alertLink, ...templateLinks],
    context,
    ...(latestUpdate ? { latestUpdate } : {}),
  };
}

/** One line per attempt: `attempt-1 rolloutRestart: Failed (rollout did not complete ...)`. */
export function attemptLine(a: AttemptSummary): string {
  return `${a.id} ${a.action}: ${a.result}${a.message ? ` (${a.message})` : ''}`;
}

/** `respond by 2026-03-02T09:15:00Z` / `resolve by ... (missed)`. */
export function deadlineText(d: Deadline): string {
  return `${d.kind === 'response' ? 'acknowledge' : 'resolve'} by ${d.dueAt}${d.missed ? ' (missed)' : ''}`;
}
