// The operator's configuration: flags (--name=value or --name value) over environment variables
// (SELFHEAL_NAME), over defaults. Every value is checked at start; a bad one stops the process
// with an error that names the flag, the variable and what is wrong.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parse as parseYaml } from 'yaml';
import { Value } from 'typebox/value';
import { SEVERITIES, type Severity } from './api/group.ts';
import {
  Escalation as EscalationSchema,
  MAX_CHECK_TIMEOUT,
  receiverRuleProblems,
  type Escalation,
} from './api/remediation.ts';
import { parseDuration } from './api/durations.ts';
import { EGRESS_FLAGS, parseAllowList, type EgressSettings, type GuardedClass } from './base/egress.ts';
import { parseLinkTemplates, type LinkTemplate } from './escalation/links.ts';
import { DEFAULT_PAGERDUTY_URL } from './escalation/receivers/pagerduty.ts';
import { DEFAULT_PLAYBOOK, type Playbook } from './incidents/playbook.ts';
import type { IncidentSettings } from './incidents/settings.ts';

export interface WebhookConfig {
  address: { host: string; port: number };
  /** Undefined only when --webhook-insecure is set. */
  token: string | undefined;
  maxBodyBytes: number;
}

/** The public status page; undefined when --status-page-address is empty. */
export interface StatusPageConfig {
  address: { host: string; port: number };
  title: string;
  /** The page's public URL; undefined: taken from each request's Host header. */
  url?: string;
  /**
   * The namespaces whose components and incidents the page shows, besides those labelled
   * selfheal.dev/status-page=public; empty: only the labelled ones (none speaks unless opted in).
   */
  namespaces: string[];
}

export interface EscalationConfig {
  /** PagerDuty Events API v2 base URL; events go to <url>/v2/enqueue. */
  pagerDutyUrl: string;
  /** Time limit of every notification request. */
  notificationTimeoutMs: number;
  /** Dashboard, log and trace links for pages and messages. */
  linkTemplates: LinkTemplate[];
}

export interface OperatorConfig {
  webhook: WebhookConfig;
  statusPage?: StatusPageConfig;
  escalation: EscalationConfig;
  prometheus: { url?: string; alertsIntervalMs: number };
  unmatchedNamespace?: string;
  kubeconfig?: string;
  namespace: string;
  /** Where Incidents and RemediationPolicies are watched; empty: every namespace. */
  watchNamespaces: string[];
  identity: string;
  healthAddress: { host: string; port: number };
  workers: number;
  /** Overall limit on reconcile retries across all keys. */
  retryLimit: { qps: number; burst: number };
  /** Every request the leader makes is aborted after this long (below lease - renew deadline). */
  requestTimeoutMs: number;
  /** Verification checks, run off the reconcile path within these limits. */
  checks: { maxTimeoutMs: number; concurrency: number; perNamespace: number };
  /** Alerts of one notification written at once. */
  intakeConcurrency: number;
  /** The overall pace of Event writes. */
  events: { qps: number; burst: number };
  leaderElection: {
    enabled: boolean;
    leaseDurationMs: number;
    renewDeadlineMs: number;
    retryPeriodMs: number;
  };
  logLevel: string;
  incidents: IncidentSettings;
  /** Where URLs tenants set may go (src/base/egress.ts). */
  egress: EgressSettings;
}

type Kind = 'string' | 'int' | 'duration' | 'bool' | 'address' | 'severities' | 'namespaces' | 'file';

export interface Setting {
  flag: string;
  kind: Kind;
  default?: string;
  help: string;
}

