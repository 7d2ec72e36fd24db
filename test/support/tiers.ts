import { join } from 'node:path';
import { LocalEnv, readEnvInfo, type LocalEnvInfo, type LocalEnvOptions } from '../../hack/localenv/env.ts';
import { installCrds } from '../../hack/localenv/crds.ts';
import { REPO_ROOT } from '../../hack/localenv/tools.ts';

export type Tier = 'integration' | 'e2e';

/** SELFHEAL_TEST_STATE_ROOT lets two test runs on one machine keep their environments apart. */
export function tierStateDir(tier: Tier): string {
  return join(process.env.SELFHEAL_TEST_STATE_ROOT ?? join(REPO_ROOT, '.tmp'), `test-${tier}`);
}

/** The environment the tier's global set-up started (read from its env.json). */
export function testEnv(tier: Tier): LocalEnvInfo {
  return readEnvInfo(tierStateDir(tier));
}

const RUNNING = Symbol.for('selfheal.test.localenv');
type WithEnv = typeof globalThis & { [RUNNING]?: LocalEnv };

/** Jest globalSetup: start the tier's environment once for all its test files. */
export async function startTier(tier: Tier, options: LocalEnvOptions): Promise<void> {
  const started = Date.now();
  const env = await LocalEnv.start(tierStateDir(tier), options);
  (globalThis as WithEnv)[RUNNING] = env;
  installCrds(env.info.kubeconfig);
  const where = env.info.externalCluster ? `KUBECONFIG=${env.info.kubeconfig}` : `local control plane`;
  console.log(
    `\n[${tier}] environment up in ${((Date.now() - started) / 1000).toFixed(1)} s (${where}); logs in ${env.info.stateDir}`,
  );
}

/** Jest globalTeardown: stop everything the set-up started, whatever the tests' outcome. */
export async function stopTier(): Promise<void> {
  await (globalThis as WithEnv)[RUNNING]?.stop();
}

/** A service the tier's global set-up should have started, or a loud failure naming it. */
export function started<T>(value: T | undefined, what: string): T {
  if (value === undefined)
    throw new Error(`the environment has no ${what}: the tier's global set-up did not start it`);
  return value;
}
