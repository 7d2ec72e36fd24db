import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { locateTools, REPO_ROOT } from '../../hack/localenv/tools.ts';
import { testEnv, type Tier } from './tiers.ts';

const run = promisify(execFile);

export const PLUGIN = join(REPO_ROOT, 'bin', 'kubectl-incident');

export interface PluginResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * `kubectl incident ARGS` as a person runs it: the installed launcher in its own process, with the
 * tier's kubeconfig (or `kubeconfig`), and a PATH whose first `node` is the system's, whatever its
 * version, so the launcher must find Node 24 itself. `viaKubectl` goes through kubectl's own plugin
 * discovery instead (bin/ on PATH). Resolves with the exit code instead of throwing.
 */
export async function kubectlIncident(
  tier: Tier,
  args: string[],
  { kubeconfig, viaKubectl = false }: { kubeconfig?: string; viaKubectl?: boolean } = {},
): Promise<PluginResult> {
  const kubectl = locateTools().binaries.kubectl;
  const path = [dirname(PLUGIN), '/usr/local/bin', '/usr/bin', '/bin'].join(':');
  const [command, commandArgs] = viaKubectl ? [kubectl, ['incident', ...args]] : [PLUGIN, args];
  try {
    const { stdout, stderr } = await run(command, commandArgs, {
      env: {
        HOME: process.env.HOME ?? '/root',
        PATH: path,
        KUBECONFIG: kubeconfig ?? testEnv(tier).kubeconfig,
      },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}
