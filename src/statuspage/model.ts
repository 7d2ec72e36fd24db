// What the public status page says, computed from the caches alone: a pure function of the
// StatusComponents, the Incidents and the time. Only the public side of an Incident (spec.public)
// and the component's own public text are read for text; everything else an Incident carries
// (title, target, alert, labels, status messages) is used, if at all, to decide which component it
// affects and when it started and ended, and never reaches the result as text. Ids are opaque
// hashes, so not even an object's name shows.
import { createHash } from 'node:crypto';
import type { Severity } from '../api/group.ts';
import type { Incident } from '../api/incident.ts';
import { IMPACTS, type Impact, type PublicStatus } from '../api/public.ts';
import type { StatusComponent } from '../api/statuscomponent.ts';

export const HISTORY_DAYS = 90;
const DAY_MS = 86_400_000;

/** An incident without its own impact is as bad as its severity says (the playbook's meaning). */
export const IMPACT_OF_SEVERITY: Record<Severity, Impact> = {
  P1: 'major_outage',
  P2: 'partial_outage',
  P3: 'degraded_performance',
  P4: 'operational',
};

export const IMPACT_LABELS: Record<Impact, string> = {
  operational: 'Operational',
  degraded_performance: 'Degraded performance',
  partial_outage: 'Partial outage',
  major_outage: 'Major outage',
};

/** The page's headline for each overall status. */
export const OVERALL_LABELS: Record<Impact, string> = {
  operational: 'All systems operational',
  degraded_performance: 'Degraded performance',
  partial_outage: 'Partial outage',
  major_outage: 'Major outage',
};

export const STATUS_LABELS: Record<PublicStatus, string> = {
  investigating: 'Investigating',
  identified: 'Identified',
  monitoring: 'Monitoring',
  resolved: 'Resolved',
};

export const worst = (impacts: Iterable<Impact>): Impact => {
  let rank = 0;
  for (const impact of impacts) rank = Math.max(rank, IMPACTS.indexOf(impact));
  return IMPACTS[rank] ?? 'operational';
};

export interface DayStatus {
  /** The UTC day, YYYY-MM-DD. */
  date: string;
  /** The worst impact of the incidents affecting the component on that day. */
  impact: Impact;
}

export interface PageComponent {
  id: string;
  name: string;
  description?: string;
  status: Impact;
  position: number;
  createdAt: string;
  /** When its status last changed: the latest start or end of an incident affecting it, else its creation. */
  updatedAt: string;
  /** The last HISTORY_DAYS days, oldest first, today last. */
  days: DayStatus[];
}

export interface PageUpdate {
  id: string;
  time: string;
  status: PublicStatus;
  message: string;
}

export interface PageIncident {
  id: string;
  title: string;
  impact: Impact;
  /** The latest public update's status; resolved once the incident is over. */
  status: PublicStatus;
  current: boolean;
  startedAt: string;
  resolvedAt?: string;
  /** When the next public update is due (current incidents whose status says so). */
  nextUpdateAt?: string;
  /** Newest first. */
  updates: PageUpdate[];
  /** Ids of the affected components, in page order. */
  componentIds: string[];
}

export interface StatusPageModel {
  generatedAt: string;
  /** How many days the history covers. */
  historyDays: number;
  /** The latest time anything on the page changed (the generation time when nothing is there). */
  updatedAt: string;
  overall: Impact;
  /** In display order. */
  components: PageComponent[];
  /** Newest first. */
  current: PageIncident[];
  /** Incidents over within the last HISTORY_DAYS days, newest first. */
  history: PageIncident[];
}

/** A short, stable id that reveals nothing of the object it stands for. */
export function opaqueId(kind: string, namespace: string, name: string): string {
  return createHash('sha256').update(`${kind}\0${namespace}\0${name}`).digest('hex').slice(0, 12);
}

const iso = (time: string | number | Date) => new Date(time).toISOString();
const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

interface Interval {
  startMs: number;
  /** Undefined while the incident is current. */
  endMs?: number;
}

/**
 * Which components an incident affects: those it names, else those of its namespace that cover its
 * target workload or the alert that raised it. Both only within the incident's own namespace, like
 * every reference in this API.
 */
export function affectedComponents(
  incident: Incident,
  components: readonly StatusComponent[],
): StatusComponent[] {
  const namespace = incident.metadata.namespace;
  const local = components.filter((c) => c.metadata.namespace === namespace);
  const named = incident.spec.public?.components ?? [];
  if (named.length > 0) return local.filter((c) => named.includes(c.metadata.name ?? ''));
  const { target, source } = incident.spec;
  return local.filter(
    (c) =>
      (target !== undefined &&
        (c.spec.workloads ?? []).some((w) => w.kind === target.kind && w.name === target.name)) ||
      (source.alertName !== undefined && (c.spec.alertNames ?? []).includes(source.alertName)),
  );
}

function byDisplayOrder(a: StatusComponent, b: StatusComponent): number {
  return (
    a.spec.order - b.spec.order ||
    a.spec.displayName.localeCompare(b.spec.displayName) ||
    (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '') ||
    (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '')
  );
}

/** When the incident began for the public: detection (the alert's start), else when it was opened. */
function startOf(incident: Incident, now: Date): string {
  const candidates = [
    incident.spec.source.startsAt,
    incident.status?.openedAt,
    incident.metadata.creationTimestamp,
  ].filter((t): t is string => Boolean(t));
  return iso(candidates[0] ?? now);
}

