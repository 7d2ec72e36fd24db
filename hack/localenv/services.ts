import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ManagedProcess } from './process.ts';
import { freePorts, eventually } from './wait.ts';

export interface RabbitMqInfo {
  amqpUrl: string;
  managementUrl: string;
  /** rabbitmq_prometheus: per-queue metrics (rabbitmq_queue_messages_ready{queue=...}) at `/metrics`. */
  prometheusUrl: string;
  username: string;
  password: string;
  /** For rabbitmqctl against this node (`rabbitmqctl -n <nodeName>` with `ctlEnv` in the environment). */
  nodeName: string;
  ctlEnv: Record<string, string>;
  log: string;
}

export interface PrometheusInfo {
  url: string;
  /** Scrape targets: drop `<name>.json` files in file_sd format here; Prometheus picks them up in ~1 s. */
  targetsDir: string;
  /** Rule files: drop `<name>.yml` here, then POST `${url}/-/reload`. */
  rulesDir: string;
  log: string;
}

export interface AlertmanagerInfo {
  url: string;
  /** Rewrite this file, then POST `${url}/-/reload`, to route alerts elsewhere. */
  configFile: string;
  log: string;
}

/** A service of the local environment: a managed process plus what clients need to reach it. */
export interface Service<Info> {
  info: Info;
  start(): Promise<void>;
  stop(): Promise<void>;
}

const ok = async (url: string, init?: RequestInit) => (await fetch(url, init)).ok;

/**
 * RabbitMQ from Debian's package, isolated in `dir`: its own Erlang port mapper, node name, data,
 * logs and ports on loopback, with the management and shovel plugins. Run as the invoking user
 * (root in CI), bypassing the Debian wrapper that would switch to the `rabbitmq` user.
 */
