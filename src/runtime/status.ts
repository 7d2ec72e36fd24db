// Writes a custom resource's status through the /status subresource: only the difference, only when
// there is one, and only over the version that was read (resourceVersion), so two writers can never
// both win: the API server is the lock (a 409 Conflict sends the key back to the queue).
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { mergePatch } from './mergepatch.ts';

export interface StatusTarget {
  group: string;
  version: string;
  plural: string;
  namespace: string;
  name: string;
  resourceVersion: string | undefined;
}

export interface StatusWriter {
  /** Returns false when the status was already as wanted (nothing written). */
  write(target: StatusTarget, current: unknown, desired: unknown): Promise<boolean>;
}

export class KubeStatusWriter implements StatusWriter {
  private readonly api: CustomObjectsApi;
  private readonly fieldManager: string;

  constructor(kc: KubeConfig, fieldManager: string) {
    this.api = kc.makeApiClient(CustomObjectsApi);
    this.fieldManager = fieldManager;
  }

  async write(target: StatusTarget, current: unknown, desired: unknown): Promise<boolean> {
    const status = mergePatch(current ?? {}, desired);
    if (status === undefined) return false;
    const { group, version, plural, namespace, name, resourceVersion } = target;
    await this.api.patchNamespacedCustomObjectStatus(
      {
        group,
        version,
        plural,
        namespace,
        name,
        fieldManager: this.fieldManager,
        body: { metadata: resourceVersion ? { resourceVersion } : {}, status },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    return true;
  }
}
