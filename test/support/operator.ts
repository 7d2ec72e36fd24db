import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ManagedProcess } from '../../hack/localenv/process.ts';
import { REPO_ROOT } from '../../hack/localenv/tools.ts';
import { eventually, freePort } from '../../hack/localenv/wait.ts';
import { testEnv, tierStateDir, type Tier } from './tiers.ts';

let started = 0;

/**
 * The operator as users run it: `node src/main.ts` in its own process, configured by flags, with
 * its JSON log in the tier's state directory (named by the log reporter when a test fails).
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

  /** Starts an operator and waits until /readyz says its caches are in sync. */
  static async start(
    tier: Tier,
    {
      args = [],
      env = {},
      name = 'operator',
    }: { args?: string[]; env?: Record<string, string>; name?: string } = {},
  ): Promise<OperatorProcess> {
    const stateDir = tierStateDir(tier);
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
          `--kubeconfig=${testEnv(tier).kubeconfig}`,
          `--health-address=127.0.0.1:${port}`,
          `--webhook-address=127.0.0.1:${webhookPort}`,
          ...(args.some((a) => a.startsWith('--webhook-token-file')) ? [] : ['--webhook-insecure']),
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
    await operator.restart();
    return operator;
  }

  /** Starts it again (after kill or stop), with the same flags, and waits for readiness. */
  async restart(): Promise<void> {
    this.process.start();
    await eventually(
      `operator ${this.process.spec.name} ready`,
      async () => (await this.get('/readyz')).status === 200,
      {
        timeoutMs: 30_000,
        check: () => this.process.assertAlive(),
      },
    );
  }

  get running(): boolean {
    return this.process.running;
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
