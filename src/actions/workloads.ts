// Reading and patching the workloads selfheal remediates, through client-node 2.x.
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import type { WorkloadKind } from '../api/group.ts';
import type { Workload } from '../verify/rollout.ts';

export interface TargetRef {
  namespace: string;
  kind: WorkloadKind;
  name: string;
}

/** The operator's view of workloads; one adapter talks to the API server. */
export interface WorkloadClient {
  /** The workload, or undefined when it does not exist. */
  read(target: TargetRef): Promise<Workload | undefined>;
  /** A strategic merge patch, as `kubectl` sends. */
  patch(target: TargetRef, body: object, fieldManager: string): Promise<void>;
  /** A namespace's annotations, or undefined when it does not exist. */
  namespaceAnnotations(namespace: string): Promise<Record<string, string> | undefined>;
}

const notFound = (error: unknown) => error instanceof ApiException && error.code === 404;

export class KubeWorkloadClient implements WorkloadClient {
  private readonly apps: AppsV1Api;
  private readonly core: CoreV1Api;

  constructor(kc: KubeConfig) {
    this.apps = kc.makeApiClient(AppsV1Api);
    this.core = kc.makeApiClient(CoreV1Api);
  }

  async read({ namespace, kind, name }: TargetRef): Promise<Workload | undefined> {
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
      if (notFound(error)) return undefined;
      throw error;
    }
  }

  async patch({ namespace, kind, name }: TargetRef, body: object, fieldManager: string): Promise<void> {
    const options = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);
    const request = { name, namespace, body, fieldManager };
    switch (kind) {
      case 'Deployment':
        await this.apps.patchNamespacedDeployment(request, options);
        return;
      case 'StatefulSet':
        await this.apps.patchNamespacedStatefulSet(request, options);
        return;
      case 'DaemonSet':
        await this.apps.patchNamespacedDaemonSet(request, options);
        return;
    }
  }

  async namespaceAnnotations(namespace: string): Promise<Record<string, string> | undefined> {
    try {
      return (await this.core.readNamespace({ name: namespace })).metadata?.annotations ?? {};
    } catch (error) {
      if (notFound(error)) return undefined;
      throw error;
    }
  }
}