/** Every setting, with its default; docs/configuration.md lists the same table. */
export const SETTINGS = [
  { flag: 'kubeconfig', kind: 'file', help: 'kubeconfig to use (default: KUBECONFIG, then in-cluster)' },
  {
    flag: 'namespace',
    kind: 'string',
    default: 'selfheal-system',
    help: "the operator's own namespace (its leader Lease lives there)",
  },
  {
    flag: 'watch-namespaces',
    kind: 'namespaces',
    default: '',
    help: 'comma-separated namespaces whose Incidents and RemediationPolicies to watch (empty: all namespaces)',
  },
  {
    flag: 'identity',
    kind: 'string',
    help: 'this replica in the leader Lease (default: POD_NAME, else hostname-pid)',
  },
  {
    flag: 'health-address',
    kind: 'address',
    default: '0.0.0.0:8081',
    help: 'host:port of /healthz, /readyz and /metrics',
  },
  {
    flag: 'workers',
    kind: 'int',
    default: '16',
    help: 'incidents reconciled in parallel (each mostly waits on the API server: under load, the share of its capacity the reconciler gets against alert intake)',
  },
  {
    flag: 'retry-qps',
    kind: 'int',
    default: '10',
    help: 'overall rate of reconcile retries after errors, across all incidents (client-go default)',
  },
  { flag: 'retry-burst', kind: 'int', default: '100', help: 'burst of that retry rate' },
  {
    flag: 'request-timeout',
    kind: 'duration',
    help: 'every request the leader makes is aborted after this long; must be below lease-duration minus renew-deadline (default: 80% of that margin), so no write of a deposed leader can still be in flight when another replica takes over',
  },
  {
    flag: 'intake-concurrency',
    kind: 'int',
    default: '8',
    help: 'alerts of one webhook notification written to the API server at once',
  },
  {
    flag: 'event-qps',
    kind: 'int',
    default: '25',
    help: 'Events written per second at most, overall (they wait behind the status writes; past a backlog of 1000 they are dropped)',
  },
  { flag: 'event-burst', kind: 'int', default: '100', help: 'burst of that Event rate' },
  { flag: 'leader-elect', kind: 'bool', default: 'true', help: 'act only while holding the leader Lease' },
  {
    flag: 'lease-duration',
    kind: 'duration',
    default: '15s',
    help: 'how long a Lease lasts without renewal',
  },
  {
    flag: 'renew-deadline',
    kind: 'duration',
    default: '10s',
    help: 'the leader gives up acting when it could not renew for this long',
  },
  {
    flag: 'retry-period',
    kind: 'duration',
    default: '2s',
    help: 'how often to try to acquire or renew the Lease',
  },
  { flag: 'log-level', kind: 'string', default: 'info', help: 'trace, debug, info, warn, error' },
  {
    flag: 'paused',
    kind: 'bool',
    default: 'false',
    help: 'install-time default of the global pause: automation holds and acts on nothing (the ConfigMap selfheal-pause switches it live)',
  },
  {
    flag: 'playbook-file',
    kind: 'file',
    help: 'YAML overriding the severity table (response, resolution, updateEvery, postMortemDue per P1..P4)',
  },
  {
    flag: 'default-max-attempts',
    kind: 'int',
    default: '3',
    help: "attempts per incident (incidents without a policy; a policy's guards win)",
  },
  {
    flag: 'default-cooldown',
    kind: 'duration',
    default: '30m',
    help: 'per-target cooldown for incidents without a policy',
  },
  {
    flag: 'default-max-per-hour',
    kind: 'int',
    default: '3',
    help: 'per-target hourly budget for incidents without a policy',
  },
  {
    flag: 'storm-max-incidents',
    kind: 'int',
    default: '10',
    help: 'storm breaker: more incidents than this within the window → escalate only',
  },
  { flag: 'storm-window', kind: 'duration', default: '5m', help: 'storm breaker window' },
  {
    flag: 'recurrence-window',
    kind: 'duration',
    default: '1h',
    help: 'a resolved incident closes after this long without its signal returning',
  },
  {
    flag: 'post-mortem-severities',
    kind: 'severities',
    default: 'P1',
    help: 'severities that need a post-mortem even when automation fixed them',
  },
  {
    flag: 'escalation-file',
    kind: 'file',
    help: 'YAML of default escalation levels per severity (P1..P4: {levels: [{after, receivers}]}), for incidents whose spec and policy name none',
  },
  {
    flag: 'heads-up-severities',
    kind: 'severities',
    default: 'P1,P2',
    help: 'severities whose first escalation level is paged as soon as automation starts (the playbook pages P1/P2 responders quickly), not only when it fails',
  },
  {
    flag: 'status-page-update-within',
    kind: 'duration',
    default: '15m',
    help: 'the playbook asks for a public status page update this soon after opening (StatusPageUpdateDue)',
  },
  {
    flag: 'status-page-update-severities',
    kind: 'severities',
    default: 'P1,P2',
    help: 'severities the status page rule applies to',
  },
  {
    flag: 'poll-interval',
    kind: 'duration',
    default: '2s',
    help: "how often a verification's PromQL check is queried and a queue job's progress looked at (workloads are followed by watch, never polled)",
  },
  {
    flag: 'max-check-timeout',
    kind: 'duration',
    default: '30s',
    help: "ceiling on one verification HTTP check's timeout: a longer verification.http.timeout is cut to it (the CRDs refuse more than 30s; this may only lower that)",
  },
  {
    flag: 'check-concurrency',
    kind: 'int',
    default: '32',
    help: 'verification checks (HTTP and PromQL) in flight at once, overall; they run in the background, never in a reconcile worker',
  },
  {
    flag: 'check-concurrency-per-namespace',
    kind: 'int',
    default: '8',
    help: "verification checks in flight at once for one namespace, so one namespace's slow endpoints cannot take every slot",
  },
  {
    flag: 'webhook-address',
    kind: 'address',
    default: '0.0.0.0:8080',
    help: 'host:port of the Alertmanager webhook (POST /webhook/alertmanager)',
  },
  {
    flag: 'webhook-token-file',
    kind: 'file',
    help: 'file holding the bearer token Alertmanager must send (a mounted Secret)',
  },
  {
    flag: 'webhook-insecure',
    kind: 'bool',
    default: 'false',
    help: 'accept webhook requests without a token (never in production)',
  },
  {
    flag: 'webhook-max-body',
    kind: 'int',
    default: '1048576',
    help: 'largest webhook body accepted, in bytes',
  },
  {
    flag: 'prometheus-url',
    kind: 'string',
    help: 'Prometheus base URL, for PromQL verification and the alerts poller',
  },
  {
    flag: 'prometheus-alerts-interval',
    kind: 'duration',
    default: '0s',
    help: "poll Prometheus's /api/v1/alerts this often (0s: off; Alertmanager's webhook is the usual source)",
  },
  {
    flag: 'pagerduty-url',
    kind: 'string',
    default: DEFAULT_PAGERDUTY_URL,
    help: 'PagerDuty Events API v2 base URL (events go to <url>/v2/enqueue)',
  },
  {
    flag: 'notification-timeout',
    kind: 'duration',
    default: '10s',
    help: 'time limit of each PagerDuty, Slack or webhook request, connection included',
  },
  {
    flag: 'link-templates',
    kind: 'string',
    help: 'links in pages and messages: Text=URL entries separated by spaces, URLs with {namespace} {kind} {target} {alertname} {incident} {severity}',
  },
  {
    flag: 'egress-allow',
    kind: 'string',
    default: 'hooks.slack.com',
    help: "comma-separated hosts, *.domain wildcards, addresses and CIDRs that URLs tenants set (HTTP checks, webhook and Slack receivers, RabbitMQ) may reach, besides Services of the object's own namespace; it never lifts the classes below",
  },
  {
    flag: 'egress-allow-loopback',
    kind: 'bool',
    default: 'false',
    help: 'let tenant URLs reach loopback addresses (127.0.0.0/8, ::1, and 0.0.0.0/::, which reach the local host): tests and local development only',
  },
  {
    flag: 'egress-allow-link-local',
    kind: 'bool',
    default: 'false',
    help: 'let tenant URLs reach link-local addresses (169.254.0.0/16, fe80::/10), metadata addresses excepted',
  },
  {
    flag: 'egress-allow-metadata',
    kind: 'bool',
    default: 'false',
    help: 'let tenant URLs reach cloud metadata endpoints (169.254.169.254, fd00:ec2::254, 100.100.100.200, metadata.google.internal, ...): never in a shared cluster',
  },
  {
    flag: 'egress-allow-self',
    kind: 'bool',
    default: 'false',
    help: "let tenant URLs reach the operator's own pod address (the POD_IP environment variable)",
  },
  {
    flag: 'unmatched-namespace',
    kind: 'string',
    help: 'where alerts no policy matches become escalation-only incidents (default: only counted)',
  },
  {
    flag: 'status-page-address',
    kind: 'address',
    help: 'host:port of the public status page (/, /api/v2/summary.json, /history.atom, /badge.svg); empty: off',
  },
  {
    flag: 'status-page-title',
    kind: 'string',
    default: 'Service status',
    help: 'the status page heading and feed title',
  },
  {
    flag: 'status-page-url',
    kind: 'string',
    help: "the status page's public URL, for links in the feed and summary.json (default: from the request)",
  },
  {
    flag: 'status-page-namespaces',
    kind: 'string',
    help: 'comma-separated namespaces whose components and incidents the page shows, besides namespaces labelled selfheal.dev/status-page=public (default: none)',
  },
] as const satisfies readonly Setting[];

