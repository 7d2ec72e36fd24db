// What `list` and `show` print: plain text tables for a terminal, aligned like kubectl's.
import type { Incident } from '../api/incident.ts';
import { ROLE_FIELDS } from '../api/incident.ts';

/** kubectl's short ages: 45s, 12m, 5h, 3d. */
export function age(since: string | undefined, now: Date): string {
  if (!since) return '<unknown>';
  const s = Math.max(0, Math.floor((now.getTime() - new Date(since).getTime()) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 2 * 3600) return `${Math.floor(s / 60)}m`;
  if (s < 2 * 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** Columns padded to their widest cell, three spaces apart; the last column unpadded. */
export function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd((widths[i] ?? 0) + 3)))
        .join('')
        .trimEnd(),
    )
    .join('\n');
}

const dash = (value: string | number | undefined) =>
  value === undefined || value === '' ? '-' : String(value);

export function listTable(incidents: Incident[], now: Date, withNamespace: boolean): string {
  const header = ['NAME', 'SEVERITY', 'PHASE', 'TARGET', 'ACKNOWLEDGED-BY', 'COMMANDER', 'AGE', 'TITLE'];
  const rows = incidents.map((i) => [
    i.metadata.name ?? '',
    i.spec.severity,
    i.status?.phase ?? 'Open',
    i.spec.target ? `${i.spec.target.kind.toLowerCase()}/${i.spec.target.name}` : '-',
    dash(i.spec.acknowledgedBy),
    dash(i.spec.roles?.incidentCommander),
    age(i.metadata.creationTimestamp, now),
    i.spec.title,
  ]);
  return table(
    withNamespace
      ? [['NAMESPACE', ...header], ...rows.map((r, n) => [incidents[n]?.metadata.namespace ?? '', ...r])]
      : [header, ...rows],
  );
}

const ROLE_LABELS: Record<(typeof ROLE_FIELDS)[number], string> = {
  incidentCommander: 'Incident commander',
  communicationsLead: 'Communications lead',
  technicalLead: 'Technical lead',
  scribe: 'Scribe',
};

function section(title: string, lines: string[], empty: string): string[] {
  return ['', `${title}:`, ...(lines.length ? lines.map((l) => `  ${l}`) : [`  ${empty}`])];
}

const when = (time: string | undefined, now: Date) => (time ? `${time} (${age(time, now)} ago)` : '-');
const until = (time: string | undefined, now: Date) => {
  if (!time) return '-';
  const ms = new Date(time).getTime() - now.getTime();
  return ms >= 0
    ? `${time} (in ${age(new Date(now.getTime() - ms).toISOString(), now)})`
    : `${time} (${age(time, now)} ago)`;
};

