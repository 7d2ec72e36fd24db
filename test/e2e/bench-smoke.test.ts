import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { REPO_ROOT } from '../../hack/localenv/tools.ts';

// The benchmark suite in CI: `npm run bench -- all --smoke` run as a user runs it, in its own
// process, starting its own environments. It fails when a scenario breaks, never because a figure
// moved: the assertions are the exit code and one result file per scenario.
const LIMIT_MS = 175_000;

function runBench(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'bench', 'run.ts'), ...args], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    // Past the limit, SIGTERM: the runner then ends every process of its environments.
    const timer = setTimeout(() => child.kill('SIGTERM'), LIMIT_MS);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('npm run bench -- all --smoke', () => {
  it('runs every scenario small, exits 0 and writes one result per scenario', async () => {
    const results = mkdtempSync(join(tmpdir(), 'selfheal-bench-smoke-'));
    const { KUBECONFIG: _external, ...env } = process.env;
    const { code, output } = await runBench(['all', '--smoke', `--results=${results}`], {
      ...env,
      SELFHEAL_BENCH_STATE_ROOT: join(
        process.env.SELFHEAL_TEST_STATE_ROOT ?? join(REPO_ROOT, '.tmp'),
        'bench-smoke',
      ),
    });
    if (code !== 0) throw new Error(`the bench exited ${String(code)}:\n${output.slice(-6_000)}`);
    const scenarios = readdirSync(join(REPO_ROOT, 'bench', 'scenarios'))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => basename(f, '.ts'));
    const files = readdirSync(results).filter((f) => f.endsWith('.json'));
    for (const scenario of scenarios) {
      const file = files.find((f) => new RegExp(`^${scenario}-\\d{8}T\\d{6}Z\\.json$`).test(f));
      if (!file)
        throw new Error(
          `no result for ${scenario} in ${results}: ${files.join(', ')}\n${output.slice(-3_000)}`,
        );
      const result = JSON.parse(readFileSync(join(results, file), 'utf8')) as {
        scenario: string;
        smoke: boolean;
        rows: unknown[];
      };
      expect(result).toMatchObject({ scenario, smoke: true });
      expect(result.rows.length).toBeGreaterThan(0);
    }
    expect(files).toHaveLength(scenarios.length);
  }, 180_000);
});