/**
 * An incident is over when its latest public update says resolved, or when selfheal resolved it
 * (automation verified the fix, or a person recorded the resolution): whichever came first.
 */
function endOf(incident: Incident): string | undefined {
  const updates = incident.spec.public?.updates ?? [];
  const last = updates[updates.length - 1];
  const phase = incident.status?.phase;
  const publicEnd = last?.status === 'resolved' ? iso(last.time) : undefined;
  const operatorEnd =
    phase === 'Resolved' || phase === 'Closed'
      ? iso(incident.status?.resolvedAt ?? last?.time ?? incident.metadata.creationTimestamp ?? 0)
      : undefined;
  if (publicEnd && operatorEnd) return publicEnd < operatorEnd ? publicEnd : operatorEnd;
  return publicEnd ?? operatorEnd;
}

function fallbackTitle(names: string[]): string {
  return names.length > 0 ? `Issue affecting ${names.join(', ')}` : 'Service incident';
}

export interface StatusPageInput {
  components: readonly StatusComponent[];
  incidents: readonly Incident[];
  now: Date;
  historyDays?: number;
}

export function buildStatusPage({
  components,
  incidents,
  now,
  historyDays = HISTORY_DAYS,
}: StatusPageInput): StatusPageModel {
  const ordered = [...components].sort(byDisplayOrder);
  const componentId = (c: StatusComponent) =>
    opaqueId('StatusComponent', c.metadata.namespace ?? '', c.metadata.name ?? '');
  const nowMs = now.getTime();
  const todayStartMs = Date.parse(`${utcDay(nowMs)}T00:00:00.000Z`);
  const windowStartMs = todayStartMs - (historyDays - 1) * DAY_MS;

  const published = incidents
    .filter((i) => (i.spec.public?.updates.length ?? 0) > 0)
    .map((incident) => {
      const pub = incident.spec.public;
      const affected = affectedComponents(incident, ordered);
      const id = opaqueId('Incident', incident.metadata.namespace ?? '', incident.metadata.name ?? '');
      const startedAt = startOf(incident, now);
      const resolvedAt = endOf(incident);
      const updates = (pub?.updates ?? [])
        .map((u, index) => ({
          id: `${id}u${index}`,
          time: iso(u.time),
          status: u.status,
          message: u.message,
        }))
        .reverse();
      const nextUpdateAt = incident.status?.sla?.nextUpdateDueAt;
      const page: PageIncident = {
        id,
        title: pub?.title ?? fallbackTitle(affected.map((c) => c.spec.displayName)),
        impact: pub?.impact ?? IMPACT_OF_SEVERITY[incident.spec.severity],
        status: resolvedAt ? 'resolved' : (updates[0]?.status ?? 'investigating'),
        current: resolvedAt === undefined,
        startedAt,
        ...(resolvedAt ? { resolvedAt } : {}),
        ...(!resolvedAt && nextUpdateAt ? { nextUpdateAt: iso(nextUpdateAt) } : {}),
        updates,
        componentIds: affected.map(componentId),
      };
      const interval: Interval = {
        startMs: Date.parse(startedAt),
        ...(resolvedAt ? { endMs: Date.parse(resolvedAt) } : {}),
      };
      return { page, interval };
    });

  const newestFirst = (a: PageIncident, b: PageIncident) =>
    b.startedAt.localeCompare(a.startedAt) || a.id.localeCompare(b.id);
  const current = published.filter((p) => p.page.current);
  const past = published.filter((p) => !p.page.current && (p.interval.endMs ?? 0) >= windowStartMs);

  const pageComponents = ordered.map((c, position): PageComponent => {
    const id = componentId(c);
    const affecting = published.filter((p) => p.page.componentIds.includes(id));
    const days = Array.from({ length: historyDays }, (_, d): DayStatus => {
      const dayStart = windowStartMs + d * DAY_MS;
      const dayEnd = dayStart + DAY_MS;
      const that = affecting.filter(
        (p) => p.interval.startMs < dayEnd && (p.interval.endMs ?? nowMs) > dayStart,
      );
      return { date: utcDay(dayStart), impact: worst(that.map((p) => p.page.impact)) };
    });
    const changes = affecting
      .flatMap((p) => [p.page.startedAt, p.page.resolvedAt])
      .filter((t): t is string => t !== undefined && Date.parse(t) <= nowMs);
    const createdAt = iso(c.metadata.creationTimestamp ?? now);
    return {
      id,
      name: c.spec.displayName,
      ...(c.spec.description ? { description: c.spec.description } : {}),
      status: worst(affecting.filter((p) => p.page.current).map((p) => p.page.impact)),
      position: position + 1,
      createdAt,
      updatedAt: [createdAt, ...changes].sort().at(-1) ?? createdAt,
      days,
    };
  });

  const shown = [...current, ...past].map((p) => p.page);
  const times = [
    ...shown.flatMap((i) => [...i.updates.map((u) => u.time), i.resolvedAt ?? i.startedAt]),
    ...pageComponents.map((c) => c.updatedAt),
  ].filter((t) => Date.parse(t) <= nowMs);
  return {
    generatedAt: iso(now),
    historyDays,
    updatedAt: times.sort().at(-1) ?? iso(now),
    overall: worst([...pageComponents.map((c) => c.status), ...current.map((p) => p.page.impact)]),
    components: pageComponents,
    current: current.map((p) => p.page).sort(newestFirst),
    history: past
      .map((p) => p.page)
      .sort((a, b) => (b.resolvedAt ?? '').localeCompare(a.resolvedAt ?? '') || newestFirst(a, b)),
  };
}
