// The one adapter that writes workloads: strategic merge patches through client-node 2.x, each
// conditioned on the resourceVersion its caller checked.
import {
  ApiException,
  AppsV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import { FIELD_MANAGER } from './action.ts';
import {
  WorkloadConflictError,
  WorkloadGoneError,
  type TargetRef,
  type Workload,
  type WorkloadWriter,
} from './workload.ts';

const code = (error: unknown) => (error instanceof ApiException ? error.code : undefined);

export class KubeWorkloadWriter implements WorkloadWriter {
  private readonly apps: AppsV1Api;

  /** `kc` should be the leader's fenced, time-limited configuration (runtime/kube.ts). */
  constructor(kc: { makeApiClient: KubeConfig['makeApiClient'] }) {
    this.apps = kc.makeApiClient(AppsV1Api);
  }

  async patch(ref: TargetRef, body: object, resourceVersion: string): Promise<Workload> {
    const { namespace, kind, name } = ref;
    const conditioned = withResourceVersion(body, resourceVersion);
    const request = { name, namespace, body: conditioned, fieldManager: FIELD_MANAGER };
    const options = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);
    try {
      switch (kind) {
        case 'Deployment':
          return { kind, object: await this.apps.patchNamespacedDeployment(request, options) };
        case 'StatefulSet':
          return { kind, object: await this.apps.patchNamespacedStatefulSet(request, options) };
        case 'DaemonSet':
          return { kind, object: await this.apps.patchNamespacedDaemonSet(request, options) };
      }
    } catch (error) {
      if (code(error) === 409) throw new WorkloadConflictError(ref);
      if (code(error) === 404) throw new WorkloadGoneError(ref);
      throw error;
    }
  }

  async read(ref: TargetRef): Promise<Workload | undefined> {
    const { namespace, kind, name } = ref;
    try {
      switch (kind) {
        case 'Deployment':
          return { kind, object: await this.apps.readNamespacedDeployment({ name, namespace }) };
        case 'StatefulSet':
          return { kind, object: await this.apps.readNamespacedStatefulSet({ name, namespace }) };
        case 'DaemonSet':
          return { kind, object: await this.apps.readNamespacedDaemonSet({ name, namespace }) };
      }
    } catch (error) {
      if (code(error) === 404) return undefined;
      throw error;
    }
  }
}

/** The patch with metadata.resourceVersion set: the API server applies it only to that version. */
function withResourceVersion(body: object, resourceVersion: string): object {
  const metadata = (body as { metadata?: object }).metadata ?? {};
  return { ...body, metadata: { ...metadata, resourceVersion } };
}
