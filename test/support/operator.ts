import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManagedProcess } from '../../hack/localenv/process.ts';
import { REPO_ROOT } from '../../hack/localenv/tools.ts';
import { eventually, freePort } from '../../hack/localenv/wait.ts';
import { testEnv, tierStateDir, type Tier } from './tiers.ts';

let started = 0;

/** Where an operator runs: the environment's state directory (its log goes there) and its cluster. */
export interface OperatorSite {
  stateDir: string;
  kubeconfig: string;
}

const siteOf = (where: Tier | OperatorSite): OperatorSite =>
  typeof where === 'string'
    ? { stateDir: tierStateDir(where), kubeconfig: testEnv(where).kubeconfig }
    : where;

/**
 * The operator as users run it: `node src/main.ts` in its own process, configured by flags, with
 * its JSON log in `<state dir>/operators/` (for a test tier, named by the log reporter when a test
 * fails). A test tier gives the tier; the benchmarks give their own environment's state directory.
 */
export class OperatorProcess {
  readonly healthUrl: string;
  readonly webhookUrl: string;
  readonly logFile: string;
  private readonly process: ManagedProcess;

  private constructor(process: ManagedProcess, healthUrl: string, webhookUrl: string) {
    this.process = process;
    this.healthUrl = healthUrl;
    this.webhookUrl = webhookUrl;
    this.logFile = process.spec.logFile;
  }

  /**
   * Starts an operator and waits until /readyz says its caches are in sync. The stand-ins for
   * receivers, health endpoints and brokers listen on 127.0.0.1, so loopback egress is allowed
   * (--egress-allow-loopback) unless a test says `egressLoopback: false` (the egress policy's own
   * tests, which need the install's default). In a test tier the storm breaker's limit is 1000
   * unless the test sets it.
   */
  static async start(
    where: Tier | OperatorSite,
    {
      args = [],
      env = {},
      name = 'operator',
      waitForReady = true,
      egressLoopback = true,
    }: {
      args?: string[];
      env?: Record<string, string>;
      name?: string;
      waitForReady?: boolean;
      egressLoopback?: boolean;
    } = {},
  ): Promise<OperatorProcess> {
    const { stateDir, kubeconfig } = siteOf(where);
    const logDir = join(stateDir, 'operators');
    mkdirSync(logDir, { recursive: true });
    const port = await freePort();
    const webhookPort = await freePort();
    const process = new ManagedProcess(
      {
        name,
        command: globalThis.process.execPath,
        args: [
          join(REPO_ROOT, 'src', 'main.ts'),
          `--kubeconfig=${kubeconfig}`,
          `--health-address=127.0.0.1:${port}`,
          `--webhook-address=127.0.0.1:${webhookPort}`,
          ...(args.some((a) => a.startsWith('--webhook-token-file')) ? [] : ['--webhook-insecure']),
          ...(egressLoopback ? ['--egress-allow-loopback'] : []),
          // The files of a test tier share one cluster, so the storm breaker's window would count
          // the incidents of the files before (a benchmark's environment is its own, and keeps the
          // defaults users run); a test of the breaker sets its own limit.
          ...(typeof where === 'string' && !args.some((a) => a.startsWith('--storm-max-incidents'))
            ? ['--storm-max-incidents=1000']
            : []),
          ...args,
        ],
        logFile: join(logDir, `${name}-${Date.now()}-${++started}.log`),
        env,
      },
      stateDir,
    );
    const operator = new OperatorProcess(
      process,
      `http://127.0.0.1:${port}`,
      `http://127.0.0.1:${webhookPort}/webhook/alertmanager`,
    );
    if (waitForReady) await operator.restart();
    else operator.process.start();
    return operator;
  }

  /** Starts it again (after kill or stop), with the same flags, and waits for readiness. */
  async restart(readiness?: { timeoutMs?: number; intervalMs?: number }): Promise<void> {
    this.process.start();
    await this.ready(readiness);
  }

  /** Waits until /readyz says its caches are in sync (polled every `intervalMs`). */
  async ready({ timeoutMs = 30_000, intervalMs = 250 } = {}): Promise<void> {
    await eventually(
      `operator ${this.process.spec.name} ready`,
      async () => (await this.get('/readyz')).status === 200,
      { timeoutMs, intervalMs, check: () => this.process.assertAlive() },
    );
  }

  get running(): boolean {
    return this.process.running;
  }

  /** The process id while it runs (to read its memory from /proc), else undefined. */
  get pid(): number | undefined {
    return this.running ? this.process.pid : undefined;
  }

  /** The exit code once the process has exited (128 after a signal), else null. */
  get exitCode(): number | null {
    return this.process.exitCode;
  }

  /** Its JSON log lines, parsed. */
  logLines(): Record<string, unknown>[] {
    return readFileSync(this.logFile, 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  /** Posts an Alertmanager notification (or any body) to its webhook. */
  async postAlerts(
    body: unknown,
    token?: string,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(this.webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  async get(path: string): Promise<{ status: number; body: string }> {
    const res = await fetch(this.healthUrl + path);
    return { status: res.status, body: await res.text() };
  }

  /** The value of one series on /metrics (labels in the exposition order), or undefined. */
  async metric(series: string): Promise<number | undefined> {
    const { body } = await this.get('/metrics');
    const line = body.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  }

  /** A crash: SIGKILL, no shutdown. */
  kill(): void {
    this.process.kill();
  }

  async stop(): Promise<void> {
    await this.process.stop(15_000);
  }
}
