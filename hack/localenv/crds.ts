import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { locateTools, REPO_ROOT } from './tools.ts';

/** Applies the checked-in CRDs with the real kubectl and waits until they are Established. */
export function installCrds(kubeconfig: string): void {
  const kubectl = locateTools().binaries.kubectl;
  const crds = join(REPO_ROOT, 'deploy', 'crds');
  const env = { ...process.env, KUBECONFIG: kubeconfig };
  execFileSync(kubectl, ['apply', '--server-side', '--force-conflicts', '-f', crds], { env, stdio: 'pipe' });
  execFileSync(kubectl, ['wait', '--for=condition=Established', '--timeout=60s', '-f', crds], {
    env,
    stdio: 'pipe',
  });
}