export async function rabbitMq(dir: string): Promise<Service<RabbitMqInfo>> {
  const base = join(dir, 'rabbitmq');
  mkdirSync(join(base, 'home'), { recursive: true });
  const [amqpPort, mgmtPort, epmdPort, distPort, metricsPort] = await freePorts(5);
  writeFileSync(
    join(base, 'enabled_plugins'),
    '[rabbitmq_management,rabbitmq_shovel,rabbitmq_shovel_management,rabbitmq_prometheus].\n',
  );
  writeFileSync(
    join(base, 'rabbitmq.conf'),
    [
      `listeners.tcp.default = 127.0.0.1:${amqpPort}`,
      `management.tcp.ip = 127.0.0.1`,
      `management.tcp.port = ${mgmtPort}`,
      'prometheus.tcp.ip = 127.0.0.1',
      `prometheus.tcp.port = ${metricsPort}`,
      // Per-queue series on /metrics, so a rule can alert on one queue's backlog.
      'prometheus.return_per_object_metrics = true',
      'log.console = true',
      'log.console.level = warning',
      // Queue figures in the management API refresh at this interval (default 5 s).
      'collect_statistics_interval = 1000',
      '',
    ].join('\n'),
  );
  const log = join(base, 'rabbitmq.log');
  const nodeName = `selfheal${amqpPort}@localhost`;
  const env = {
    HOME: join(base, 'home'),
    ERL_EPMD_PORT: String(epmdPort),
    ERL_EPMD_ADDRESS: '127.0.0.1',
    RABBITMQ_NODENAME: nodeName,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(amqpPort),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_CONFIG_FILE: join(base, 'rabbitmq.conf'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(base, 'enabled_plugins'),
    RABBITMQ_MNESIA_BASE: join(base, 'mnesia'),
    RABBITMQ_LOG_BASE: join(base, 'log'),
    RABBITMQ_PID_FILE: join(base, 'rabbitmq.pid'),
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
  };
  const epmd = new ManagedProcess(
    {
      name: 'epmd',
      command: 'epmd',
      args: ['-port', String(epmdPort), '-address', '127.0.0.1'],
      logFile: join(base, 'epmd.log'),
      env,
    },
    dir,
  );
  const server = new ManagedProcess(
    {
      name: 'rabbitmq',
      command: '/usr/lib/rabbitmq/bin/rabbitmq-server',
      args: [],
      logFile: log,
      env,
      cwd: base,
    },
    dir,
  );
  const info: RabbitMqInfo = {
    amqpUrl: `amqp://guest:guest@127.0.0.1:${amqpPort}`,
    managementUrl: `http://127.0.0.1:${mgmtPort}`,
    prometheusUrl: `http://127.0.0.1:${metricsPort}`,
    username: 'guest',
    password: 'guest',
    nodeName,
    ctlEnv: { HOME: env.HOME, ERL_EPMD_PORT: env.ERL_EPMD_PORT },
    log,
  };
  const auth = `Basic ${Buffer.from('guest:guest').toString('base64')}`;
  return {
    info,
    async start() {
      epmd.start();
      server.start();
      await eventually(
        'RabbitMQ management API',
        () => ok(`${info.managementUrl}/api/overview`, { headers: { authorization: auth } }),
        {
          timeoutMs: 90_000,
          intervalMs: 500,
          check: () => {
            epmd.assertAlive();
            server.assertAlive();
          },
        },
      );
    },
    async stop() {
      await server.stop(20_000);
      await epmd.stop();
    },
  };
}

/** Lets Prometheus scrape RabbitMQ's own metrics (job `local`, label `service="rabbitmq"`). */
export function scrapeRabbitMq(prom: PrometheusInfo, rabbit: RabbitMqInfo): void {
  const target = { targets: [new URL(rabbit.prometheusUrl).host], labels: { service: 'rabbitmq' } };
  writeFileSync(join(prom.targetsDir, 'rabbitmq.json'), JSON.stringify([target]));
}

/** Prometheus from Debian's package: 1 s scrape and rule evaluation, file-based targets and rules. */
export async function prometheus(dir: string, alertmanagerUrl: string): Promise<Service<PrometheusInfo>> {
  const base = join(dir, 'prometheus');
  const targetsDir = join(base, 'targets');
  const rulesDir = join(base, 'rules');
  for (const d of [targetsDir, rulesDir, join(base, 'data')]) mkdirSync(d, { recursive: true });
  const [port] = await freePorts(1);
  const url = `http://127.0.0.1:${port}`;
  const configFile = join(base, 'prometheus.yml');
  writeFileSync(
    configFile,
    stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: [join(rulesDir, '*.yml')],
      alerting: { alertmanagers: [{ static_configs: [{ targets: [new URL(alertmanagerUrl).host] }] }] },
      scrape_configs: [
        {
          job_name: 'local',
          file_sd_configs: [{ files: [join(targetsDir, '*.json')], refresh_interval: '1s' }],
        },
      ],
    }),
  );
  const log = join(base, 'prometheus.log');
  const server = new ManagedProcess(
    {
      name: 'prometheus',
      command: 'prometheus',
      args: [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${join(base, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--web.enable-lifecycle',
        '--log.level=warn',
      ],
      logFile: log,
    },
    dir,
  );
  return {
    info: { url, targetsDir, rulesDir, log },
    async start() {
      server.start();
      await eventually('Prometheus /-/ready', () => ok(`${url}/-/ready`), {
        check: () => server.assertAlive(),
      });
    },
    stop: () => server.stop(),
  };
}

/** Alertmanager from Debian's package, clustering off, routing everything to one webhook. */
export async function alertmanager(dir: string, webhookUrl: string): Promise<Service<AlertmanagerInfo>> {
  const base = join(dir, 'alertmanager');
  mkdirSync(join(base, 'data'), { recursive: true });
  const [port] = await freePorts(1);
  const url = `http://127.0.0.1:${port}`;
  const configFile = join(base, 'alertmanager.yml');
  writeFileSync(configFile, alertmanagerConfig(webhookUrl));
  const log = join(base, 'alertmanager.log');
  const server = new ManagedProcess(
    {
      name: 'alertmanager',
      command: 'prometheus-alertmanager',
      args: [
        `--config.file=${configFile}`,
        `--storage.path=${join(base, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--cluster.listen-address=',
        '--log.level=warn',
      ],
      logFile: log,
    },
    dir,
  );
  return {
    info: { url, configFile, log },
    async start() {
      server.start();
      await eventually('Alertmanager /-/ready', () => ok(`${url}/-/ready`), {
        check: () => server.assertAlive(),
      });
    },
    stop: () => server.stop(),
  };
}

/** A route that sends every alert to `webhookUrl` at once (short group waits, for tests and demos). */
export function alertmanagerConfig(
  webhookUrl: string,
  extraWebhookConfig: Record<string, unknown> = {},
): string {
  return stringify({
    route: {
      receiver: 'selfheal',
      group_by: ['alertname', 'namespace'],
      group_wait: '1s',
      group_interval: '2s',
      repeat_interval: '1h',
    },
    receivers: [
      {
        name: 'selfheal',
        webhook_configs: [{ url: webhookUrl, send_resolved: true, ...extraWebhookConfig }],
      },
    ],
  });
}
