// The commands of `kubectl incident`, one table entry each: its arguments, options and what it does.
// A new command (replay) or option (update --public) is one more entry or field, nothing else.
import { stringify } from 'yaml';
import { SEVERITIES, WORKLOAD_KINDS, type Severity, type WorkloadKind } from '../api/group.ts';
import type { Incident, IncidentRoles } from '../api/incident.ts';
import { MAX_UPDATE_MESSAGE, MAX_UPDATES } from '../api/incident.ts';
import type { IncidentsClient } from './client.ts';
import { CliError, RESOURCE, UsageError } from './errors.ts';
import { listTable, showIncident } from './render.ts';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** The value's placeholder in help: WHO, URL, ... */
  value?: string;
  help: string;
}

/** One run of a command: its arguments, options, the cluster, the terminal and the time. */
export interface Invocation {
  /** The positional arguments, by the names in Command.args. */
  arg(name: string): string;
  string(option: string): string | undefined;
  flag(option: string): boolean;
  readonly client: IncidentsClient;
  out(text: string): void;
  now(): Date;
}

export interface Command {
  name: string;
  /** Required positional arguments, in order (NAME). */
  args: string[];
  summary: string;
  options: Record<string, OptionSpec>;
  examples: string[];
  run(inv: Invocation): Promise<void>;
}

const BY: Record<string, OptionSpec> = {
  by: { type: 'string', value: 'WHO', help: 'who you are (default: your user, as the API server knows it)' },
};
const OUTPUT: Record<string, OptionSpec> = {
  output: { type: 'string', short: 'o', value: 'FORMAT', help: 'json or yaml instead of text' },
};

const ref = (inv: Invocation, name: string) => `${RESOURCE}/${name}`;

function printObject(inv: Invocation, value: unknown, fallback: () => string): void {
  const format = inv.string('output');
  if (format === undefined) inv.out(fallback());
  else if (format === 'json') inv.out(JSON.stringify(value, null, 2));
  else if (format === 'yaml') inv.out(stringify(value).trimEnd());
  else throw new UsageError(`--output must be json or yaml, got "${format}"`);
}

/** --by, else the caller's identity from a SelfSubjectReview. */
async function caller(inv: Invocation): Promise<string> {
  const by = inv.string('by')?.trim();
  if (by !== undefined) {
    if (!by) throw new UsageError('--by needs a name');
    return by;
  }
  return inv.client.whoami();
}

function required(inv: Invocation, option: string, why = ''): string {
  const value = inv.string(option)?.trim();
  if (!value) throw new UsageError(`--${option} is required${why ? `: ${why}` : ''}`);
  return value;
}

function refuseWhenResolved(incident: Incident, doing: string): void {
  const r = incident.spec.resolution;
  if (r)
    throw new CliError(
      `incident "${incident.metadata.name ?? ''}" was already resolved by ${r.resolvedBy}; nothing to ${doing}`,
    );
}

const TARGET_KINDS: Record<string, WorkloadKind> = {
  deployment: 'Deployment',
  deployments: 'Deployment',
  deploy: 'Deployment',
  statefulset: 'StatefulSet',
  statefulsets: 'StatefulSet',
  sts: 'StatefulSet',
  daemonset: 'DaemonSet',
  daemonsets: 'DaemonSet',
  ds: 'DaemonSet',
};

/** `deployment/api` (or deploy/, statefulset/, sts/, daemonset/, ds/) as an incident target. */
export function parseTarget(text: string): { kind: WorkloadKind; name: string } {
  const [kindText = '', name = '', ...rest] = text.split('/');
  const kind = TARGET_KINDS[kindText.toLowerCase()];
  if (!kind || !name || rest.length || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name))
    throw new UsageError(
      `--target must be KIND/NAME with KIND one of ${WORKLOAD_KINDS.map((k) => k.toLowerCase()).join(', ')} and a workload name, got "${text}"`,
    );
  return { kind, name };
}

export function parseSeverity(text: string): Severity {
  const severity = text.toUpperCase();
  if (!(SEVERITIES as readonly string[]).includes(severity))
    throw new UsageError(`--severity must be one of ${SEVERITIES.join(', ')}, got "${text}"`);
  return severity as Severity;
}

const ROLE_OPTIONS = {
  commander: 'incidentCommander',
  communications: 'communicationsLead',
  technical: 'technicalLead',
  scribe: 'scribe',
} as const satisfies Record<string, keyof IncidentRoles>;

