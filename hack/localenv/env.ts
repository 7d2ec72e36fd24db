import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ControlPlane, type ControlPlaneInfo } from './controlplane.ts';
import { killMarkedOnSignal, terminateMarked } from './process.ts';
import {
  alertmanager,
  prometheus,
  rabbitMq,
  scrapeRabbitMq,
  type AlertmanagerInfo,
  type PrometheusInfo,
  type RabbitMqInfo,
  type Service,
} from './services.ts';
import { locateTools, REPO_ROOT } from './tools.ts';

/** What a test, the demo or a user needs to reach the local environment; saved as env.json. */
export interface LocalEnvInfo {
  stateDir: string;
  /** Set when KUBECONFIG pointed at a cluster of the user's: nothing was started for it. */
  externalCluster: boolean;
  kubeconfig: string;
  controlPlane?: ControlPlaneInfo;
  rabbitmq?: RabbitMqInfo;
  prometheus?: PrometheusInfo;
  alertmanager?: AlertmanagerInfo;
}

export interface LocalEnvOptions {
  /** Also start RabbitMQ, Prometheus and Alertmanager. */
  services?: boolean;
  /** Where Alertmanager sends its webhooks (tests may rewrite it later). */
  alertWebhookUrl?: string;
  nodes?: number;
  /** Audit reads as well as writes (see controlplane.ts). */
  auditReads?: boolean;
}

export const DEFAULT_STATE_DIR = join(REPO_ROOT, '.tmp', 'cluster');

export function envFile(stateDir: string): string {
  return join(stateDir, 'env.json');
}

export function readEnvInfo(stateDir: string): LocalEnvInfo {
  const file = envFile(stateDir);
  if (!existsSync(file))
    throw new Error(`no local environment at ${stateDir} (missing ${file}): start one first`);
  return JSON.parse(readFileSync(file, 'utf8')) as LocalEnvInfo;
}

/**
 * The whole local environment in one state directory: a control plane (unless KUBECONFIG names a
 * cluster to use instead) and optionally the services. Starting ends whatever an earlier run on
 * the same directory left behind and begins from an empty directory.
 */
export class LocalEnv {
  readonly info: LocalEnvInfo;
  readonly controlPlane: ControlPlane | undefined;
  private readonly services: Service<unknown>[];

  private constructor(
    info: LocalEnvInfo,
    controlPlane: ControlPlane | undefined,
    services: Service<unknown>[],
  ) {
    this.info = info;
    this.controlPlane = controlPlane;
    this.services = services;
  }

  static async start(stateDirArg: string, options: LocalEnvOptions = {}): Promise<LocalEnv> {
    const stateDir = resolve(stateDirArg);
    await LocalEnv.reset(stateDir);
    mkdirSync(stateDir, { recursive: true });
    killMarkedOnSignal(stateDir);

    const external = process.env.KUBECONFIG;
    const controlPlane = external ? undefined : await ControlPlane.create(stateDir, locateTools(), options);
    const info: LocalEnvInfo = {
      stateDir,
      externalCluster: Boolean(external),
      kubeconfig: external ?? controlPlane?.info.kubeconfig ?? '',
      ...(controlPlane ? { controlPlane: controlPlane.info } : {}),
    };
    const services: Service<unknown>[] = [];
    const env = new LocalEnv(info, controlPlane, services);
    try {
      if (options.services) {
        const am = await alertmanager(stateDir, options.alertWebhookUrl ?? 'http://127.0.0.1:9/unconfigured');
        const prom = await prometheus(stateDir, am.info.url);
        const rabbit = await rabbitMq(stateDir);
        services.push(am, prom, rabbit);
        Object.assign(info, { alertmanager: am.info, prometheus: prom.info, rabbitmq: rabbit.info });
        scrapeRabbitMq(prom.info, rabbit.info);
      }
      // The slow starters (the API server, RabbitMQ) overlap; each fails with its own log's tail.
      await Promise.all([controlPlane?.start(), ...services.map((s) => s.start())]);
    } catch (error) {
      await env.stop();
      throw error;
    }
    writeFileSync(envFile(stateDir), JSON.stringify(info, null, 2));
    return env;
  }

  async stop(): Promise<void> {
    for (const service of [...this.services].reverse()) await service.stop();
    await this.controlPlane?.stop();
    await terminateMarked(this.info.stateDir);
  }

  /** Ends every process of the state directory (gracefully, then by force) and empties it. */
  static async reset(stateDir: string): Promise<void> {
    await terminateMarked(resolve(stateDir), 10_000);
    rmSync(stateDir, { recursive: true, force: true });
  }
}
