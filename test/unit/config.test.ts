import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import {
  ConfigError,
  envName,
  helpText,
  parseConfig,
  parsePlaybook,
  SETTINGS,
  type OperatorConfig,
} from '../../src/config.ts';
import { DEFAULT_PLAYBOOK } from '../../src/incidents/playbook.ts';
import { HOUR, MINUTE, SECOND, settings } from './fixtures.ts';

/** parseConfig with the webhook's token requirement waived, which most tests are not about. */
const INSECURE = { SELFHEAL_WEBHOOK_INSECURE: 'true' };
const parse = (argv: string[], env: NodeJS.ProcessEnv = {}) => parseConfig(argv, { ...INSECURE, ...env });

/** parseConfig's error for these inputs, or a failure when it accepts them. */
function configError(
  argv: string[],
  env: NodeJS.ProcessEnv = {},
  { requireToken = false } = {},
): ConfigError {
  try {
    parseConfig(argv, requireToken ? env : { ...INSECURE, ...env });
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw new Error(`expected a ConfigError, got ${String(error)}`, { cause: error });
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify({ argv, env })}, but it was accepted`);
}

const dir = mkdtempSync(join(tmpdir(), 'selfheal-config-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

let files = 0;
function playbookFile(yaml: string): string {
  const file = join(dir, `playbook-${++files}.yaml`);
  writeFileSync(file, yaml);
  return file;
}

describe('parseConfig: defaults', () => {
  it('gives every default with no flags and no environment', () => {
    const config = parse([], { POD_NAME: 'selfheal-7c9d-x2' });
    const expected: OperatorConfig = {
      webhook: { address: { host: '0.0.0.0', port: 8080 }, token: undefined, maxBodyBytes: 1024 * 1024 },
      egress: { allow: ['hooks.slack.com'], lifted: [], selfAddresses: [] },
      escalation: {
        pagerDutyUrl: 'https://events.pagerduty.com',
        notificationTimeoutMs: 10 * SECOND,
        linkTemplates: [],
      },
      prometheus: { alertsIntervalMs: 0 },
      namespace: 'selfheal-system',
      watchNamespaces: [],
      identity: 'selfheal-7c9d-x2',
      healthAddress: { host: '0.0.0.0', port: 8081 },
      workers: 16,
      retryLimit: { qps: 10, burst: 100 },
      // 80% of lease-duration (15s) minus renew-deadline (10s).
      requestTimeoutMs: 4 * SECOND,
      checks: { maxTimeoutMs: 30 * SECOND, concurrency: 32, perNamespace: 8 },
      intakeConcurrency: 8,
      events: { qps: 25, burst: 100 },
      leaderElection: {
        enabled: true,
        leaseDurationMs: 15 * SECOND,
        renewDeadlineMs: 10 * SECOND,
        retryPeriodMs: 2 * SECOND,
      },
      logLevel: 'info',
      incidents: {
        playbook: DEFAULT_PLAYBOOK,
        defaultGuards: { maxAttempts: 3, cooldownMs: 30 * MINUTE, maxPerHour: 3 },
        storm: { maxIncidents: 10, windowMs: 5 * MINUTE },
        paused: false,
        escalationDefaults: {},
        headsUpSeverities: ['P1', 'P2'],
        statusPageUpdate: { severities: ['P1', 'P2'], withinMs: 15 * MINUTE },
        recurrenceWindowMs: HOUR,
        postMortemSeverities: ['P1'],
        pollIntervalMs: 2 * SECOND,
      },
    };
    expect(config).toEqual(expected);
    expect(config).not.toHaveProperty('kubeconfig');
  });

  it('matches the settings the decision tests use', () => {
    expect(parse([], {}).incidents).toEqual(settings());
  });

  it('falls back to hostname-pid for the identity without POD_NAME', () => {
    expect(parse([], {}).identity).toMatch(new RegExp(`^.+-${process.pid}$`));
  });

  it('reads nothing from process.env when an environment is given', () => {
    const saved = process.env.SELFHEAL_WORKERS;
    process.env.SELFHEAL_WORKERS = '9';
    try {
      expect(parse([], {}).workers).toBe(16);
    } finally {
      if (saved === undefined) delete process.env.SELFHEAL_WORKERS;
      else process.env.SELFHEAL_WORKERS = saved;
    }
  });
});

describe('parseConfig: flags over environment over defaults', () => {
  it.each<{
    name: string;
    argv: string[];
    env?: NodeJS.ProcessEnv;
    pick: (c: OperatorConfig) => unknown;
    expected: unknown;
  }>([
    {
      name: 'SELFHEAL_WORKERS',
      argv: [],
      env: { SELFHEAL_WORKERS: '4' },
      pick: (c) => c.workers,
      expected: 4,
    },
    {
      name: '--max-check-timeout lowers the check ceiling',
      argv: ['--max-check-timeout=2s', '--check-concurrency=4', '--check-concurrency-per-namespace=2'],
      pick: (c) => c.checks,
      expected: { maxTimeoutMs: 2_000, concurrency: 4, perNamespace: 2 },
    },
    {
      name: '--workers=8 over SELFHEAL_WORKERS',
      argv: ['--workers=8'],
      env: { SELFHEAL_WORKERS: '4' },
      pick: (c) => c.workers,
      expected: 8,
    },
    {
      name: '--workers 8 over SELFHEAL_WORKERS',
      argv: ['--workers', '8'],
      env: { SELFHEAL_WORKERS: '4' },
      pick: (c) => c.workers,
      expected: 8,
    },
    {
      name: 'the last of a repeated flag',
      argv: ['--workers=3', '--workers', '5'],
      pick: (c) => c.workers,
      expected: 5,
    },
    { name: '--paused without a value', argv: ['--paused'], pick: (c) => c.incidents.paused, expected: true },
    {
      name: '--paused followed by another flag',
      argv: ['--paused', '--workers', '3'],
      pick: (c) => [c.incidents.paused, c.workers],
      expected: [true, 3],
    },
    { name: '--paused false', argv: ['--paused', 'false'], pick: (c) => c.incidents.paused, expected: false },
    { name: '--paused=0', argv: ['--paused=0'], pick: (c) => c.incidents.paused, expected: false },
    {
      name: '--paused=false over SELFHEAL_PAUSED=true',
      argv: ['--paused=false'],
      env: { SELFHEAL_PAUSED: 'true' },
      pick: (c) => c.incidents.paused,
      expected: false,
    },
    {
      name: 'SELFHEAL_PAUSED=TRUE (any case)',
      argv: [],
      env: { SELFHEAL_PAUSED: 'TRUE' },
      pick: (c) => c.incidents.paused,
      expected: true,
    },
    {
      name: '--leader-elect=false',
      argv: ['--leader-elect=false'],
      pick: (c) => c.leaderElection.enabled,
      expected: false,
    },
    {
      name: 'SELFHEAL_LEADER_ELECT=1',
      argv: [],
      env: { SELFHEAL_LEADER_ELECT: '1' },
      pick: (c) => c.leaderElection.enabled,
      expected: true,
    },
    {
      name: '--health-address 127.0.0.1:9090',
      argv: ['--health-address', '127.0.0.1:9090'],
      pick: (c) => c.healthAddress,
      expected: { host: '127.0.0.1', port: 9090 },
    },
    {
      name: '--health-address=:9090 (all interfaces)',
      argv: ['--health-address=:9090'],
      pick: (c) => c.healthAddress,
      expected: { host: '0.0.0.0', port: 9090 },
    },
    {
      name: 'durations: --lease-duration=1m --renew-deadline=45s --retry-period=5s',
      argv: ['--lease-duration=1m', '--renew-deadline=45s', '--retry-period=5s'],
      pick: (c) => c.leaderElection,
      expected: {
        enabled: true,
        leaseDurationMs: MINUTE,
        renewDeadlineMs: 45 * SECOND,
        retryPeriodMs: 5 * SECOND,
      },
    },
    {
      name: '--default-cooldown=1h30m',
      argv: ['--default-cooldown=1h30m'],
      pick: (c) => c.incidents.defaultGuards.cooldownMs,
      expected: 90 * MINUTE,
    },
    {
      name: 'SELFHEAL_STORM_WINDOW=10m and --storm-max-incidents 20',
      argv: ['--storm-max-incidents', '20'],
      env: { SELFHEAL_STORM_WINDOW: '10m' },
      pick: (c) => c.incidents.storm,
      expected: { maxIncidents: 20, windowMs: 10 * MINUTE },
    },
    {
      name: 'guards --default-max-attempts=5 --default-max-per-hour=10',
      argv: ['--default-max-attempts=5', '--default-max-per-hour=10'],
      pick: (c) => c.incidents.defaultGuards,
      expected: { maxAttempts: 5, cooldownMs: 30 * MINUTE, maxPerHour: 10 },
    },
    {
      name: '--recurrence-window=2h --poll-interval=500ms',
      argv: ['--recurrence-window=2h', '--poll-interval=500ms'],
      pick: (c) => [c.incidents.recurrenceWindowMs, c.incidents.pollIntervalMs],
      expected: [2 * HOUR, 500],
    },
    {
      name: '--post-mortem-severities="P1, P2"',
      argv: ['--post-mortem-severities=P1, P2'],
      pick: (c) => c.incidents.postMortemSeverities,
      expected: ['P1', 'P2'],
    },
    {
      name: 'an empty --post-mortem-severities',
      argv: ['--post-mortem-severities='],
      pick: (c) => c.incidents.postMortemSeverities,
      expected: [],
    },
    {
      name: '--kubeconfig /etc/kube/config',
      argv: ['--kubeconfig', '/etc/kube/config'],
      pick: (c) => c.kubeconfig,
      expected: '/etc/kube/config',
    },
    {
      name: 'SELFHEAL_NAMESPACE and SELFHEAL_LOG_LEVEL',
      argv: [],
      env: { SELFHEAL_NAMESPACE: 'ops', SELFHEAL_LOG_LEVEL: 'debug' },
      pick: (c) => [c.namespace, c.logLevel],
      expected: ['ops', 'debug'],
    },
    {
      name: '--identity over POD_NAME',
      argv: ['--identity=replica-a'],
      env: { POD_NAME: 'selfheal-0' },
      pick: (c) => c.identity,
      expected: 'replica-a',
    },
    {
      name: '--retry-qps=50 --retry-burst=500',
      argv: ['--retry-qps=50', '--retry-burst=500'],
      pick: (c) => c.retryLimit,
      expected: { qps: 50, burst: 500 },
    },
    {
      name: 'SELFHEAL_RETRY_QPS and SELFHEAL_RETRY_BURST',
      argv: [],
      env: { SELFHEAL_RETRY_QPS: '1', SELFHEAL_RETRY_BURST: '1' },
      pick: (c) => c.retryLimit,
      expected: { qps: 1, burst: 1 },
    },
    {
      name: '--intake-concurrency=32',
      argv: ['--intake-concurrency=32'],
      pick: (c) => c.intakeConcurrency,
      expected: 32,
    },
    {
      name: 'SELFHEAL_INTAKE_CONCURRENCY=1',
      argv: [],
      env: { SELFHEAL_INTAKE_CONCURRENCY: '1' },
      pick: (c) => c.intakeConcurrency,
      expected: 1,
    },
    {
      name: '--request-timeout=3s, below the 5s margin',
      argv: ['--request-timeout=3s'],
      pick: (c) => c.requestTimeoutMs,
      expected: 3 * SECOND,
    },
    {
      name: '--request-timeout=4999ms, just below the margin',
      argv: ['--request-timeout=4999ms'],
      pick: (c) => c.requestTimeoutMs,
      expected: 4999,
    },
    {
      name: 'the default request timeout follows the lease: 80% of 1m - 45s',
      argv: ['--lease-duration=1m', '--renew-deadline=45s', '--retry-period=5s'],
      pick: (c) => c.requestTimeoutMs,
      expected: 12 * SECOND,
    },
    {
      name: 'SELFHEAL_REQUEST_TIMEOUT=10s with a 30s lease and a 15s renew deadline',
      argv: ['--lease-duration=30s', '--renew-deadline=15s'],
      env: { SELFHEAL_REQUEST_TIMEOUT: '10s' },
      pick: (c) => c.requestTimeoutMs,
      expected: 10 * SECOND,
    },
    {
      name: '--pagerduty-url pointed at a local stand-in, trailing / removed',
      argv: ['--pagerduty-url=http://127.0.0.1:9999/'],
      pick: (c) => c.escalation.pagerDutyUrl,
      expected: 'http://127.0.0.1:9999',
    },
    {
      name: 'SELFHEAL_NOTIFICATION_TIMEOUT=3s',
      argv: [],
      env: { SELFHEAL_NOTIFICATION_TIMEOUT: '3s' },
      pick: (c) => c.escalation.notificationTimeoutMs,
      expected: 3 * SECOND,
    },
    {
      name: '--link-templates with Grafana and Kibana (commas and quotes in the URL)',
      argv: [
        "--link-templates=Grafana=https://grafana.example.com/d/k8s?var-namespace={namespace}&var-workload={target}  Kibana=https://kibana.example.com/app/discover#/?_a=(query:(query:'kubernetes.namespace:{namespace}'),columns:!(message,level))",
      ],
      pick: (c) => c.escalation.linkTemplates,
      expected: [
        {
          text: 'Grafana',
          url: 'https://grafana.example.com/d/k8s?var-namespace={namespace}&var-workload={target}',
        },
        {
          text: 'Kibana',
          url: "https://kibana.example.com/app/discover#/?_a=(query:(query:'kubernetes.namespace:{namespace}'),columns:!(message,level))",
        },
      ],
    },
    {
      name: 'an empty SELFHEAL_LINK_TEMPLATES means none',
      argv: [],
      env: { SELFHEAL_LINK_TEMPLATES: '' },
      pick: (c) => c.escalation.linkTemplates,
      expected: [],
    },
    {
      name: 'SELFHEAL_IDENTITY over POD_NAME',
      argv: [],
      env: { SELFHEAL_IDENTITY: 'replica-b', POD_NAME: 'selfheal-0' },
      pick: (c) => c.identity,
      expected: 'replica-b',
    },
  ])('$name', ({ argv, env, pick, expected }) => {
    expect(pick(parse(argv, env ?? {}))).toEqual(expected);
  });
});

describe('parseConfig: invalid values stop the start with a ConfigError naming the flag', () => {
  it.each<{ name: string; argv: string[]; env?: NodeJS.ProcessEnv; message: RegExp }>([
    {
      name: 'a duration without a unit (flag)',
      argv: ['--lease-duration=15'],
      message: /^invalid --lease-duration: "15" is not a duration/,
    },
    {
      name: 'a duration without a unit (environment)',
      argv: [],
      env: { SELFHEAL_POLL_INTERVAL: 'often' },
      message: /^invalid SELFHEAL_POLL_INTERVAL \(--poll-interval\): "often" is not a duration/,
    },
    {
      name: 'a bad --storm-window',
      argv: ['--storm-window', '5 minutes'],
      message: /^invalid --storm-window: "5 minutes" is not a duration/,
    },
    {
      name: 'workers 0',
      argv: ['--workers=0'],
      message: /^invalid --workers: "0" is not a whole number from 1 to 64$/,
    },
    {
      name: 'workers 0 from the environment',
      argv: [],
      env: { SELFHEAL_WORKERS: '0' },
      message: /^invalid SELFHEAL_WORKERS \(--workers\): "0" is not a whole number from 1 to 64$/,
    },
    { name: 'workers 65', argv: ['--workers=65'], message: /^invalid --workers: "65"/ },
    { name: 'workers 1.5', argv: ['--workers=1.5'], message: /^invalid --workers: "1.5"/ },
    { name: 'workers two', argv: ['--workers', 'two'], message: /^invalid --workers: "two"/ },
    { name: 'an empty --workers=', argv: ['--workers='], message: /^invalid --workers: ""/ },
    {
      name: 'default-max-attempts 11',
      argv: ['--default-max-attempts=11'],
      message: /^invalid --default-max-attempts: "11" is not a whole number from 1 to 10$/,
    },
    {
      name: 'default-max-per-hour 0',
      argv: ['--default-max-per-hour=0'],
      message: /^invalid --default-max-per-hour: "0" is not a whole number from 1 to 100$/,
    },
    {
      name: 'storm-max-incidents 0',
      argv: ['--storm-max-incidents=0'],
      message: /^invalid --storm-max-incidents: "0"/,
    },
    {
      name: 'renew-deadline equal to lease-duration',
      argv: ['--renew-deadline=15s'],
      message: /^invalid --renew-deadline: must be shorter than --lease-duration$/,
    },
    {
      name: 'renew-deadline longer than lease-duration, from the environment',
      argv: [],
      env: { SELFHEAL_RENEW_DEADLINE: '20s' },
      message:
        /^invalid SELFHEAL_RENEW_DEADLINE \(--renew-deadline\): must be shorter than --lease-duration$/,
    },
    {
      name: 'a lease-duration shorter than the default renew-deadline',
      argv: ['--lease-duration=5s'],
      message: /--renew-deadline.*must be shorter than --lease-duration/,
    },
    {
      name: 'retry-period equal to renew-deadline',
      argv: ['--retry-period=10s'],
      message: /^invalid --retry-period: must be shorter than --renew-deadline$/,
    },
    {
      name: 'an unknown flag',
      argv: ['--frobnicate=1'],
      message: /^unknown flag --frobnicate \(see --help\)$/,
    },
    { name: 'an unknown bool-looking flag', argv: ['--dry-run'], message: /^unknown flag --dry-run/ },
    { name: 'a positional argument', argv: ['run'], message: /^unexpected argument "run"/ },
    { name: 'a single-dash flag', argv: ['-w', '3'], message: /^unexpected argument "-w"/ },
    { name: 'a flag in capitals', argv: ['--Workers=3'], message: /^unexpected argument "--Workers=3"/ },
    { name: 'a value-less flag at the end', argv: ['--workers'], message: /^--workers needs a value$/ },
    {
      name: 'a bool that is neither',
      argv: ['--paused=maybe'],
      message: /^invalid --paused: "maybe" is not true or false$/,
    },
    {
      name: 'a bool from the environment that is neither',
      argv: [],
      env: { SELFHEAL_LEADER_ELECT: 'yes' },
      message: /^invalid SELFHEAL_LEADER_ELECT \(--leader-elect\): "yes" is not true or false$/,
    },
    {
      name: 'an address without a port',
      argv: ['--health-address=localhost'],
      message: /^invalid --health-address: "localhost" is not host:port$/,
    },
    {
      name: 'an address with port 70000',
      argv: ['--health-address=:70000'],
      message: /^invalid --health-address: ":70000" is not host:port$/,
    },
    {
      name: 'a severity list with P5',
      argv: ['--post-mortem-severities=P1,P5'],
      message: /^invalid --post-mortem-severities: "P5" is not one of P1, P2, P3, P4$/,
    },
    {
      name: 'a severity list with alert severities, from the environment',
      argv: [],
      env: { SELFHEAL_POST_MORTEM_SEVERITIES: 'critical' },
      message:
        /^invalid SELFHEAL_POST_MORTEM_SEVERITIES \(--post-mortem-severities\): "critical" is not one of P1, P2, P3, P4$/,
    },
    {
      name: 'a lower-case severity',
      argv: ['--post-mortem-severities=p1'],
      message: /--post-mortem-severities: "p1"/,
    },
    { name: 'a log level that does not exist', argv: ['--log-level=loud'], message: /--log-level/ },
    {
      name: 'a PagerDuty URL without a scheme',
      argv: ['--pagerduty-url=events.pagerduty.com'],
      message: /^invalid --pagerduty-url: "events.pagerduty.com" is not an http\(s\) URL$/,
    },
    {
      name: 'a zero notification timeout',
      argv: ['--notification-timeout=0s'],
      message: /^invalid --notification-timeout: must be longer than 0s$/,
    },
    {
      name: 'a link template with an unknown placeholder',
      argv: ['--link-templates=Jaeger=https://jaeger.example.com/search?service={service}'],
      message: /^invalid --link-templates: Jaeger: unknown placeholder \{service\}; use \{namespace\}, /,
    },
    {
      name: 'a link template without a text, from the environment',
      argv: [],
      env: { SELFHEAL_LINK_TEMPLATES: 'https://grafana.example.com/d/x' },
      message:
        /^invalid SELFHEAL_LINK_TEMPLATES \(--link-templates\): "https:\/\/grafana.example.com\/d\/x" is not Text=URL/,
    },
    {
      name: 'a link template that is not http(s)',
      argv: ['--link-templates=Logs=file:///var/log'],
      message: /^invalid --link-templates: Logs: "file:\/\/\/var\/log" is not an http\(s\) URL with a host$/,
    },
    {
      name: 'retry-qps 0',
      argv: ['--retry-qps=0'],
      message: /^invalid --retry-qps: "0" is not a whole number from 1 to 10000$/,
    },
    {
      name: 'a fractional retry-qps',
      argv: ['--retry-qps=2.5'],
      message: /^invalid --retry-qps: "2.5" is not a whole number/,
    },
    {
      name: 'retry-burst 0 from the environment',
      argv: [],
      env: { SELFHEAL_RETRY_BURST: '0' },
      message: /^invalid SELFHEAL_RETRY_BURST \(--retry-burst\): "0" is not a whole number from 1 to 100000$/,
    },
    {
      name: 'intake-concurrency 0',
      argv: ['--intake-concurrency=0'],
      message: /^invalid --intake-concurrency: "0" is not a whole number from 1 to 256$/,
    },
    {
      name: 'intake-concurrency 257',
      argv: ['--intake-concurrency=257'],
      message: /^invalid --intake-concurrency: "257"/,
    },
    {
      name: 'a request timeout equal to lease-duration minus renew-deadline',
      argv: ['--request-timeout=5s'],
      message:
        /^invalid --request-timeout: must be shorter than --lease-duration minus --renew-deadline \(5000 ms\), or a deposed leader's request could land after another replica took over$/,
    },
    {
      name: 'a request timeout longer than the margin, from the environment',
      argv: [],
      env: { SELFHEAL_REQUEST_TIMEOUT: '30s' },
      message:
        /^invalid SELFHEAL_REQUEST_TIMEOUT \(--request-timeout\): must be shorter than --lease-duration minus --renew-deadline \(5000 ms\)/,
    },
    {
      name: 'a request timeout that no longer fits a shorter lease',
      argv: ['--request-timeout=4s', '--lease-duration=12s'],
      message: /^invalid --request-timeout: must be shorter than .* \(2000 ms\)/,
    },
    {
      name: 'a request timeout of 0s',
      argv: ['--request-timeout=0s'],
      message: /^invalid --request-timeout: must be longer than 0s$/,
    },
    {
      name: 'a request timeout without a unit',
      argv: ['--request-timeout=4'],
      message: /^invalid --request-timeout: "4" is not a duration/,
    },
    {
      name: "a check timeout ceiling above the CRDs' 30s (it may only lower it)",
      argv: ['--max-check-timeout=31s'],
      message: /^invalid --max-check-timeout: must be at most 30s/,
    },
    {
      name: 'a check timeout ceiling of 0s',
      argv: ['--max-check-timeout=0s'],
      message: /^invalid --max-check-timeout: must be longer than 0s$/,
    },
    {
      name: 'more checks per namespace than overall',
      argv: ['--check-concurrency=4', '--check-concurrency-per-namespace=5'],
      message: /^invalid --check-concurrency-per-namespace: "5" is not a whole number from 1 to 4$/,
    },
  ])('$name', ({ argv, env, message }) => {
    expect(configError(argv, env).message).toMatch(message);
  });
});

describe('parseConfig: --watch-namespaces', () => {
  it('watches every namespace by default and the listed ones, trimmed and once each, when given', () => {
    expect(parse([]).watchNamespaces).toEqual([]);
    expect(parse(['--watch-namespaces=shop, payments,shop']).watchNamespaces).toEqual(['shop', 'payments']);
    expect(parse([], { SELFHEAL_WATCH_NAMESPACES: 'shop' }).watchNamespaces).toEqual(['shop']);
  });

  it.each<{ name: string; argv: string[]; message: string }>([
    {
      name: 'a name that is no namespace',
      argv: ['--watch-namespaces=shop,Payments'],
      message:
        'invalid --watch-namespaces: "Payments" is not a namespace name (lower-case letters, digits and "-", at most 63)',
    },
    {
      name: 'an empty own namespace',
      argv: ['--namespace='],
      message:
        'invalid --namespace: "" is not a namespace name (lower-case letters, digits and "-", at most 63)',
    },
    {
      name: 'an unmatched-namespace the operator would not watch',
      argv: ['--watch-namespaces=shop,payments', '--unmatched-namespace=ops'],
      message:
        'invalid --unmatched-namespace: "ops" is not one of --watch-namespaces (shop, payments): the operator would not see the incidents it creates there',
    },
  ])('refuses $name', ({ argv, message }) => {
    expect(configError(argv).message).toBe(message);
  });

  it('accepts an unmatched-namespace among the watched ones', () => {
    expect(parse(['--watch-namespaces=shop,ops', '--unmatched-namespace=ops']).unmatchedNamespace).toBe(
      'ops',
    );
  });
});

describe('parseConfig: --escalation-file', () => {
  const pager = '{ name: oncall, type: pagerduty, secretRef: { name: pd, key: routing-key } }';

  it('gives default levels per severity', () => {
    const file = playbookFile(`P1:\n  levels:\n    - after: 0s\n      receivers: [${pager}]\n`);
    expect(parse([`--escalation-file=${file}`]).incidents.escalationDefaults).toEqual({
      P1: {
        levels: [
          {
            after: '0s',
            receivers: [{ name: 'oncall', type: 'pagerduty', secretRef: { name: 'pd', key: 'routing-key' } }],
          },
        ],
      },
    });
  });

  it.each([
    ['a severity that is none', `P5:\n  levels: []\n`, /: "P5" is not one of P1, P2, P3, P4$/],
    ['no levels', `P2:\n  levels: []\n`, /: P2\.levels: /],
    [
      'a status channel that is a pager',
      `P1:\n  levels:\n    - after: 0s\n      receivers:\n        - { name: s, type: pagerduty, purpose: status, secretRef: { name: pd, key: k } }\n`,
      /: P1\.levels\.0\.receivers\.0\.purpose: a status receiver gets public updates in a Slack channel: purpose status needs type slack$/,
    ],
    [
      'a signing secret on a Slack receiver',
      `P3:\n  levels:\n    - after: 0s\n      receivers: [${pager}]\n    - after: 1h\n      receivers:\n        - { name: c, type: slack, signingSecretKey: hmac, secretRef: { name: s, key: url } }\n`,
      /: P3\.levels\.1\.receivers\.0\.signingSecretKey: signingSecretKey is only for receivers of type webhook$/,
    ],
  ])('refuses %s, naming the file and the place', (_name, yaml, message) => {
    const file = playbookFile(yaml);
    const error = configError([`--escalation-file=${file}`]);
    expect(error.message.startsWith(`invalid --escalation-file: ${file}: `)).toBe(true);
    expect(error.message).toMatch(message);
  });
});

describe('parseConfig: --playbook-file', () => {
  it('overrides only what the file gives (P1 response)', () => {
    const file = playbookFile('P1:\n  response: 5m\n');
    const config = parse([`--playbook-file=${file}`], {});
    expect(config.incidents.playbook).toEqual({
      ...DEFAULT_PLAYBOOK,
      P1: { ...DEFAULT_PLAYBOOK.P1, responseMs: 5 * MINUTE },
    });
    expect(DEFAULT_PLAYBOOK.P1.responseMs).toBe(15 * MINUTE);
  });

  it('takes every field of several severities, from the environment too', () => {
    const file = playbookFile(
      [
        'P2:',
        '  response: 20m',
        '  resolution: 6h',
        '  updateEvery: 45m',
        '  postMortemDue: 72h',
        'P4:',
        '  updateEvery: 12h',
      ].join('\n'),
    );
    const { playbook } = parse([], { SELFHEAL_PLAYBOOK_FILE: file }).incidents;
    expect(playbook).toEqual({
      ...DEFAULT_PLAYBOOK,
      P2: {
        responseMs: 20 * MINUTE,
        resolutionMs: 6 * HOUR,
        updateEveryMs: 45 * MINUTE,
        postMortemDueMs: 72 * HOUR,
      },
      P4: { ...DEFAULT_PLAYBOOK.P4, updateEveryMs: 12 * HOUR },
    });
  });

  it.each<{ name: string; yaml: string; problem: RegExp }>([
    {
      name: 'an unknown severity',
      yaml: 'P5:\n  response: 5m\n',
      problem: /"P5" is not one of P1, P2, P3, P4$/,
    },
    {
      name: 'an unknown field',
      yaml: 'P1:\n  respond: 5m\n',
      problem: /P1\.respond: unknown; use response, resolution, updateEvery, postMortemDue$/,
    },
    {
      name: 'a bad duration',
      yaml: 'P1:\n  response: soon\n',
      problem: /P1\.response: "soon" is not a duration/,
    },
    {
      name: 'a bare number',
      yaml: 'P3:\n  resolution: 90\n',
      problem: /P3\.resolution: "90" is not a duration/,
    },
    { name: 'a severity that is not a map', yaml: 'P2: 15m\n', problem: /P2: must be a map of response/ },
    { name: 'an empty file', yaml: '', problem: /must be a map of severities/ },
    { name: 'a list', yaml: '- P1\n', problem: /"0" is not one of P1, P2, P3, P4/ },
  ])('rejects $name, naming the flag, the file and the place', ({ yaml, problem }) => {
    const file = playbookFile(yaml);
    const error = configError(['--playbook-file', file]);
    expect(error.message.startsWith(`invalid --playbook-file: ${file}: `)).toBe(true);
    expect(error.message).toMatch(problem);
  });

  it('names the environment variable when the file came from it', () => {
    const file = playbookFile('P1:\n  response: soon\n');
    expect(configError([], { SELFHEAL_PLAYBOOK_FILE: file }).message).toMatch(
      /^invalid SELFHEAL_PLAYBOOK_FILE \(--playbook-file\): .*P1\.response: "soon" is not a duration/,
    );
  });

  it('rejects a file that does not exist', () => {
    const missing = join(dir, 'missing.yaml');
    expect(configError([`--playbook-file=${missing}`]).message).toMatch(
      new RegExp(`^invalid --playbook-file: ${missing}: .*ENOENT`),
    );
  });
});

describe('parsePlaybook', () => {
  it('returns a copy of the defaults for an empty map', () => {
    const playbook = parsePlaybook('{}');
    expect(playbook).toEqual(DEFAULT_PLAYBOOK);
    expect(playbook).not.toBe(DEFAULT_PLAYBOOK);
    expect(playbook.P1).not.toBe(DEFAULT_PLAYBOOK.P1);
  });
});

describe('helpText', () => {
  it.each(SETTINGS.map((s) => [s.flag, envName(s.flag)]))('lists --%s and %s', (flag, env) => {
    const help = helpText();
    expect(help).toContain(`--${flag}`);
    expect(help).toContain(env);
  });
});

describe('parseConfig: the alert webhook', () => {
  it('refuses to start without a token unless --webhook-insecure is set', () => {
    expect(configError([], {}, { requireToken: true }).message).toBe(
      'invalid --webhook-token-file: the alert webhook needs a bearer token: give --webhook-token-file (or, never in production, --webhook-insecure)',
    );
    expect(parseConfig(['--webhook-insecure'], {}).webhook.token).toBeUndefined();
  });

  it('reads the token from the file, trimmed', () => {
    const file = join(dir, 'token');
    writeFileSync(file, 's3cret-token\n');
    expect(parseConfig([`--webhook-token-file=${file}`], {}).webhook.token).toBe('s3cret-token');
  });

  it.each([
    ['a missing file', join(dir, 'absent'), /^invalid --webhook-token-file: .*absent: ENOENT/],
    ['an empty file', 'EMPTY', /^invalid --webhook-token-file: .* is empty$/],
  ])('names the flag for %s', (_what, path, message) => {
    const file = path === 'EMPTY' ? join(dir, 'empty-token') : path;
    if (path === 'EMPTY') writeFileSync(file, '  \n');
    expect(configError([`--webhook-token-file=${file}`], {}, { requireToken: true }).message).toMatch(
      message,
    );
  });

  it('checks the Prometheus URL and that polling alerts has one', () => {
    expect(configError(['--prometheus-url=prometheus:9090']).message).toBe(
      'invalid --prometheus-url: "prometheus:9090" is not an http(s) URL',
    );
    expect(configError(['--prometheus-alerts-interval=30s']).message).toBe(
      'invalid --prometheus-alerts-interval: polling alerts needs --prometheus-url',
    );
    expect(
      parse(['--prometheus-url=http://prom:9090/', '--prometheus-alerts-interval=30s']).prometheus,
    ).toEqual({
      url: 'http://prom:9090',
      alertsIntervalMs: 30 * SECOND,
    });
  });
});

describe('parseConfig: the status page', () => {
  it('is off by default and with an empty address', () => {
    expect(parse([]).statusPage).toBeUndefined();
    expect(parse([], { SELFHEAL_STATUS_PAGE_ADDRESS: '' }).statusPage).toBeUndefined();
  });

  it('serves on the address, with the default title and the URL taken from requests', () => {
    expect(parse(['--status-page-address=:8082']).statusPage).toStrictEqual({
      address: { host: '0.0.0.0', port: 8082 },
      title: 'Service status',
      // No namespace speaks on the page unless listed (or labelled): none by default.
      namespaces: [],
    });
  });

  it('takes a title and a public URL, which always ends with one /', () => {
    expect(
      parse([
        '--status-page-address=127.0.0.1:0',
        '--status-page-title=Acme status',
        '--status-page-url=https://status.acme.example',
      ]).statusPage,
    ).toStrictEqual({
      address: { host: '127.0.0.1', port: 0 },
      title: 'Acme status',
      url: 'https://status.acme.example/',
      namespaces: [],
    });
    expect(
      parse(['--status-page-address=:8082', '--status-page-url=https://acme.example/status//']).statusPage
        ?.url,
    ).toBe('https://acme.example/status/');
  });

  it.each([
    [['--status-page-address=8082'], 'invalid --status-page-address: "8082" is not host:port'],
    [
      ['--status-page-address=:8082', '--status-page-url=status.acme.example'],
      'invalid --status-page-url: "status.acme.example" is not an http(s) URL',
    ],
    [
      ['--status-page-address=:8082', '--status-page-title=  '],
      'invalid --status-page-title: must be 1 to 100 characters, not only spaces',
    ],
    [
      ['--status-page-address=:8082', '--status-page-namespaces=shop,Prod_EU'],
      'invalid --status-page-namespaces: "Prod_EU" is not a namespace name (lower-case letters, digits and "-", at most 63)',
    ],
  ])('refuses %j', (argv, message) => {
    expect(configError(argv).message).toBe(message);
  });
});

describe('parseConfig: egress', () => {
  it('takes the allow list, the lifted classes and the pod address', () => {
    expect(
      parse(
        [
          '--egress-allow=hooks.slack.com, *.example.com,10.0.0.0/8',
          '--egress-allow-loopback',
          '--egress-allow-metadata=false',
          '--egress-allow-link-local=true',
        ],
        { POD_IP: '10.1.2.3' },
      ).egress,
    ).toEqual({
      allow: ['hooks.slack.com', '*.example.com', '10.0.0.0/8'],
      lifted: ['loopback', 'link-local'],
      selfAddresses: ['10.1.2.3'],
    });
    expect(parse(['--egress-allow=']).egress.allow).toEqual([]);
  });

  it('refuses an entry that is none of the forms, or one inside a class only its flag lifts', () => {
    expect(configError(['--egress-allow=10.0.0.0/40']).message).toBe(
      'invalid --egress-allow: "10.0.0.0/40" is not a CIDR (such as 10.0.0.0/8 or fd00::/8)',
    );
    expect(configError(['--egress-allow=169.254.169.254']).message).toBe(
      'invalid --egress-allow: "169.254.169.254" is a cloud metadata address: --egress-allow never lifts that class; use --egress-allow-metadata',
    );
  });
});