type Flag = (typeof SETTINGS)[number]['flag'];

export class ConfigError extends Error {}

const MAX_CHECK_TIMEOUT_MS = parseDuration(MAX_CHECK_TIMEOUT);

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

/** A namespace name: an RFC 1123 label. */
export const NAMESPACE_PATTERN = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export const envName = (flag: string) => `SELFHEAL_${flag.toUpperCase().replaceAll('-', '_')}`;

/** The raw value of each setting: flag over environment over default. */
function rawValues(argv: string[], env: NodeJS.ProcessEnv): Map<Flag, { value: string; from: string }> {
  const known = new Map<string, Setting>(SETTINGS.map((s) => [s.flag, s]));
  const values = new Map<Flag, { value: string; from: string }>();
  for (const s of SETTINGS) {
    const fromEnv = env[envName(s.flag)];
    if (fromEnv !== undefined) values.set(s.flag, { value: fromEnv, from: envName(s.flag) });
    else if ('default' in s) values.set(s.flag, { value: s.default, from: `the default of --${s.flag}` });
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!match?.[1])
      throw new ConfigError(`unexpected argument "${arg}": settings are --name=value (see --help)`);
    const setting = known.get(match[1]);
    if (!setting) throw new ConfigError(`unknown flag --${match[1]} (see --help)`);
    let value = match[2];
    if (value === undefined) {
      const next = argv[i + 1];
      value = setting.kind === 'bool' && (next === undefined || next.startsWith('--')) ? 'true' : argv[++i];
    }
    if (value === undefined) throw new ConfigError(`--${setting.flag} needs a value`);
    values.set(setting.flag as Flag, { value, from: `--${setting.flag}` });
  }
  return values;
}