/** Everything about one incident: status, roles, checklist, context, attempts, notifications, updates, timeline. */
export function showIncident(i: Incident, now: Date): string {
  const { spec, status, metadata } = i;
  const ns = metadata.namespace ?? '';
  const name = metadata.name ?? '';
  const condition = (type: string) => status?.conditions?.find((c) => c.type === type && c.status === 'True');
  const escalation = status?.escalation;
  const phase = status?.phase ?? 'Open';
  const source = spec.source;
  const sla = status?.sla;
  const missed = (type: string) => (condition(type) ? ' (missed)' : '');
  const fields: [string, string][] = [
    ['Name', name],
    ['Namespace', ns],
    ['Severity', spec.severity],
    ['Title', spec.title],
    ...(spec.description ? ([['Description', spec.description]] as [string, string][]) : []),
    [
      'Phase',
      `${phase}${escalation?.level ? ` (escalation level ${escalation.level})` : ''}${escalation?.reason && phase === 'Escalated' ? `: ${escalation.reason}` : ''}`,
    ],
    ['Target', spec.target ? `${spec.target.kind} ${ns}/${spec.target.name}` : 'none named'],
    [
      'Source',
      source.type === 'manual'
        ? 'declared by hand'
        : `${source.type} alert ${source.alertName ?? ''}${source.generatorURL ? ` (${source.generatorURL})` : ''}`,
    ],
    ['Opened', when(status?.openedAt ?? metadata.creationTimestamp, now)],
    [
      'Acknowledged',
      spec.acknowledgedBy
        ? `by ${spec.acknowledgedBy}`
        : `no: kubectl incident ack ${name} -n ${ns}${sla?.responseDueAt ? `, due ${until(sla.responseDueAt, now)}${missed('ResponseSLABreached')}` : ''}`,
    ],
    [
      'Resolved',
      spec.resolution
        ? `by ${spec.resolution.resolvedBy}${status?.resolvedAt ? ` at ${status.resolvedAt}` : ''}${spec.resolution.note ? `: ${spec.resolution.note}` : ''}`
        : `no${sla?.resolutionDueAt ? `, due ${until(sla.resolutionDueAt, now)}${missed('ResolutionSLABreached')}` : ''}`,
    ],
    ...(sla?.nextUpdateDueAt
      ? ([['Next update due', until(sla.nextUpdateDueAt, now)]] as [string, string][])
      : []),
    [
      'Post-mortem',
      [
        status?.postMortem ? (status.postMortem.required ? 'required' : 'not required') : '',
        status?.postMortem?.dueAt ? `due ${until(status.postMortem.dueAt, now)}` : '',
        spec.postMortem?.url ?? '',
        spec.postMortem?.completed ? 'completed' : spec.postMortem ? 'not completed' : '',
      ]
        .filter(Boolean)
        .join(', ') || '-',
    ],
  ];
  const width = Math.max(...fields.map(([k]) => k.length)) + 2;
  const lines = fields.map(([k, v]) => `${`${k}:`.padEnd(width)}${v}`);
  lines.push(
    ...section(
      'Roles',
      ROLE_FIELDS.map((r) => `${`${ROLE_LABELS[r]}:`.padEnd(22)}${dash(spec.roles?.[r])}`),
      '',
    ),
  );
  lines.push(
    ...section(
      'Checklist',
      (status?.checklist ?? []).map(
        (c) => `[${c.done ? 'x' : ' '}] ${c.name}${c.detail ? `: ${c.detail}` : ''}`,
      ),
      'not computed yet',
    ),
  );
  lines.push(
    ...section(
      'Check first',
      (status?.context ?? []).map((c) => `- ${c}`),
      'nothing recorded',
    ),
  );
  lines.push(
    ...section(
      'Attempts',
      (status?.attempts ?? []).map(
        (a) =>
          `${a.id}  ${a.action}  ${a.result}  ${a.startedAt}${a.finishedAt ? ` -> ${a.finishedAt}` : ''}${a.message ? `  ${a.message}` : ''}`,
      ),
      'no automated action ran',
    ),
  );
  lines.push(
    ...section(
      'Notifications',
      (status?.notifications ?? []).map(
        (n) =>
          `${n.receiver}  ${n.event}  ${n.state}  ${n.attempts} attempt(s)${n.deliveredAt ? `, delivered ${n.deliveredAt}` : n.nextAttemptAt ? `, next try ${n.nextAttemptAt}` : ''}${n.message ? `  ${n.message}` : ''}`,
      ),
      'none sent',
    ),
  );
  lines.push(
    ...section(
      'Updates',
      (spec.updates ?? []).map((u) => `${u.time}  ${u.author}: ${u.message}`),
      `none yet: kubectl incident update ${name} -n ${ns} --message "..."`,
    ),
  );
  lines.push(
    ...section(
      'Public updates',
      (spec.public?.updates ?? []).map((u) => `${u.time}  ${u.status}: ${u.message}`),
      `not on the status page: kubectl incident update ${name} -n ${ns} --public "..."`,
    ),
  );
  lines.push(
    ...section(
      'Timeline',
      (status?.timeline ?? []).map((t) => `${t.time}  ${t.type}  ${t.message}`),
      'empty',
    ),
  );
  return lines.join('\n');
}
