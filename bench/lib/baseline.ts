// The baseline a user would otherwise wire: Alertmanager's webhook into a generic webhook runner
// (adnanh/webhook, Debian's `webhook` package) whose hook script runs `kubectl rollout restart` for
// each firing alert's Deployment. The runner answers at once and runs the hook in the background, as
// its default configuration does; the script logs each invocation, so the bench can count them.
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { ManagedProcess } from '../../hack/localenv/process.ts';
import { eventually, freePort } from '../../hack/localenv/wait.ts';
import type { BenchEnv } from './env.ts';

const HOOK_SCRIPT = `#!/bin/sh
# Alertmanager's payload (argument 1): restart the Deployment of every firing alert.
printf '%s\\n' "$1" |
  jq -r '.alerts[] | select(.status == "firing") | "\\(.labels.namespace) \\(.labels.deployment)"' |
  while read -r namespace deployment; do
    echo "$namespace/$deployment" >>"$BASELINE_INVOCATIONS"
    kubectl rollout restart "deployment/$deployment" -n "$namespace"
  done
`;

export class WebhookRunner {
  readonly url: string;
  private readonly process: ManagedProcess;
  private readonly invocationsFile: string;

  private constructor(process: ManagedProcess, url: string, invocationsFile: string) {
    this.process = process;
    this.url = url;
    this.invocationsFile = invocationsFile;
  }

  static async start(env: BenchEnv): Promise<WebhookRunner> {
    const dir = join(env.stateDir, 'baseline');
    mkdirSync(join(dir, 'home'), { recursive: true });
    const script = join(dir, 'restart.sh');
    writeFileSync(script, HOOK_SCRIPT);
    chmodSync(script, 0o755);
    const hooks = join(dir, 'hooks.json');
    writeFileSync(
      hooks,
      JSON.stringify(
        [
          {
            id: 'restart',
            'execute-command': script,
            'command-working-directory': dir,
            'pass-arguments-to-command': [{ source: 'entire-payload' }],
            'http-methods': ['POST'],
          },
        ],
        null,
        2,
      ),
    );
    const invocationsFile = join(dir, 'invocations.log');
    writeFileSync(invocationsFile, '');
    const runnerEnv = {
      KUBECONFIG: env.info.kubeconfig,
      // kubectl's discovery cache lives here; it is warmed once below, as on any host that runs it.
      HOME: join(dir, 'home'),
      PATH: `${dirname(env.kubectl)}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      BASELINE_INVOCATIONS: invocationsFile,
    };
    execFileSync(env.kubectl, ['api-resources'], { env: { ...process.env, ...runnerEnv }, stdio: 'ignore' });
    const port = await freePort();
    const runner = new ManagedProcess(
      {
        name: 'webhook',
        command: 'webhook',
        args: ['-hooks', hooks, '-ip', '127.0.0.1', '-port', String(port), '-verbose'],
        logFile: join(dir, 'webhook.log'),
        env: runnerEnv,
      },
      env.stateDir,
    );
    runner.start();
    const url = `http://127.0.0.1:${port}/hooks/restart`;
    await eventually(
      'the webhook runner',
      async () =>
        (
          await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: '{"alerts":[]}',
          })
        ).ok,
      { timeoutMs: 15_000, check: () => runner.assertAlive() },
    );
    const baseline = new WebhookRunner(runner, url, invocationsFile);
    env.defer(() => baseline.stop());
    return baseline;
  }

  /** How many restarts the hook script has begun so far. */
  invocations(): number {
    return existsSync(this.invocationsFile)
      ? readFileSync(this.invocationsFile, 'utf8').split('\n').filter(Boolean).length
      : 0;
  }

  /** How many hook scripts have failed so far (the runner logs their exit status). */
  failures(): number {
    return readFileSync(this.process.spec.logFile, 'utf8')
      .split('\n')
      .filter((l) => l.includes('] error occurred:')).length;
  }

  /** Hook scripts still running (the runner's children). */
  running(): number {
    const pid = this.process.pid;
    if (pid === undefined) return 0;
    let children = 0;
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        // The parent pid is the second field after the parenthesised command name.
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) children++;
      } catch {
        // exited meanwhile
      }
    }
    return children;
  }

  /** Waits until every hook script has finished. */
  async idle(timeoutMs = 300_000): Promise<void> {
    await eventually('the baseline hook scripts to finish', () => this.running() === 0, {
      timeoutMs,
      intervalMs: 200,
      check: () => this.process.assertAlive(),
    });
  }

  async stop(): Promise<void> {
    await this.process.stop(5_000);
  }
}
