import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { locateTools } from '../../hack/localenv/tools.ts';
import { testEnv, type Tier } from './tiers.ts';

const run = promisify(execFile);

export function kubeConfigFor(tier: Tier): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(testEnv(tier).kubeconfig);
  return kc;
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The real kubectl against the tier's cluster; resolves with its exit code instead of throwing. */
export async function kubectl(
  tier: Tier,
  args: string[],
  { timeoutMs = 120_000 } = {},
): Promise<KubectlResult> {
  try {
    const { stdout, stderr } = await run(locateTools().binaries.kubectl, args, {
      env: { ...process.env, KUBECONFIG: testEnv(tier).kubeconfig },
      timeout: timeoutMs,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** A fresh namespace per test file, so files never see each other's objects. */
export async function createTestNamespace(kc: KubeConfig, prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name } } });
  return name;
}
