// What a scenario starts: a local environment of its own under .tmp/bench/<scenario>/ (control
// plane, CRDs, optionally Prometheus), operators as separate processes exactly as users run them,
// and whatever else it registers; `stop` ends all of it, in reverse order, also after a failure.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { installCrds } from '../../hack/localenv/crds.ts';
import { LocalEnv, type LocalEnvInfo } from '../../hack/localenv/env.ts';
import { prometheus, type PrometheusInfo } from '../../hack/localenv/services.ts';
import { locateTools, REPO_ROOT } from '../../hack/localenv/tools.ts';
import { eventually } from '../../hack/localenv/wait.ts';
import { OperatorProcess } from '../../test/support/operator.ts';
import { apiServerClient, type HttpClient } from './http.ts';

/** SELFHEAL_BENCH_STATE_ROOT keeps two bench runs on one machine apart (default .tmp/bench). */
export function benchStateDir(scenario: string): string {
  return join(process.env.SELFHEAL_BENCH_STATE_ROOT ?? join(REPO_ROOT, '.tmp', 'bench'), scenario);
}

export interface BenchEnvOptions {
  nodes?: number;
  /** Also start Prometheus (from Debian's package, on a free loopback port). */
  prometheus?: boolean;
  /** The API server audits reads too (for counting requests per user agent). */
  auditReads?: boolean;
}

export class BenchEnv {
  readonly name: string;
  readonly env: LocalEnv;
  readonly info: LocalEnvInfo;
  readonly controlPlane: NonNullable<LocalEnvInfo['controlPlane']>;
  readonly kc: KubeConfig;
  /** The bench's own bare client of the API server (user agent selfheal-bench). */
  readonly api: HttpClient;
  readonly kubectl: string;
  prometheus: PrometheusInfo | undefined;
  private readonly cleanups: (() => Promise<void> | void)[] = [];

  private constructor(name: string, env: LocalEnv) {
    this.name = name;
    this.env = env;
    this.info = env.info;
    if (!env.info.controlPlane)
      throw new Error(
        'the benchmarks need the local control plane (they read its metrics and audit log): unset KUBECONFIG',
      );
    this.controlPlane = env.info.controlPlane;
    this.kc = new KubeConfig();
    this.kc.loadFromFile(env.info.kubeconfig);
    this.api = apiServerClient(this.controlPlane);
    this.kubectl = locateTools().binaries.kubectl;
  }

  get stateDir(): string {
    return this.info.stateDir;
  }

  static async start(
    scenario: string,
    options: BenchEnvOptions,
    log: (line: string) => void,
  ): Promise<BenchEnv> {
    if (process.env.KUBECONFIG)
      throw new Error(
        'the benchmarks start their own control plane and read its metrics: unset KUBECONFIG first',
      );
    const started = performance.now();
    const local = await LocalEnv.start(benchStateDir(scenario), {
      ...(options.nodes ? { nodes: options.nodes } : {}),
      ...(options.auditReads ? { auditReads: true } : {}),
    });
    const env = new BenchEnv(scenario, local);
    try {
      installCrds(local.info.kubeconfig);
      if (options.prometheus) {
        const service = await prometheus(local.info.stateDir, 'http://127.0.0.1:9/unused');
        env.defer(() => service.stop());
        await service.start();
        env.prometheus = service.info;
      }
    } catch (error) {
      await env.stop();
      throw error;
    }
    log(`environment up in ${((performance.now() - started) / 1000).toFixed(1)} s: ${local.info.stateDir}`);
    return env;
  }

  /** Registers something to undo at `stop` (last registered, first undone). */
  defer(cleanup: () => Promise<void> | void): void {
    this.cleanups.push(cleanup);
  }

  async namespace(name: string): Promise<string> {
    await this.kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name } } });
    return name;
  }

  /**
   * An operator as users run it, stopped at `stop`; its log is in <state>/operators/.
   * SELFHEAL_BENCH_OPERATOR_NODE_OPTIONS becomes its NODE_OPTIONS, to profile it (for example
   * `--cpu-prof --cpu-prof-dir=/tmp/prof`; the profile is written when it stops).
   */
  async operator(args: string[], name = 'operator'): Promise<OperatorProcess> {
    mkdirSync(join(this.stateDir, 'operators'), { recursive: true });
    const nodeOptions = process.env.SELFHEAL_BENCH_OPERATOR_NODE_OPTIONS;
    const operator = await OperatorProcess.start(
      { stateDir: this.stateDir, kubeconfig: this.info.kubeconfig },
      { name, args, ...(nodeOptions ? { env: { NODE_OPTIONS: nodeOptions } } : {}) },
    );
    this.defer(() => operator.stop());
    return operator;
  }

  /** Waits until a RemediationPolicy's Ready condition is True (the operator has it in its cache). */
  async policyReady(namespace: string, name: string): Promise<void> {
    await eventually(
      `policy ${namespace}/${name} Ready`,
      async () => {
        const policy = await this.api.json<{ status?: { conditions?: { type: string; status: string }[] } }>(
          'GET',
          `/apis/selfheal.dev/v1alpha1/namespaces/${namespace}/remediationpolicies/${name}`,
        );
        return policy.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
      },
      { timeoutMs: 30_000 },
    );
  }

  async stop(): Promise<void> {
    for (const cleanup of this.cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch {
        // keep stopping the rest
      }
    }
    this.api.close();
    await this.env.stop();
  }
}

/**
 * Does what the kubelet would for an operator that exited (a lost lease ends the process by design,
 * e.g. when another system's load starved the node): starts it again and waits until it leads.
 * Returns the exit code it had, or undefined when it was running.
 */
export async function restartIfExited(
  operator: OperatorProcess,
  log: (line: string) => void,
): Promise<number | undefined> {
  if (operator.running) return undefined;
  const exitCode = operator.exitCode ?? -1;
  log(`the operator had exited (code ${exitCode}; its log says why): starting it again`);
  await operator.restart({ timeoutMs: 60_000 });
  // Ready is not leading: the lease it could not release runs out first (--lease-duration).
  await eventually(
    'the restarted operator to lead',
    async () => (await operator.metric('selfheal_leader')) === 1,
    {
      timeoutMs: 60_000,
      check: () => {
        if (!operator.running) throw new Error('the restarted operator exited again');
      },
    },
  );
  return exitCode;
}

/** Runs `body` with a fresh environment and stops everything afterwards, whatever happens. */
export async function withBenchEnv<T>(
  scenario: string,
  options: BenchEnvOptions,
  log: (line: string) => void,
  body: (env: BenchEnv) => Promise<T>,
): Promise<T> {
  const env = await BenchEnv.start(scenario, options, log);
  try {
    return await body(env);
  } finally {
    await env.stop();
  }
}
