// The commands of `kubectl incident`, one table entry each: its arguments, options and what it does.
// A new command (replay) or option (update --public) is one more entry or field, nothing else.
import { stringify } from 'yaml';
import { SEVERITIES, WORKLOAD_KINDS, type Severity, type WorkloadKind } from '../api/group.ts';
import type { Incident, IncidentRoles } from '../api/incident.ts';
import { MAX_UPDATE_MESSAGE } from '../api/incident.ts';
import { MAX_PUBLIC_MESSAGE, PUBLIC_STATUSES } from '../api/public.ts';
import { parseDuration } from '../api/durations.ts';
import type { IncidentsClient } from './client.ts';
import { AlreadyExistsError, CliError, RESOURCE, UsageError } from './errors.ts';
import { listTable, showIncident } from './render.ts';
import { replayIncident } from './replay.ts';
import { parsePublicStatus, updateOps, type UpdateOps } from './updates.ts';

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
    summary: 'post a status update (it resets the update reminder), for the team and/or the status page',
    options: {
      message: { type: 'string', short: 'm', value: 'TEXT', help: 'what people need to know now' },
      public: {
        type: 'string',
        value: 'TEXT',
        help: 'a public update for the status page: plain language, no internal names',
      },
      status: {
        type: 'string',
        value: 'STATUS',
        help: `the public status: ${PUBLIC_STATUSES.join(', ')} (default: the last one's, else investigating)`,
      },
      ...BY,
    },
    examples: [
      'kubectl incident update checkout-down -n shop --message "rolled back to v41; error rate falling"',
      'kubectl incident update checkout-down -n shop --public "Checkout works again; we are watching it." --status monitoring',
    ],
    async run(inv) {
      const name = inv.arg('NAME');
      const publicText = inv.string('public');
      const statusText = inv.string('status');
      if (statusText !== undefined && publicText === undefined)
        throw new UsageError('--status goes with --public: it is the status of the public update');
      const message =
        publicText === undefined || inv.string('message') !== undefined
          ? required(inv, 'message', 'say what people need to know now')
          : undefined;
      if (message !== undefined && message.length > MAX_UPDATE_MESSAGE)
        throw new UsageError(`--message is ${message.length} characters; at most ${MAX_UPDATE_MESSAGE} fit`);
      const publicMessage = publicText?.trim();
      if (publicMessage === '')
        throw new UsageError('--public needs a message: what the public should read on the status page');
      if (publicMessage !== undefined && publicMessage.length > MAX_PUBLIC_MESSAGE)
        throw new UsageError(
          `--public is ${publicMessage.length} characters; at most ${MAX_PUBLIC_MESSAGE} fit`,
        );
      const status = statusText === undefined ? undefined : parsePublicStatus(statusText);
      const who = message === undefined ? undefined : await caller(inv);
      let posted: UpdateOps | undefined;
      await inv.client.jsonPatch(name, (incident) => {
        posted = updateOps(incident, {
          time: inv.now().toISOString(),
          ...(message !== undefined && who !== undefined ? { internal: { author: who, message } } : {}),
          ...(publicMessage !== undefined
            ? { public: { message: publicMessage, ...(status ? { status } : {}) } }
            : {}),
        });
        return posted.ops;
      });
      if (posted?.internalCount !== undefined)
        inv.out(`${ref(inv, name)} update ${posted.internalCount} posted by ${who ?? ''}`);
      if (posted?.publicCount !== undefined)
        inv.out(
          `${ref(inv, name)} public update ${posted.publicCount} posted (${posted.publicStatus ?? ''})`,
        );
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
  {
    name: 'replay',
    args: ['NAME'],
    summary: "send back what NAME's queueDrain move parked: a new incident replays it to its source queue",
    options: {
      queue: { type: 'string', value: 'QUEUE', help: 'the source queue, when NAME moved more than one' },
      name: { type: 'string', value: 'NAME', help: 'the new incident (default: NAME-replay)' },
      severity: { type: 'string', value: 'P1..P4', help: 'its severity (default: P4)' },
      timeout: {
        type: 'string',
        value: 'DURATION',
        help: "how long the replay may take, such as 30m (default: the move's timeout)",
      },
    },
    examples: [
      'kubectl incident replay orders-backlog -n shop',
      'kubectl incident replay orders-backlog -n shop --queue orders --timeout 30m',
    ],
    async run(inv) {
      const source = inv.arg('NAME');
      const timeout = inv.string('timeout');
      if (timeout !== undefined) {
        try {
          parseDuration(timeout);
        } catch {
          throw new UsageError(`--timeout must be a duration such as 90s, 15m or 1h30m, got "${timeout}"`);
        }
      }
      const severityText = inv.string('severity');
      const severity = severityText === undefined ? 'P4' : parseSeverity(severityText);
      const name = inv.string('name')?.trim() || `${source}-replay`;
      const queue = inv.string('queue');
      const incident = await inv.client.get(source);
      const policyName = incident.spec.policyRef?.name;
      const policy = policyName ? await inv.client.policy(policyName) : undefined;
      const replay = replayIncident(incident, policy, {
        severity,
        ...(queue !== undefined ? { queue } : {}),
        ...(timeout !== undefined ? { timeout } : {}),
      });
      try {
        await inv.client.create({ name, annotations: replay.annotations }, replay.spec);
      } catch (error) {
        if (error instanceof AlreadyExistsError)
          throw new AlreadyExistsError(
            error.message,
            ...error.hints,
            `a second replay (of what is still parked) needs another name: --name ${source}-replay-2`,
          );
        throw error;
      }
      const ns = inv.client.namespace;
      inv.out(
        `${ref(inv, name)} declared (${severity}): replays ${replay.move.parkingQueue} to ${replay.move.queue}, parked by incident ${source}`,
      );
      inv.out(`follow it with: kubectl incident show ${name} -n ${ns}`);
    },
  },
];