export const COMMANDS: Command[] = [
  {
    name: 'list',
    args: [],
    summary: 'list the incidents in a namespace (or all, with -A)',
    options: {
      'all-namespaces': { type: 'boolean', short: 'A', help: 'list the incidents of every namespace' },
      ...OUTPUT,
    },
    examples: ['kubectl incident list -n shop', 'kubectl incident list -A'],
    async run(inv) {
      const all = inv.flag('all-namespaces');
      const incidents = (await inv.client.list(all)).sort(
        (a, b) =>
          (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '') ||
          (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''),
      );
      if (!incidents.length && inv.string('output') === undefined) {
        inv.out(all ? 'No incidents found.' : `No incidents found in namespace ${inv.client.namespace}.`);
        return;
      }
      printObject(inv, { apiVersion: 'v1', kind: 'List', items: incidents }, () =>
        listTable(incidents, inv.now(), all),
      );
    },
  },
  {
    name: 'show',
    args: ['NAME'],
    summary: 'show an incident: status, roles, checklist, attempts, notifications, updates, timeline',
    options: { ...OUTPUT },
    examples: ['kubectl incident show checkout-down -n shop'],
    async run(inv) {
      const incident = await inv.client.get(inv.arg('NAME'));
      printObject(inv, incident, () => showIncident(incident, inv.now()));
    },
  },
  {
    name: 'ack',
    args: ['NAME'],
    summary: 'acknowledge an incident: you take it, and escalation stops',
    options: { ...BY },
    examples: ['kubectl incident ack checkout-down -n shop', 'kubectl incident ack checkout-down --by alice'],
    async run(inv) {
      const name = inv.arg('NAME');
      const who = await caller(inv);
      await inv.client.modify(name, (incident) => {
        const by = incident.spec.acknowledgedBy;
        if (by)
          throw new CliError(
            `incident "${name}" was already acknowledged by ${by}`,
            `see it with: kubectl incident show ${name} -n ${inv.client.namespace}`,
          );
        refuseWhenResolved(incident, 'acknowledge');
        return { acknowledgedBy: who };
      });
      inv.out(`${ref(inv, name)} acknowledged by ${who}`);
    },
  },
  {
    name: 'update',
    args: ['NAME'],
    summary: 'post a status update (it resets the update reminder)',
    options: {
      message: { type: 'string', short: 'm', value: 'TEXT', help: 'what people need to know now' },
      ...BY,
    },
    examples: [
      'kubectl incident update checkout-down -n shop --message "rolled back to v41; error rate falling"',
    ],
    async run(inv) {
      const name = inv.arg('NAME');
      const message = required(inv, 'message', 'say what people need to know now');
      if (message.length > MAX_UPDATE_MESSAGE)
        throw new UsageError(`--message is ${message.length} characters; at most ${MAX_UPDATE_MESSAGE} fit`);
      const who = await caller(inv);
      let count = 0;
      await inv.client.modify(name, (incident) => {
        const updates = incident.spec.updates ?? [];
        if (updates.length >= MAX_UPDATES)
          throw new CliError(
            `incident "${name}" holds ${updates.length} updates, the most it can`,
            'summarize in the post-mortem instead',
          );
        count = updates.length + 1;
        return { updates: [...updates, { time: inv.now().toISOString(), author: who, message }] };
      });
      inv.out(`${ref(inv, name)} update ${count} posted by ${who}`);
    },
  },
  {
    name: 'assign',
    args: ['NAME'],
    summary: "assign (or hand over) the playbook's roles",
    options: {
      commander: { type: 'string', value: 'WHO', help: 'incident commander' },
      communications: { type: 'string', value: 'WHO', help: 'communications lead' },
      technical: { type: 'string', value: 'WHO', help: 'technical lead' },
      scribe: { type: 'string', value: 'WHO', help: 'scribe' },
    },
    examples: ['kubectl incident assign checkout-down -n shop --commander alice --communications bob'],
    async run(inv) {
      const name = inv.arg('NAME');
      const roles: IncidentRoles = {};
      for (const [option, field] of Object.entries(ROLE_OPTIONS)) {
        const who = inv.string(option)?.trim();
        if (who === '') throw new UsageError(`--${option} needs a name`);
        if (who) roles[field] = who;
      }
      if (!Object.keys(roles).length)
        throw new UsageError(
          'give at least one role: --commander, --communications, --technical or --scribe',
        );
      const updated = await inv.client.modify(name, (incident) => ({
        roles: { ...incident.spec.roles, ...roles },
      }));
      const all = updated.spec.roles ?? {};
      inv.out(
        `${ref(inv, name)} roles: ${Object.entries(ROLE_OPTIONS)
          .map(([option, field]) => `${option} ${all[field] ?? '-'}`)
          .join(', ')}`,
      );
    },
  },
  {
    name: 'resolve',
    args: ['NAME'],
    summary: 'resolve an incident, with a note on how',
    options: {
      note: { type: 'string', value: 'TEXT', help: 'how it was resolved (it cannot be changed later)' },
      ...BY,
    },
    examples: ['kubectl incident resolve checkout-down -n shop --note "rolled back to v41"'],
    async run(inv) {
      const name = inv.arg('NAME');
      const note = required(inv, 'note', 'say how it was resolved; the resolution cannot be changed later');
      const who = await caller(inv);
      await inv.client.modify(name, (incident) => {
        refuseWhenResolved(incident, 'resolve');
        return { resolution: { resolvedBy: who, note } };
      });
      inv.out(`${ref(inv, name)} resolved by ${who}`);
      inv.out(
        `next, if a post-mortem is required: kubectl incident postmortem ${name} -n ${inv.client.namespace} --url URL`,
      );
    },
  },
  {
    name: 'postmortem',
    args: ['NAME'],
    summary: 'record where the post-mortem is, and when it is completed (which closes the incident)',
    options: {
      url: { type: 'string', value: 'URL', help: 'where the post-mortem is written (http or https)' },
      completed: { type: 'boolean', help: 'the post-mortem is done' },
    },
    examples: [
      'kubectl incident postmortem checkout-down -n shop --url https://wiki.example.com/pm/42',
      'kubectl incident postmortem checkout-down -n shop --completed',
    ],
    async run(inv) {
      const name = inv.arg('NAME');
      const url = inv.string('url')?.trim();
      const completed = inv.flag('completed');
      if (url === undefined && !completed) throw new UsageError('give --url URL, --completed, or both');
      if (url !== undefined && !/^https?:\/\/\S+$/.test(url))
        throw new UsageError(`--url must be an http(s) URL, got "${url}"`);
      const updated = await inv.client.modify(name, (incident) => ({
        postMortem: {
          ...incident.spec.postMortem,
          ...(url ? { url } : {}),
          completed: completed || (incident.spec.postMortem?.completed ?? false),
        },
      }));
      const pm = updated.spec.postMortem;
      inv.out(`${ref(inv, name)} post-mortem ${pm?.url ?? '(no URL)'}${pm?.completed ? ', completed' : ''}`);
    },
  },
  {
    name: 'declare',
    args: [],
    summary: 'declare an incident by hand (for people to work: no automated action)',
    options: {
      severity: {
        type: 'string',
        value: 'P1..P4',
        help: 'P1 critical outage, P2 partial, P3 minor, P4 no immediate impact',
      },
      title: { type: 'string', value: 'TEXT', help: 'one line that says what is wrong' },
      target: { type: 'string', value: 'KIND/NAME', help: 'the workload, such as deployment/api' },
      description: { type: 'string', value: 'TEXT', help: 'more about it' },
      name: { type: 'string', value: 'NAME', help: 'the incident name (default: generated from the target)' },
    },
    examples: [
      'kubectl incident declare -n shop --severity P2 --target deployment/api --title "API latency above 2 s"',
    ],
    async run(inv) {
      const severity = parseSeverity(required(inv, 'severity'));
      const title = required(inv, 'title', 'one line that says what is wrong');
      const targetText = inv.string('target');
      const target = targetText === undefined ? undefined : parseTarget(targetText);
      const description = inv.string('description');
      const name = inv.string('name');
      const created = await inv.client.create(
        name ? { name } : { generateName: `${target?.name ?? 'incident'}-` },
        {
          severity,
          title,
          source: { type: 'manual' },
          dryRun: false,
          ...(target ? { target } : {}),
          ...(description ? { description } : {}),
        },
      );
      const createdName = created.metadata.name ?? '';
      inv.out(`${ref(inv, createdName)} declared (${severity}) in namespace ${inv.client.namespace}`);
      inv.out(`follow it with: kubectl incident show ${createdName} -n ${inv.client.namespace}`);
    },
  },
];
