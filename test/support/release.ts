// The chart in a real cluster: helm against the tier's API server, the ServiceAccount's own token,
// and the operator started as the chart's pod would run it (its flags, its mounted files).
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppsV1Api, CoreV1Api, type KubeConfig, type V1Deployment } from '@kubernetes/client-node';
import { CHART_DIR, helm, type HelmResult } from '../../hack/chart.ts';
import { REPO_ROOT } from '../../hack/localenv/tools.ts';
import { freePort } from '../../hack/localenv/wait.ts';
import { helmValueArgs } from './chart.ts';
import { kubectl, serviceAccountKubeconfig } from './kube.ts';
import { OperatorProcess } from './operator.ts';
import { testEnv, tierStateDir, type Tier } from './tiers.ts';

/** prometheus-operator's CRDs, as the stand-ins in test/fixtures (the real ones are not installed here). */
export async function installMonitoringCrds(tier: Tier): Promise<void> {
  const file = join(REPO_ROOT, 'test', 'fixtures', 'monitoring.coreos.com-crds.yaml');
  for (const args of [
    ['apply', '--server-side', '--force-conflicts', '-f', file],
    ['wait', '--for=condition=Established', '--timeout=60s', '-f', file],
  ]) {
    const result = await kubectl(tier, args);
    if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${result.stderr}`);
  }
}

/** helm with the tier's kubeconfig; throws with helm's output unless it succeeds. */
export async function helmIn(tier: Tier, args: string[]): Promise<HelmResult> {
  const result = await helm(args, { kubeconfig: testEnv(tier).kubeconfig });
  if (result.code !== 0) throw new Error(`helm ${args.join(' ')} failed (${result.code}):\n${result.stderr}`);
  return result;
}

/** `helm install` or `helm upgrade` of the chart, waiting until its Deployment is available. */
export function helmDeploy(
  tier: Tier,
  verb: 'install' | 'upgrade',
  release: string,
  namespace: string,
  values: object,
  { files = [] }: { files?: string[] } = {},
): Promise<HelmResult> {
  return helmIn(tier, [
    verb,
    release,
    CHART_DIR,
    '--namespace',
    namespace,
    ...helmValueArgs(values, { files }),
    '--wait',
    '--timeout',
    '120s',
  ]);
}

/**
 * A kubeconfig that authenticates as the release's ServiceAccount with a token of its own, so a
 * process run with it has exactly the permissions the chart gave that ServiceAccount.
 */
export function releaseKubeconfig(
  tier: Tier,
  kc: KubeConfig,
  namespace: string,
  name: string,
): Promise<string> {
  const file = join(tierStateDir(tier), `${namespace}-${name}.kubeconfig`);
  return serviceAccountKubeconfig(kc, { namespace, name, file });
}

/** The listen addresses are the pod's own; here every operator needs free loopback ports. */
const LOCAL_ONLY = /^--(health|webhook)-address=/;
const STATUS_PAGE_ADDRESS = '--status-page-address=';

let replicas = 0;

/**
 * Starts the operator the way the chart's Deployment runs it: the container's flags, with the files
 * of its Secret and ConfigMap volumes written under a local directory standing in for their mount
 * paths, the ServiceAccount's token instead of the pod's, and POD_NAME set. kwok runs no containers,
 * so this is the pod, as far as the API server can tell. With the chart's status page on, it listens
 * on a free loopback port instead of the container's: `statusPageUrl`.
 */
export async function startChartOperator(
  tier: Tier,
  kc: KubeConfig,
  deployment: V1Deployment,
  { extraArgs = [], name = 'chart' }: { extraArgs?: string[]; name?: string } = {},
): Promise<{ operator: OperatorProcess; podName: string; statusPageUrl?: string }> {
  const namespace = deployment.metadata?.namespace ?? '';
  const pod = deployment.spec?.template.spec;
  const container = pod?.containers[0];
  if (!pod || !container)
    throw new Error(`Deployment ${namespace}/${deployment.metadata?.name ?? ''} has no container`);
  const root = mkdtempSync(join(tmpdir(), 'selfheal-pod-'));
  const core = kc.makeApiClient(CoreV1Api);
  const mounts: [string, string][] = [];
  for (const mount of container.volumeMounts ?? []) {
    const volume = pod.volumes?.find((v) => v.name === mount.name);
    const files: Record<string, string> = {};
    if (volume?.secret?.secretName) {
      const secret = await core.readNamespacedSecret({ name: volume.secret.secretName, namespace });
      for (const [key, value] of Object.entries(secret.data ?? {}))
        files[key] = Buffer.from(value, 'base64').toString();
    } else if (volume?.configMap?.name) {
      const configMap = await core.readNamespacedConfigMap({ name: volume.configMap.name, namespace });
      Object.assign(files, configMap.data);
    } else {
      throw new Error(
        `volume ${mount.name} of ${namespace}/${deployment.metadata?.name ?? ''}: not a Secret or ConfigMap`,
      );
    }
    const items = volume.secret?.items ?? volume.configMap?.items;
    const dir = join(root, mount.mountPath);
    mkdirSync(dir, { recursive: true });
    for (const [key, text] of Object.entries(files)) {
      const path = items ? items.find((i) => i.key === key)?.path : key;
      if (path !== undefined) writeFileSync(join(dir, path), text, { mode: 0o600 });
    }
    mounts.push([mount.mountPath, dir]);
  }
  const local = (arg: string) =>
    mounts.reduce((a, [mountPath, dir]) => a.replace(`=${mountPath}/`, `=${dir}/`), arg);
  const serviceAccount = pod.serviceAccountName ?? 'default';
  const kubeconfig = await releaseKubeconfig(tier, kc, namespace, serviceAccount);
  const podName = `${deployment.metadata?.name ?? 'selfheal'}-local-${++replicas}`;
  const statusPage = container.args?.some((a) => a.startsWith(STATUS_PAGE_ADDRESS))
    ? `127.0.0.1:${await freePort()}`
    : undefined;
  const operator = await OperatorProcess.start(tier, {
    name: `${name}-${podName}`,
    args: [
      ...(container.args ?? [])
        .filter((a) => !LOCAL_ONLY.test(a))
        .map((a) =>
          statusPage && a.startsWith(STATUS_PAGE_ADDRESS) ? `${STATUS_PAGE_ADDRESS}${statusPage}` : a,
        )
        .map(local),
      `--kubeconfig=${kubeconfig}`,
      ...extraArgs,
    ],
    env: { POD_NAME: podName },
  });
  return {
    operator,
    podName,
    ...(statusPage ? { statusPageUrl: `http://${statusPage}/` } : {}),
  };
}

/** The Deployment as the API server holds it. */
export function readDeployment(kc: KubeConfig, namespace: string, name: string): Promise<V1Deployment> {
  return kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ name, namespace });
}

/**
 * An RBAC denial as the API server words it ("... is forbidden: User "system:serviceaccount:ns:name"
 * cannot list resource ..."), also with the quotes escaped, as it appears inside a JSON log line.
 * Other 403s (a namespace being deleted refuses new objects) are not about permissions.
 */
export const RBAC_DENIAL = /forbidden: User \\*"system:serviceaccount:[^"\\]+\\*" cannot /;

export const deniedByRbac = (operator: OperatorProcess): string[] =>
  readFileSync(operator.logFile, 'utf8')
    .split('\n')
    .filter((line) => RBAC_DENIAL.test(line));
