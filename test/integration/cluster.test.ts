import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Deployment,
} from '@kubernetes/client-node';
import { createTestNamespace, kubeConfigFor, kubectl } from '../support/kube.ts';
import { eventually } from '../../hack/localenv/wait.ts';

// Proof that the control plane the tests run against is real: the scheduler places pods on kwok
// nodes, the controller-manager rolls Deployments out, and RBAC is enforced.
const kc = kubeConfigFor('integration');
const apps = kc.makeApiClient(AppsV1Api);
const core = kc.makeApiClient(CoreV1Api);
let namespace: string;

beforeAll(async () => {
  namespace = await createTestNamespace(kc, 'cluster');
});
afterAll(async () => {
  await core.deleteNamespace({ name: namespace });
});

function deployment(name: string, replicas: number): V1Deployment {
  const labels = { app: name };
  return {
    metadata: { name, labels },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: 'app', image: 'registry.invalid/app:1' }] },
      },
    },
  };
}

const replicaSetsOf = async (name: string) =>
  (await apps.listNamespacedReplicaSet({ namespace, labelSelector: `app=${name}` })).items;

describe('local control plane', () => {
  it('makes a 2-replica Deployment Available on kwok nodes', async () => {
    await apps.createNamespacedDeployment({ namespace, body: deployment('web', 2) });
    const available = await eventually('Deployment web Available with 2 replicas', async () => {
      const d = await apps.readNamespacedDeployment({ name: 'web', namespace });
      const condition = d.status?.conditions?.find((c) => c.type === 'Available');
      return condition?.status === 'True' && d.status?.availableReplicas === 2 && d;
    });
    expect(available.status?.readyReplicas).toBe(2);
    const pods = await core.listNamespacedPod({ namespace, labelSelector: 'app=web' });
    expect(pods.items).toHaveLength(2);
    for (const pod of pods.items) {
      expect(pod.spec?.nodeName).toMatch(/^kwok-node-/);
      expect(pod.status?.phase).toBe('Running');
    }
  });

  it('rolls a Deployment out again after the restartedAt patch, as kubectl rollout restart does', async () => {
    const name = 'api';
    await apps.createNamespacedDeployment({ namespace, body: deployment(name, 2) });
    expect(
      (
        await kubectl('integration', [
          '-n',
          namespace,
          'rollout',
          'status',
          `deployment/${name}`,
          '--timeout=60s',
        ])
      ).code,
    ).toBe(0);
    const before = await replicaSetsOf(name);
    expect(before).toHaveLength(1);

    const restartedAt = new Date().toISOString();
    await apps.patchNamespacedDeployment(
      {
        name,
        namespace,
        fieldManager: 'selfheal-test',
        body: {
          spec: {
            template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': restartedAt } } },
          },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );

    // kubectl's own rules decide that the rollout completed.
    const status = await kubectl('integration', [
      '-n',
      namespace,
      'rollout',
      'status',
      `deployment/${name}`,
      '--timeout=90s',
    ]);
    expect(status.stderr).toBe('');
    expect(status.code).toBe(0);
    expect(status.stdout).toContain('successfully rolled out');

    const after = await replicaSetsOf(name);
    expect(after).toHaveLength(2);
    const newest = after.find((rs) => !before.some((old) => old.metadata?.uid === rs.metadata?.uid));
    expect(newest?.spec?.template?.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt']).toBe(
      restartedAt,
    );
    expect(newest?.status?.readyReplicas).toBe(2);
    const old = after.find((rs) => rs !== newest);
    expect(old?.spec?.replicas).toBe(0);
  });

  it('refuses a ServiceAccount that no RoleBinding grants anything (RBAC is on)', async () => {
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'nobody' } } });
    const tokenRequest = await core.createNamespacedServiceAccountToken({
      name: 'nobody',
      namespace,
      body: { spec: { audiences: [], expirationSeconds: 600 } },
    });
    const token = tokenRequest.status?.token;
    expect(token).toBeTruthy();

    const nobody = new KubeConfig();
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    nobody.loadFromOptions({
      clusters: [cluster],
      users: [{ name: 'nobody', token }],
      contexts: [{ name: 'nobody', cluster: cluster.name, user: 'nobody' }],
      currentContext: 'nobody',
    });
    const asNobody = nobody.makeApiClient(CoreV1Api);
    const refusal = await asNobody.listNamespacedPod({ namespace }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refusal).toBeInstanceOf(ApiException);
    const apiError = refusal as ApiException<string>;
    expect(apiError.code).toBe(403);
    expect(apiError.body).toContain(`system:serviceaccount:${namespace}:nobody`);
  });
});
