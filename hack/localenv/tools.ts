import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export type ControlPlaneBinary =
  'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'kubectl' | 'kwok';

/** What hack/build-tools.sh builds: the control plane, and Helm for the chart's tests and renders. */
export type Tool = ControlPlaneBinary | 'helm';

export interface ToolPaths {
  binaries: Record<Tool, string>;
  kwokStages: string;
}

/**
 * Where the tools are: `KUBEBUILDER_ASSETS` (envtest's convention: etcd, kube-apiserver, kubectl)
 * first, then the version-keyed cache that hack/build-tools.sh fills.
 */
export function locateTools(): ToolPaths {
  const dirs = Object.fromEntries(
    execFileSync(join(REPO_ROOT, 'hack', 'build-tools.sh'), ['--print'], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map((line) => line.split('=') as [string, string]),
  );
  const cacheDir: Record<Tool, string | undefined> = {
    etcd: dirs.ETCD_BIN,
    'kube-apiserver': dirs.KUBE_BIN,
    'kube-controller-manager': dirs.KUBE_BIN,
    'kube-scheduler': dirs.KUBE_BIN,
    kubectl: dirs.KUBE_BIN,
    kwok: dirs.KWOK_BIN,
    helm: dirs.HELM_BIN,
  };
  const assets = process.env.KUBEBUILDER_ASSETS;
  const missing: string[] = [];
  const binaries = {} as Record<Tool, string>;
  for (const [name, dir] of Object.entries(cacheDir) as [Tool, string | undefined][]) {
    const candidates = [assets ? join(assets, name) : undefined, dir ? join(dir, name) : undefined];
    const found = candidates.find((path): path is string => path !== undefined && existsSync(path));
    if (found) binaries[name] = found;
    else missing.push(`${name} (looked in ${candidates.filter(Boolean).join(', ')})`);
  }
  const kwokStages = join(dirs.KWOK_BIN ?? '', 'stages.yaml');
  if (!existsSync(kwokStages)) missing.push(`kwok stages (${kwokStages})`);
  if (missing.length > 0) {
    throw new Error(
      `control-plane binaries missing: ${missing.join('; ')}. Run hack/build-tools.sh (or npm run setup).`,
    );
  }
  return { binaries, kwokStages };
}

/** promtool, from Debian's prometheus package (hack/setup.sh installs it). */
export function locatePromtool(): string {
  const path = '/usr/bin/promtool';
  if (!existsSync(path))
    throw new Error(`promtool missing (${path}): it ships in Debian's prometheus package; run hack/setup.sh`);
  return path;
}
