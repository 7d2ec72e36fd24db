import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { CoreV1Api, KubeConfig, RbacAuthorizationV1Api, type V1PolicyRule } from '@kubernetes/client-node';
import { stringify } from 'yaml';
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

/**
 * The real kubectl against the tier's cluster, as its admin or as the user of `kubeconfig`; resolves
 * with its exit code instead of throwing.
 */
export async function kubectl(
  tier: Tier,
  args: string[],
  {
    timeoutMs = 120_000,
    kubeconfig = testEnv(tier).kubeconfig,
  }: { timeoutMs?: number; kubeconfig?: string } = {},
): Promise<KubectlResult> {
  try {
    const { stdout, stderr } = await run(locateTools().binaries.kubectl, args, {
      env: { ...process.env, KUBECONFIG: kubeconfig },
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

/**
 * A kubeconfig file (mode 0600) that authenticates as a ServiceAccount with a fresh token, for
 * proving what exactly that identity may and may not do. The ServiceAccount must exist.
 */
export async function serviceAccountKubeconfig(
  kc: KubeConfig,
  { namespace, name, file }: { namespace: string; name: string; file: string },
): Promise<string> {
  const token = await kc.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
    name,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const cluster = kc.getCurrentCluster();
  if (!cluster?.caFile || !token.status?.token)
    throw new Error(`no cluster CA or no token for the ServiceAccount ${namespace}/${name}`);
  writeFileSync(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        { name: 'local', cluster: { server: cluster.server, 'certificate-authority': cluster.caFile } },
      ],
      users: [{ name, user: { token: token.status.token } }],
      contexts: [{ name, context: { cluster: 'local', user: name, namespace } }],
      'current-context': name,
    }),
    { mode: 0o600 },
  );
  return file;
}

/** A Role in `namespace` with these rules, bound to a ServiceAccount of that namespace. */
export async function grantRole(
  kc: KubeConfig,
  {
    namespace,
    name,
    rules,
    serviceAccount,
  }: { namespace: string; name: string; rules: V1PolicyRule[]; serviceAccount: string },
): Promise<void> {
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  await rbac.createNamespacedRole({ namespace, body: { metadata: { name }, rules } });
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name: serviceAccount, namespace }],
    },
  });
}