export function parseConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): OperatorConfig {
  const raw = rawValues(argv, env);
  const get = (flag: Flag) => raw.get(flag);
  const fail = (flag: Flag, problem: string): never => {
    const from = get(flag)?.from ?? `--${flag}`;
    throw new ConfigError(
      `invalid ${from === `--${flag}` ? `--${flag}` : `${from} (--${flag})`}: ${problem}`,
    );
  };
  const str = (flag: Flag) => get(flag)?.value;
  const int = (flag: Flag, min: number, max: number) => {
    const text = str(flag) ?? '';
    const n = Number(text);
    if (!/^-?[0-9]+$/.test(text) || n < min || n > max)
      fail(flag, `"${text}" is not a whole number from ${min} to ${max}`);
    return n;
  };
  const duration = (flag: Flag, { positive = false } = {}) => {
    let ms: number;
    try {
      ms = parseDuration(str(flag) ?? '');
    } catch (error) {
      return fail(flag, (error as Error).message);
    }
    return positive && ms <= 0 ? fail(flag, 'must be longer than 0s') : ms;
  };
  const bool = (flag: Flag) => {
    const text = (str(flag) ?? '').toLowerCase();
    if (text === 'true' || text === '1') return true;
    if (text === 'false' || text === '0') return false;
    return fail(flag, `"${text}" is not true or false`);
  };
  const address = (flag: Flag) => {
    const text = str(flag) ?? '';
    const m = /^(.*):([0-9]{1,5})$/.exec(text);
    const port = Number(m?.[2]);
    if (!m || port > 65535) return fail(flag, `"${text}" is not host:port`);
    return { host: m[1] || '0.0.0.0', port };
  };
  const severities = (flag: Flag): Severity[] => {
    const list = (str(flag) ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    for (const s of list)
      if (!(SEVERITIES as readonly string[]).includes(s))
        fail(flag, `"${s}" is not one of ${SEVERITIES.join(', ')}`);
    return list as Severity[];
  };
  const namespaceName = (flag: Flag, name: string): string =>
    NAMESPACE_PATTERN.test(name)
      ? name
      : fail(flag, `"${name}" is not a namespace name (lower-case letters, digits and "-", at most 63)`);
  const namespaces = (flag: Flag): string[] => {
    const list = (str(flag) ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    for (const name of list) namespaceName(flag, name);
    return [...new Set(list)];
  };
  const oneOf = <T extends string>(flag: Flag, allowed: readonly T[]): T => {
    const text = str(flag) ?? '';
    return (allowed as readonly string[]).includes(text)
      ? (text as T)
      : fail(flag, `"${text}" is not one of ${allowed.join(', ')}`);
  };
  const leaseDurationMs = duration('lease-duration', { positive: true });
  const renewDeadlineMs = duration('renew-deadline', { positive: true });
  const retryPeriodMs = duration('retry-period', { positive: true });
  if (renewDeadlineMs >= leaseDurationMs) fail('renew-deadline', 'must be shorter than --lease-duration');
  if (retryPeriodMs >= renewDeadlineMs) fail('retry-period', 'must be shorter than --renew-deadline');
  const marginMs = leaseDurationMs - renewDeadlineMs;
  const requestTimeoutMs = str('request-timeout')
    ? duration('request-timeout', { positive: true })
    : Math.floor(marginMs * 0.8);
  if (requestTimeoutMs >= marginMs)
    fail(
      'request-timeout',
      `must be shorter than --lease-duration minus --renew-deadline (${marginMs} ms), or a deposed leader's request could land after another replica took over`,
    );
  const maxCheckTimeoutMs = duration('max-check-timeout', { positive: true });
  if (maxCheckTimeoutMs > MAX_CHECK_TIMEOUT_MS)
    fail(
      'max-check-timeout',
      `must be at most ${MAX_CHECK_TIMEOUT} (the CRDs' own limit; it may only lower it)`,
    );
  const checkConcurrency = int('check-concurrency', 1, 1024);
  const checkPerNamespace = int('check-concurrency-per-namespace', 1, checkConcurrency);
  const playbookFile = str('playbook-file');
  let playbook = DEFAULT_PLAYBOOK;
  if (playbookFile) {
    try {
      playbook = parsePlaybook(readFileSync(playbookFile, 'utf8'));
    } catch (error) {
      fail('playbook-file', `${playbookFile}: ${(error as Error).message}`);
    }
  }
  const escalationFile = str('escalation-file');
  let escalationDefaults: Partial<Record<Severity, Escalation>> = {};
  if (escalationFile) {
    try {
      escalationDefaults = parseEscalationDefaults(readFileSync(escalationFile, 'utf8'));
    } catch (error) {
      fail('escalation-file', `${escalationFile}: ${(error as Error).message}`);
    }
  }
  const ownNamespace = namespaceName('namespace', str('namespace') ?? 'selfheal-system');
  const kubeconfig = str('kubeconfig');
  const insecure = bool('webhook-insecure');
  const tokenFile = str('webhook-token-file');
  let token: string | undefined;
  if (tokenFile) {
    try {
      token = readFileSync(tokenFile, 'utf8').trim();
    } catch (error) {
      fail('webhook-token-file', `${tokenFile}: ${(error as Error).message}`);
    }
    if (!token) fail('webhook-token-file', `${tokenFile} is empty`);
  } else if (!insecure) {
    fail(
      'webhook-token-file',
      'the alert webhook needs a bearer token: give --webhook-token-file (or, never in production, --webhook-insecure)',
    );
  }
  const prometheusUrl = str('prometheus-url');
  if (prometheusUrl && !/^https?:\/\/[^/]+/.test(prometheusUrl))
    fail('prometheus-url', `"${prometheusUrl}" is not an http(s) URL`);
  const alertsIntervalMs = duration('prometheus-alerts-interval');
  if (alertsIntervalMs > 0 && !prometheusUrl)
    fail('prometheus-alerts-interval', 'polling alerts needs --prometheus-url');
  const unmatchedNamespace = str('unmatched-namespace');
  const statusPageUrl = str('status-page-url');
  if (statusPageUrl && !/^https?:\/\/[^/]+/.test(statusPageUrl))
    fail('status-page-url', `"${statusPageUrl}" is not an http(s) URL`);
  const statusPageTitle = str('status-page-title') ?? '';
  if (!statusPageTitle.trim() || statusPageTitle.length > 100)
    fail('status-page-title', 'must be 1 to 100 characters, not only spaces');
  const statusPageNamespaces = namespaces('status-page-namespaces');
  const statusPage: StatusPageConfig | undefined = str('status-page-address')
    ? {
        address: address('status-page-address'),
        title: statusPageTitle,
        ...(statusPageUrl ? { url: statusPageUrl.replace(/\/*$/, '/') } : {}),
        namespaces: statusPageNamespaces,
      }
    : undefined;
  const pagerDutyUrl = str('pagerduty-url') ?? DEFAULT_PAGERDUTY_URL;
  if (!/^https?:\/\/[^/]+/.test(pagerDutyUrl))
    fail('pagerduty-url', `"${pagerDutyUrl}" is not an http(s) URL`);
  let linkTemplates: LinkTemplate[] = [];
  try {
    linkTemplates = parseLinkTemplates(str('link-templates') ?? '');
  } catch (error) {
    fail('link-templates', (error as Error).message);
  }
  const egressAllow = (str('egress-allow') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  try {
    parseAllowList(egressAllow);
  } catch (error) {
    fail('egress-allow', (error as Error).message);
  }
  const egress: EgressSettings = {
    allow: egressAllow,
    lifted: (Object.entries(EGRESS_FLAGS) as [GuardedClass, Flag][]).flatMap(([cls, flag]) =>
      bool(flag) ? [cls] : [],
    ),
    selfAddresses: (env.POD_IP ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  };
  const watchNamespaces = namespaces('watch-namespaces');
  if (unmatchedNamespace && watchNamespaces.length > 0 && !watchNamespaces.includes(unmatchedNamespace))
    fail(
      'unmatched-namespace',
      `"${unmatchedNamespace}" is not one of --watch-namespaces (${watchNamespaces.join(', ')}): the operator would not see the incidents it creates there`,
    );
  return {
    webhook: {
      address: address('webhook-address'),
      token,
      maxBodyBytes: int('webhook-max-body', 1024, 64 * 1024 * 1024),
    },
    ...(statusPage ? { statusPage } : {}),
    egress,
    escalation: {
      pagerDutyUrl: pagerDutyUrl.replace(/\/+$/, ''),
      notificationTimeoutMs: duration('notification-timeout', { positive: true }),
      linkTemplates,
    },
    prometheus: { ...(prometheusUrl ? { url: prometheusUrl.replace(/\/+$/, '') } : {}), alertsIntervalMs },
    ...(unmatchedNamespace ? { unmatchedNamespace } : {}),
    ...(kubeconfig ? { kubeconfig } : {}),
    namespace: ownNamespace,
    watchNamespaces,
    identity: str('identity') ?? env.POD_NAME ?? `${hostname()}-${process.pid}`,
    healthAddress: address('health-address'),
    workers: int('workers', 1, 64),
    retryLimit: { qps: int('retry-qps', 1, 10_000), burst: int('retry-burst', 1, 100_000) },
    requestTimeoutMs,
    checks: {
      maxTimeoutMs: maxCheckTimeoutMs,
      concurrency: checkConcurrency,
      perNamespace: checkPerNamespace,
    },
    intakeConcurrency: int('intake-concurrency', 1, 256),
    events: { qps: int('event-qps', 1, 10_000), burst: int('event-burst', 1, 100_000) },
    leaderElection: { enabled: bool('leader-elect'), leaseDurationMs, renewDeadlineMs, retryPeriodMs },
    logLevel: oneOf('log-level', LOG_LEVELS),
    incidents: {
      playbook,
      defaultGuards: {
        maxAttempts: int('default-max-attempts', 1, 10),
        cooldownMs: duration('default-cooldown'),
        maxPerHour: int('default-max-per-hour', 1, 100),
      },
      storm: { maxIncidents: int('storm-max-incidents', 1, 100_000), windowMs: duration('storm-window') },
      paused: bool('paused'),
      recurrenceWindowMs: duration('recurrence-window'),
      postMortemSeverities: severities('post-mortem-severities'),
      escalationDefaults,
      headsUpSeverities: severities('heads-up-severities'),
      statusPageUpdate: {
        severities: severities('status-page-update-severities'),
        withinMs: duration('status-page-update-within', { positive: true }),
      },
      pollIntervalMs: duration('poll-interval', { positive: true }),
    },
  };
}

const PLAYBOOK_FIELDS = {
  response: 'responseMs',
  resolution: 'resolutionMs',
  updateEvery: 'updateEveryMs',
  postMortemDue: 'postMortemDueMs',
} as const;

/** Default escalation levels per severity in YAML, each checked against the CRDs' own schema. */
export function parseEscalationDefaults(text: string): Partial<Record<Severity, Escalation>> {
  const doc: unknown = parseYaml(text);
  if (typeof doc !== 'object' || doc === null) throw new Error('must be a map of severities (P1..P4)');
  const defaults: Partial<Record<Severity, Escalation>> = {};
  for (const [severity, value] of Object.entries(doc as Record<string, unknown>)) {
    if (!(SEVERITIES as readonly string[]).includes(severity))
      throw new Error(`"${severity}" is not one of ${SEVERITIES.join(', ')}`);
    const problem = Value.Errors(EscalationSchema, value)[0];
    if (problem)
      throw new Error(`${severity}${problem.instancePath.replaceAll('/', '.')}: ${problem.message}`);
    const escalation = value as Escalation;
    for (const [levelIndex, level] of escalation.levels.entries())
      for (const [receiverIndex, receiver] of level.receivers.entries())
        for (const { field, message } of receiverRuleProblems(receiver))
          throw new Error(`${severity}.levels.${levelIndex}.receivers.${receiverIndex}.${field}: ${message}`);
    defaults[severity as Severity] = escalation;
  }
  return defaults;
}

/** A severity table in YAML; what it leaves out keeps the playbook's defaults. */
export function parsePlaybook(text: string): Playbook {
  const doc: unknown = parseYaml(text);
  if (typeof doc !== 'object' || doc === null) throw new Error('must be a map of severities (P1..P4)');
  const playbook = structuredClone(DEFAULT_PLAYBOOK);
  for (const [severity, targets] of Object.entries(doc as Record<string, unknown>)) {
    if (!(SEVERITIES as readonly string[]).includes(severity))
      throw new Error(`"${severity}" is not one of ${SEVERITIES.join(', ')}`);
    if (typeof targets !== 'object' || targets === null)
      throw new Error(`${severity}: must be a map of ${Object.keys(PLAYBOOK_FIELDS).join(', ')}`);
    for (const [field, value] of Object.entries(targets as Record<string, unknown>)) {
      if (!Object.hasOwn(PLAYBOOK_FIELDS, field))
        throw new Error(`${severity}.${field}: unknown; use ${Object.keys(PLAYBOOK_FIELDS).join(', ')}`);
      try {
        playbook[severity as Severity][PLAYBOOK_FIELDS[field as keyof typeof PLAYBOOK_FIELDS]] =
          parseDuration(String(value));
      } catch (error) {
        throw new Error(`${severity}.${field}: ${(error as Error).message}`, { cause: error });
      }
    }
  }
  return playbook;
}

export function helpText(): string {
  return [
    'selfheal: a self-healing Kubernetes operator',
    '',
    'Settings (flag, environment variable, default):',
    ...SETTINGS.map(
      (s) =>
        `  --${s.flag.padEnd(24)} ${envName(s.flag).padEnd(34)} ${'default' in s ? s.default : '-'}\n      ${s.help}`,
    ),
  ].join('\n');
}
